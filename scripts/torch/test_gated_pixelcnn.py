# Self-test of the PyTorch reference model (scripts/torch/gated_pixelcnn.py).
#
# Run: python3 scripts/torch/test_gated_pixelcnn.py   (plain asserts, no pytest)
# Checks, with random weights (every parameter, biases included, re-drawn so nothing is
# zero): the SPEC §8 tensor names and shapes; offset conv and head against the literal
# SPEC §3/§4 formulas; the exact SPEC §5 dependency set of the
# logits, via autograd w.r.t. x̃ in float64 (no leak and no blind spot); NLL against a
# direct log-softmax sum; and that a save/load round-trip gives identical logits.
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gated_pixelcnn import GatedPixelCNN, load_checkpoint, naive_sample, offset_conv, save_checkpoint  # noqa: E402

BASE = dict(levels=4, hidden=6, skip=5, headHidden=7, classes=0, condDim=0, spatialCond=0)
CONFIGS = [
    dict(BASE, channels=1, height=9, width=8, firstKernel=7, kernel=3, layers=3, classes=4),
    dict(BASE, channels=3, height=7, width=7, firstKernel=3, kernel=5, layers=2, condDim=3),
    dict(BASE, channels=1, height=12, width=10, firstKernel=5, kernel=3, layers=4, spatialCond=2),
    dict(BASE, channels=3, height=6, width=9, firstKernel=5, kernel=3, layers=3, levels=5,
         classes=3, condDim=2, spatialCond=2),
]
results = {'passed': 0, 'failed': 0}


def check(name, fn):
    try:
        fn()
        results['passed'] += 1
        print(f'ok   {name}')
    except AssertionError as e:
        results['failed'] += 1
        print(f'FAIL {name}: {e}')


def random_model(cfg, seed=0):
    """Every parameter random and nonzero. The ReLU inputs are kept provably positive (a dead
    ReLU would zero whole gradients and fake a blind spot): each block's skip bias exceeds
    its weights' row sums (|g| < 1), and head.hidden has positive weights and a bias above
    the largest |head.prev| term (|x̃| ≤ 1)."""
    torch.manual_seed(seed)
    model = GatedPixelCNN(cfg).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.6)
        for block in model.blocks:
            block.skip.bias.abs_().add_(block.skip.weight.abs().sum((1, 2, 3)))
        head = model.head
        head.hidden.weight.abs_()
        prev = head.prev.abs().sum((1, 2)) if cfg['channels'] > 1 else 0
        head.hidden.bias.abs_().add_(prev)
    return model


def cond_inputs(cfg, B, seed=1):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, cfg['classes'], (B,), generator=g) if cfg['classes'] else None
    vectors = torch.randn(B, cfg['condDim'], generator=g, dtype=torch.float64) if cfg['condDim'] else None
    spatial = (torch.randn(B, cfg['spatialCond'], cfg['height'], cfg['width'], generator=g,
                           dtype=torch.float64) if cfg['spatialCond'] else None)
    return labels, vectors, spatial


def expected_names(cfg):
    C, K, p, s, q = cfg['channels'], cfg['levels'], cfg['hidden'], cfg['skip'], cfg['headHidden']
    r0, r = cfg['firstKernel'] // 2, cfg['kernel'] // 2
    out = {}
    for l in range(cfg['layers']):
        cin, vk, hk = (C, (r0, 2 * r0 + 1), r0) if l == 0 else (p, (r + 1, 2 * r + 1), r + 1)
        b = f'blocks.{l}.'
        out.update({b + 'v.weight': [2 * p, cin, *vk], b + 'v.bias': [2 * p],
                    b + 'h.weight': [2 * p, cin, 1, hk], b + 'h.bias': [2 * p],
                    b + 'vh.weight': [2 * p, 2 * p, 1, 1], b + 'vh.bias': [2 * p],
                    b + 'res.weight': [p, p, 1, 1], b + 'res.bias': [p],
                    b + 'skip.weight': [s, p, 1, 1], b + 'skip.bias': [s]})
        for z in 'vh':
            if cfg['classes']:
                out[b + f'class_{z}.weight'] = [cfg['classes'], 2 * p]
            if cfg['condDim']:
                out[b + f'cond_{z}.weight'] = [2 * p, cfg['condDim']]
            if cfg['spatialCond']:
                out[b + f'spatial_{z}.weight'] = [2 * p, cfg['spatialCond'], 1, 1]
    out.update({'head.hidden.weight': [q, s, 1, 1], 'head.hidden.bias': [q],
                'head.out.weight': [C * K, q, 1, 1], 'head.out.bias': [C * K]})
    if C > 1:
        out['head.prev'] = [q, C, C]
    return out


def test_names(cfg):
    got = {k: list(v.shape) for k, v in GatedPixelCNN(cfg).state_dict().items()}
    assert got == expected_names(cfg), f'state_dict mismatch: {got}'


def test_offset_conv():
    g = torch.Generator().manual_seed(3)
    t = torch.randn(1, 2, 5, 6, generator=g, dtype=torch.float64)
    for kh, kw, dy, dx in [(3, 7, 3, 3), (1, 3, 0, 3), (2, 3, 1, 1), (1, 2, 0, 1)]:
        conv = torch.nn.Conv2d(2, 3, (kh, kw)).double()
        W, b = conv.weight, conv.bias
        want = torch.zeros(1, 3, 5, 6, dtype=torch.float64)
        for o in range(3):
            for i in range(5):
                for j in range(6):
                    want[0, o, i, j] = b[o] + sum(W[o, c, a, e] * t[0, c, i - dy + a, j - dx + e]
                                                  for c in range(2) for a in range(kh) for e in range(kw)
                                                  if 0 <= i - dy + a < 5 and 0 <= j - dx + e < 6)
        got = offset_conv(t, conv, dy, dx)
        assert torch.allclose(got, want, atol=1e-12), (kh, kw, dy, dx)


