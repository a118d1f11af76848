# PyTorch peer benchmark for gated-pixelcnn (model: scripts/torch/gated_pixelcnn.py).
#
#   python3 scripts/torch/bench.py train  --config '<json>' [--batch 32] [--seconds 5 | --steps N] [--threads 2]
#   python3 scripts/torch/bench.py sample --config '<json>' [--batch 8] [--positions 28] [--threads 2]
#
# train: steps of forward + mean-over-batch NLL + backward + Adam (lr 1e-3) on random
#   levels (and random labels when classes > 0; random vectors / spatial maps when
#   configured), timed after 2 warm-up steps for at least --seconds.
# sample: naive sampling (one full forward + one categorical draw per position) of the
#   first --positions positions, timed after one warm-up forward, extrapolated linearly to
#   all C·H·W positions (every position costs the same full forward).
# Both report `rssGrowthBytes`: the process's peak resident memory over its resident
# memory before the model was made (torch imported; Linux: /proc's VmHWM, reset then, as
# getrusage's maxrss would report the parent's RSS at the fork when that was higher), and on a GPU `peakAllocatedBytes` and
# `peakReservedBytes` (torch.cuda.max_memory_allocated / max_memory_reserved).
# Prints one JSON line; `cpuPerWall` (process CPU seconds / wall seconds of the timed part,
# ideally ≈ threads) and `loadavg` show whether other processes competed for the cores.
import argparse
import json
import os
import re
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gated_pixelcnn import GatedPixelCNN, naive_sample  # noqa: E402


def random_inputs(cfg, batch, gen, device='cpu'):
    """Drawn on the host (as our benchmark's inputs are) and moved to `device`."""
    C, H, W = cfg['channels'], cfg['height'], cfg['width']
    x = torch.randint(0, cfg['levels'], (batch, C, H, W), generator=gen)
    labels = torch.randint(0, cfg['classes'], (batch,), generator=gen) if cfg['classes'] else None
    vectors = torch.randn(batch, cfg['condDim'], generator=gen) if cfg['condDim'] else None
    spatial = torch.randn(batch, cfg['spatialCond'], H, W, generator=gen) if cfg['spatialCond'] else None
    return tuple(t.to(device) if t is not None else None for t in (x, labels, vectors, spatial))


def resident_bytes():
    """The process's resident memory now (Linux)."""
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def reset_peak_resident():
    with open('/proc/self/clear_refs', 'w') as clear_refs:
        clear_refs.write('5')


def peak_resident_bytes():
    """The process's peak resident memory since reset_peak_resident() (Linux)."""
    with open('/proc/self/status') as status:
        return 1024 * int(re.search(r'^VmHWM:\s+(\d+) kB$', status.read(), re.M).group(1))


def synchronize(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def train(model, args, gen):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = model.nll(*random_inputs(model.config, args.batch, gen, args.device)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2):
        step()
    synchronize(args.device)
    steps, start, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        step()
        steps += 1
        synchronize(args.device)
        elapsed = time.perf_counter() - start
        if (steps >= args.steps) if args.steps else (elapsed >= args.seconds):
            break
    return {'mode': 'train', 'imagesPerSecond': steps * args.batch / elapsed, 'steps': steps,
            'seconds': elapsed, 'cpuPerWall': (time.process_time() - cpu) / elapsed, 'batch': args.batch, 'threads': torch.get_num_threads(),
            'device': args.device}


def sample(model, args, gen):
    cfg = model.config
    total = cfg['channels'] * cfg['height'] * cfg['width']
    positions = min(args.positions, total)
    _, labels, vectors, spatial = random_inputs(cfg, args.batch, gen, args.device)
    draws = torch.Generator(device=args.device).manual_seed(args.seed)  # multinomial draws on the model's device
    naive_sample(model, args.batch, labels, 1.0, draws, vectors, spatial, positions=1)  # warm-up
    synchronize(args.device)
    start, cpu = time.perf_counter(), time.process_time()
    naive_sample(model, args.batch, labels, 1.0, draws, vectors, spatial, positions=positions)
    synchronize(args.device)
    measured = time.perf_counter() - start
    per_batch = measured * total / positions
    return {'mode': 'sample', 'imagesPerSecond': args.batch / per_batch, 'secondsPerImageBatch': per_batch,
            'measuredPositions': positions, 'totalPositions': total, 'measuredSeconds': measured,
            'cpuPerWall': (time.process_time() - cpu) / measured,
            'batch': args.batch, 'threads': torch.get_num_threads(), 'device': args.device,
            'extrapolation': f'naive sampler: time of the first {positions} positions '
                             f'x {total}/{positions} (one full forward per position)'}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('mode', choices=['train', 'sample'])
    ap.add_argument('--config', required=True, help='SPEC §2 configuration as JSON')
    ap.add_argument('--batch', type=int)
    ap.add_argument('--seconds', type=float, default=5.0)
    ap.add_argument('--steps', type=int, help='train: exactly this many timed steps instead of --seconds (for profilers)')
    ap.add_argument('--positions', type=int, default=28)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--device', default='cpu', help="cpu or cuda (eager, cuDNN, PyTorch's default TF32 settings)")
    args = ap.parse_args()
    args.batch = args.batch or (32 if args.mode == 'train' else 8)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    reset_peak_resident()
    resident_before = resident_bytes()
    model = GatedPixelCNN(json.loads(args.config)).to(args.device)
    if args.mode == 'train':
        result = train(model.train(), args, gen)
    else:
        with torch.no_grad():
            result = sample(model.eval(), args, gen)
    result['rssGrowthBytes'] = peak_resident_bytes() - resident_before
    if args.device.startswith('cuda'):
        result['peakAllocatedBytes'] = torch.cuda.max_memory_allocated()
        result['peakReservedBytes'] = torch.cuda.max_memory_reserved()
    result['torch'] = torch.__version__
    if hasattr(os, 'getloadavg'):
        result['loadavg'] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(result))


if __name__ == '__main__':
    main()
