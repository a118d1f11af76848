# PyTorch reference implementation of the Conditional Gated PixelCNN of docs/SPEC.md.
#
# A peer for benchmarks and an independent reference for parity tests of the
# TypeScript/C++ library: the same function (offset convolutions via asymmetric
# padding, no masks; gated blocks; class / vector / spatial conditioning; the head with
# the previous-channel term), state_dict() keys equal to the SPEC §8 tensor names, and a
# dependency-free safetensors reader/writer for the checkpoint format. Also a naive
# sampler (one full forward per position, SPEC §7).
#
# Initialization (not fixed by the SPEC): PyTorch's defaults for convolutions and
# linear maps; class tables and head.prev start at zero.
import ctypes
import json
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIG_KEYS = ['channels', 'height', 'width', 'levels', 'hidden', 'layers', 'firstKernel',
               'kernel', 'skip', 'headHidden', 'classes', 'condDim', 'spatialCond']
DEFAULTS = dict(levels=256, hidden=64, layers=5, firstKernel=7, kernel=3, headHidden=32,
                classes=0, condDim=0, spatialCond=0)


def resolve_config(config):
    """Fill SPEC §2 defaults (as src/nn/config.ts does; skip defaults to hidden) and check keys."""
    unknown = set(config) - set(CONFIG_KEYS)
    if unknown:
        raise ValueError(f'unknown configuration keys: {sorted(unknown)}')
    cfg = {**DEFAULTS, 'skip': config.get('hidden', DEFAULTS['hidden']), **config}
    missing = [k for k in CONFIG_KEYS if k not in cfg]
    if missing:
        raise ValueError(f'missing configuration keys: {missing}')
    for k in ('firstKernel', 'kernel'):
        if cfg[k] < 3 or cfg[k] % 2 == 0:
            raise ValueError(f'{k} must be odd and >= 3')
    if not 2 <= cfg['levels'] <= 256:
        raise ValueError('levels must be in 2..256')
    return {k: int(cfg[k]) for k in CONFIG_KEYS}


def offset_conv(t, conv, dy, dx):
    """SPEC §3: out[i,j] = b + sum W[a,e] t[i-dy+a, j-dx+e], zeros outside (negative pads crop)."""
    kh, kw = conv.weight.shape[2:]
    return conv(F.pad(t, (dx, kw - 1 - dx, dy, kh - 1 - dy)))


def gate(a):
    p = a.shape[1] // 2
    return torch.tanh(a[:, :p]) * torch.sigmoid(a[:, p:])


class GatedBlock(nn.Module):
    def __init__(self, cfg, first):
        super().__init__()
        p, s = cfg['hidden'], cfg['skip']
        cin = cfg['channels'] if first else p
        if first:
            r0 = cfg['firstKernel'] // 2
            vk, hk, self.voff, self.hoff = (r0, 2 * r0 + 1), (1, r0), (r0, r0), (0, r0)
        else:
            r = cfg['kernel'] // 2
            vk, hk, self.voff, self.hoff = (r + 1, 2 * r + 1), (1, r + 1), (r, r), (0, r)
        self.first = first
        self.v = nn.Conv2d(cin, 2 * p, vk)
        self.h = nn.Conv2d(cin, 2 * p, hk)
        self.vh = nn.Conv2d(2 * p, 2 * p, 1)
        self.res = nn.Conv2d(p, p, 1)
        self.skip = nn.Conv2d(p, s, 1)
        n, d, S = cfg['classes'], cfg['condDim'], cfg['spatialCond']
        if n > 0:
            self.class_v, self.class_h = nn.Embedding(n, 2 * p), nn.Embedding(n, 2 * p)
            nn.init.zeros_(self.class_v.weight)
            nn.init.zeros_(self.class_h.weight)
        if d > 0:
            self.cond_v, self.cond_h = nn.Linear(d, 2 * p, bias=False), nn.Linear(d, 2 * p, bias=False)
        if S > 0:
            self.spatial_v = nn.Conv2d(S, 2 * p, 1, bias=False)
            self.spatial_h = nn.Conv2d(S, 2 * p, 1, bias=False)

    def cond(self, z, labels, vectors, spatial):
        """c_z of SPEC §3 (broadcastable to [B, 2p, H, W]), or 0 when nothing is configured."""
        c = 0
        if hasattr(self, 'class_' + z):
            c = c + getattr(self, 'class_' + z)(labels)[:, :, None, None]
        if hasattr(self, 'cond_' + z):
            c = c + getattr(self, 'cond_' + z)(vectors)[:, :, None, None]
        if hasattr(self, 'spatial_' + z):
            c = c + getattr(self, 'spatial_' + z)(spatial)
        return c

    def forward(self, v_in, h_in, labels, vectors, spatial):
        u_v = offset_conv(v_in, self.v, *self.voff)
        u_h = offset_conv(h_in, self.h, *self.hoff)
        v_out = gate(u_v + self.cond('v', labels, vectors, spatial))
        g = gate(u_h + self.vh(u_v) + self.cond('h', labels, vectors, spatial))
        h_out = self.res(g) if self.first else h_in + self.res(g)
        return v_out, h_out, self.skip(g)