def test_head(cfg):
    model = random_model(cfg, seed=2)
    head, C, K = model.head, cfg['channels'], cfg['levels']
    with torch.no_grad():
        head.hidden.bias.sub_(2)  # let some ReLUs be dead here
    g = torch.Generator().manual_seed(4)
    skip = torch.randn(2, cfg['skip'], 3, 4, generator=g, dtype=torch.float64)
    xt = torch.rand(2, C, 3, 4, generator=g, dtype=torch.float64) * 2 - 1
    z_s = torch.einsum('qs,bshw->bqhw', head.hidden.weight[:, :, 0, 0], skip.relu()) + head.hidden.bias[:, None, None]
    for c in range(C):
        z = z_s + sum((head.prev[:, c, d, None, None] * xt[:, d, None] for d in range(c)), torch.zeros_like(z_s))
        rows = slice(c * K, c * K + K)
        want = (torch.einsum('kq,bqhw->bkhw', head.out.weight[rows, :, 0, 0], z.relu())
                + head.out.bias[rows, None, None])
        assert torch.allclose(head(skip, xt)[:, c], want, atol=1e-12), c


def test_causality(cfg):
    C, H, W = cfg['channels'], cfg['height'], cfg['width']
    R = cfg['firstKernel'] // 2 + (cfg['layers'] - 1) * (cfg['kernel'] // 2)
    model = random_model(cfg)
    labels, vectors, spatial = cond_inputs(cfg, 1)
    xt = (torch.rand(1, C, H, W, dtype=torch.float64) * 2 - 1).requires_grad_()
    logits = model.forward_unit(xt, labels, vectors, spatial)
    proj = torch.randn(cfg['levels'], dtype=torch.float64)
    points = {(0, 0), (0, W - 1), (H - 1, 0), (H - 1, W - 1), (H // 2, W // 2), (R, 1), (1, W - 2)}
    for i, j in sorted(points):
        for c in range(C):
            (grad,) = torch.autograd.grad((logits[0, c, :, i, j] * proj).sum(), xt, retain_graph=True)
            want = torch.zeros(C, H, W, dtype=torch.bool)
            want[:, max(i - R, 0):i, max(j - R, 0):j + R + 1] = True
            want[:, i, max(j - R, 0):j] = True
            want[:c, i, j] = True
            got = grad[0] != 0
            leak, blind = (got & ~want).nonzero().tolist(), (want & ~got).nonzero().tolist()
            assert not leak, f'({c},{i},{j}) depends on {leak}'
            assert not blind, f'({c},{i},{j}) blind to {blind}'


def test_nll(cfg):
    model = random_model(cfg)
    B = 3
    labels, vectors, spatial = cond_inputs(cfg, B)
    x = torch.randint(0, cfg['levels'], (B, cfg['channels'], cfg['height'], cfg['width']))
    logits = model(x, labels, vectors, spatial)
    assert list(logits.shape) == [B, cfg['channels'], cfg['levels'], cfg['height'], cfg['width']]
    logp = torch.log_softmax(logits, dim=2).gather(2, x[:, :, None]).squeeze(2)
    want = -logp.sum((1, 2, 3))
    got = model.nll(x, labels, vectors, spatial)
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-10), (got, want)


def test_roundtrip(cfg):
    model = random_model(cfg).float()
    labels, vectors, spatial = cond_inputs(cfg, 2)
    vectors = vectors.float() if vectors is not None else None
    spatial = spatial.float() if spatial is not None else None
    x = torch.randint(0, cfg['levels'], (2, cfg['channels'], cfg['height'], cfg['width']))
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'model.safetensors')
        save_checkpoint(model, cfg, path)
        loaded, config = load_checkpoint(path)
    assert config == model.config, (config, model.config)
    with torch.no_grad():
        a, b = model(x, labels, vectors, spatial), loaded(x, labels, vectors, spatial)
    assert torch.equal(a, b), 'logits differ after save/load'


def test_sample(cfg):
    model = random_model(cfg)
    labels, vectors, spatial = cond_inputs(cfg, 2)
    s1, s2 = (naive_sample(model, 2, labels, 0.8, torch.Generator().manual_seed(5), vectors, spatial)
              for _ in range(2))
    assert s1.shape == (2, cfg['channels'], cfg['height'], cfg['width']) and s1.dtype == torch.uint8
    assert int(s1.max()) < cfg['levels'] and torch.equal(s1, s2)


check('offset convolution formula (SPEC §3)', test_offset_conv)
for n, cfg in enumerate(CONFIGS):
    tag = f'config {n} (C={cfg["channels"]} n0={cfg["firstKernel"]} n={cfg["kernel"]} L={cfg["layers"]} ' \
          f'{cfg["height"]}x{cfg["width"]})'
    check(f'{tag}: tensor names and shapes', lambda: test_names(cfg))
    check(f'{tag}: causality (SPEC §5)', lambda: test_causality(cfg))
    check(f'{tag}: head formula (SPEC §4)', lambda: test_head(cfg))
    check(f'{tag}: nll', lambda: test_nll(cfg))
    check(f'{tag}: save/load round-trip', lambda: test_roundtrip(cfg))
check('naive sampling is reproducible', lambda: test_sample(CONFIGS[3]))
print(f'{results["passed"]} passed, {results["failed"]} failed')
sys.exit(1 if results['failed'] else 0)