class Head(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, K, q = cfg['channels'], cfg['levels'], cfg['headHidden']
        self.C = C
        self.hidden = nn.Conv2d(cfg['skip'], q, 1)
        if C > 1:
            self.prev = nn.Parameter(torch.zeros(q, C, C))
        # Weight [C·K, q, 1, 1]: channel c's logits read only z_c (groups=C over [z_0 … z_{C-1}]).
        self.out = nn.Conv2d(C * q, C * K, 1, groups=C)

    def forward(self, skip, xt):
        z_s = self.hidden(F.relu(skip))                        # [B, q, H, W]
        B, q, H, W = z_s.shape
        z = z_s[:, None].expand(B, self.C, q, H, W)
        if self.C > 1:
            prev = self.prev * torch.ones(self.C, self.C, dtype=xt.dtype, device=xt.device).tril(-1)
            z = z + torch.einsum('qcd,bdhw->bcqhw', prev, xt)  # Σ_{c'<c} prev[:, c, c'] x̃[c']
        logits = self.out(F.relu(z).reshape(B, self.C * q, H, W))
        return logits.view(B, self.C, -1, H, W)


class GatedPixelCNN(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = resolve_config(config)
        L = self.config['layers']
        self.blocks = nn.ModuleList(GatedBlock(self.config, l == 0) for l in range(L))
        self.head = Head(self.config)

    def to_unit(self, x):
        """Levels {0…K-1} -> x̃ = 2x/(K-1) - 1 in the parameters' dtype."""
        dtype = self.head.out.weight.dtype
        return 2 * x.to(dtype) / (self.config['levels'] - 1) - 1

    def forward_unit(self, xt, labels=None, vectors=None, spatial=None):
        """Logits [B, C, K, H, W] from x̃ floats [B, C, H, W]."""
        if self.config['classes'] > 0 and labels is None:
            raise ValueError('this model is class-conditional: labels are required')
        if labels is not None:
            labels = torch.as_tensor(labels, dtype=torch.long, device=xt.device)
        v = h = xt
        skip = 0
        for block in self.blocks:
            v, h, s = block(v, h, labels, vectors, spatial)
            skip = skip + s
        return self.head(skip, xt)

    def forward(self, x, labels=None, vectors=None, spatial=None):
        return self.forward_unit(self.to_unit(x), labels, vectors, spatial)

    def nll(self, x, labels=None, vectors=None, spatial=None):
        """Per-image negative log-likelihood in nats [B] (SPEC §6)."""
        logits = self(x, labels, vectors, spatial)
        return F.cross_entropy(logits.transpose(1, 2), x.long(), reduction='none').sum((1, 2, 3))


# ---- safetensors checkpoints (SPEC §8) -------------------------------------------------

_DTYPES = {'F32': torch.float32, 'F64': torch.float64, 'F16': torch.float16,
           'BF16': torch.bfloat16, 'I32': torch.int32, 'I64': torch.int64, 'U8': torch.uint8}


def read_safetensors(path):
    """(tensors, metadata) of a safetensors file; little-endian host assumed."""
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop('__metadata__', {}) or {}
    base, tensors = 8 + n, {}
    for name, info in header.items():
        begin, end = info['data_offsets']
        dtype = _DTYPES[info['dtype']]
        buf = bytearray(data[base + begin:base + end])
        t = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info['shape'])
    return tensors, meta


def _bytes(t):
    t = t.detach().cpu().contiguous()
    return ctypes.string_at(t.data_ptr(), t.numel() * t.element_size()) if t.numel() else b''


def read_raw(path, dtype, count):
    """`count` values of `dtype` from a raw little-endian file (the parity scripts' inputs)."""
    with open(path, 'rb') as f:
        data = bytearray(f.read())
    t = torch.frombuffer(data, dtype=dtype)  # little-endian host assumed
    if t.numel() != count:
        raise SystemExit(f'{path}: expected {count} values of {dtype}, found {t.numel()}')
    return t


def write_safetensors(path, tensors, metadata):
    header, offset = {'__metadata__': metadata}, 0
    blobs = []
    for name, t in tensors.items():
        blob = _bytes(t.float())
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))


def load_checkpoint(path):
    """(model, config) from a SPEC §8 checkpoint; `optimizer.*` tensors are ignored."""
    tensors, meta = read_safetensors(path)
    if meta.get('format') != 'gated-pixelcnn':
        raise ValueError(f'{path}: not a gated-pixelcnn checkpoint (format {meta.get("format")!r})')
    config = resolve_config(json.loads(meta['config']))
    model = GatedPixelCNN(config)
    model.load_state_dict({k: v.float() for k, v in tensors.items() if not k.startswith('optimizer.')},
                          strict=True)
    return model, model.config


def save_checkpoint(model, config, path):
    config = resolve_config(config)
    write_safetensors(path, dict(model.state_dict()),
                      {'format': 'gated-pixelcnn', 'version': '1', 'config': json.dumps(config)})


# ---- sampling (SPEC §7) ----------------------------------------------------------------

@torch.no_grad()
def naive_sample(model, count, labels=None, temperature=1.0, generator=None,
                 vectors=None, spatial=None, positions=None):
    """Levels [count, C, H, W] uint8, one full forward per position in raster order,
    channel by channel. `positions` (for benchmarks) stops after that many positions."""
    cfg = model.config
    C, H, W = cfg['channels'], cfg['height'], cfg['width']
    device = model.head.out.weight.device
    x = torch.zeros(count, C, H, W, dtype=torch.long, device=device)
    total = C * H * W if positions is None else min(positions, C * H * W)
    for n in range(total):
        i, j, c = n // (W * C), (n // C) % W, n % C
        logits = model(x, labels, vectors, spatial)[:, c, :, i, j]
        probs = torch.softmax(logits.double() / temperature, dim=1)
        x[:, c, i, j] = torch.multinomial(probs, 1, generator=generator)[:, 0]
    return x.to(torch.uint8)
