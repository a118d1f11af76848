# Training-parity CLI: N training steps of a gated-pixelcnn checkpoint, taken by the
# PyTorch reference model (scripts/torch/gated_pixelcnn.py) in float64 with PyTorch's own
# optimizer, clipping and weight averaging, as the README documents the Trainer's step:
#
#   loss      the batch's mean per-image NLL in nats (what TrainingStep differentiates and
#             metrics.jsonl logs as `loss`)
#   clipping  torch.nn.utils.clip_grad_norm_ over every parameter's gradient (--clip)
#   update    torch.optim.Adam (L2 penalty added to the gradient) or torch.optim.AdamW
#             (decoupled decay), weight decay on every parameter (the project decays all
#             of them, biases, class tables and head.prev included: src/optim/adam.ts)
#   lr        set on the optimizer before each step from the documented schedule (below)
#   average   torch.optim.swa_utils.AveragedModel (--ema), the README's moving average
#
#   python3 scripts/torch/train_steps.py --checkpoint model.safetensors --batches x.u8 \
#       [--labels y.i32] --steps N --batch-size B [--decoupled] [--lr 1e-3] [--beta1 0.9] \
#       [--beta2 0.999] [--eps 1e-8] [--weight-decay 0] [--clip MAXNORM] \
#       [--schedule constant|cosine|step] [--warmup 0] [--final-fraction 0.01] \
#       [--step-size 1000] [--gamma 0.5] [--total-steps T] [--ema DECAY] \
#       --weights-out out.safetensors [--average-out avg.safetensors]
#   python3 scripts/torch/train_steps.py --each runs.json
#
# --each: runs.json holds a JSON list of argument lists, each run in turn as above (one
# torch import for all: the import takes most of a run's time), one JSON line printed each.
#
# --batches: raw uint8 levels [N, B, C, H, W] (step-major: step s uses images s·B … s·B+B−1,
# each [C, H, W] row-major, as the Trainer's batch of step s+1 holds them); --labels: raw
# int32 little-endian [N, B] in the same order (required when the model has classes > 0).
# --weights-out (and --average-out, the averaged weights, with --ema) are SPEC §8
# safetensors files (F32, the checkpoint's config). Prints one JSON line a run:
#   {"loss": [N per-step mean NLL before the step's update], "lr": [N rates used],
#    "grad_norm": [N global gradient norms before clipping], "clipped": [N booleans]}
# Models with condDim / spatialCond are not supported by this CLI.
#
# The learning rate of 1-based step t (src/optim/schedule.ts; the README names the
# schedules and their fields, this is their formula), base rate lr, W warm-up steps,
# T = --total-steps (the run's budget in steps; default N):
#   t ≤ W:     lr·t/W                                   (linear warm-up, first step lr/W)
#   constant:  lr
#   cosine:    f + (lr − f)·(1 + cos(π·min(1, (t − W)/max(1, T − W))))/2,  f = lr·final_fraction
#   step:      lr·gamma^floor((t − W)/step_size)
# It is computed here per step rather than by torch's LR schedulers, which do not produce
# it: CosineAnnealingLR (or SequentialLR after a LinearLR warm-up) is at the base rate on
# the first step after warm-up, where this schedule is already at progress 1/(T − W).
#
# The moving average (--ema d): AveragedModel copies the initial weights (its first
# update_parameters), then after step t (0-based count of earlier updates, n = t + 1
# averaged so far) average = d′·average + (1 − d′)·weight, d′ = min(d, (1 + t)/(10 + t)).
import argparse
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gated_pixelcnn import load_checkpoint, read_raw, save_checkpoint  # noqa: E402


def learning_rate(args, step, total):
    """The documented rate of 1-based `step` (see the header)."""
    base, warmup = args.lr, args.warmup
    if warmup > 0 and step <= warmup:
        return base * step / warmup
    if args.schedule == 'constant':
        return base
    if args.schedule == 'cosine':
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        floor = base * args.final_fraction
        return floor + (base - floor) * (1 + math.cos(math.pi * progress)) / 2
    return base * args.gamma ** ((step - warmup) // args.step_size)


def run(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--batches', required=True)
    ap.add_argument('--labels')
    ap.add_argument('--steps', type=int, required=True)
    ap.add_argument('--batch-size', type=int, required=True)
    ap.add_argument('--decoupled', action='store_true', help='AdamW instead of Adam with an L2 penalty')
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--beta1', type=float, default=0.9)
    ap.add_argument('--beta2', type=float, default=0.999)
    ap.add_argument('--eps', type=float, default=1e-8)
    ap.add_argument('--weight-decay', type=float, default=0.0)
    ap.add_argument('--clip', type=float)
    ap.add_argument('--schedule', choices=['constant', 'cosine', 'step'], default='constant')
    ap.add_argument('--warmup', type=int, default=0)
    ap.add_argument('--final-fraction', type=float, default=0.01)
    ap.add_argument('--step-size', type=int, default=1000)
    ap.add_argument('--gamma', type=float, default=0.5)
    ap.add_argument('--total-steps', type=int)
    ap.add_argument('--ema', type=float)
    ap.add_argument('--weights-out', required=True)
    ap.add_argument('--average-out')
    args = ap.parse_args(argv)
    if (args.ema is None) != (args.average_out is None):
        raise SystemExit('train_steps.py: --ema and --average-out go together')

    # Unused in float64, but on CPUs without it each convolution would warn on stderr.
    torch.backends.nnpack.set_flags(False)
    model, cfg = load_checkpoint(args.checkpoint)
    model = model.double().train()
    if cfg['condDim'] or cfg['spatialCond']:
        raise SystemExit('train_steps.py: models with condDim or spatialCond are not supported')
    N, B = args.steps, args.batch_size
    shape = (N, B, cfg['channels'], cfg['height'], cfg['width'])
    x_all = read_raw(args.batches, torch.uint8, torch.Size(shape).numel()).reshape(shape).long()
    if int(x_all.max()) >= cfg['levels']:
        raise SystemExit(f'train_steps.py: image levels must be < {cfg["levels"]}')
    if cfg['classes'] > 0:
        if not args.labels:
            raise SystemExit('train_steps.py: the model has classes: --labels is required')
        y_all = read_raw(args.labels, torch.int32, N * B).reshape(N, B).long()
    else:
        y_all = None
    total = args.total_steps if args.total_steps is not None else N

    params = list(model.parameters())
    kind = torch.optim.AdamW if args.decoupled else torch.optim.Adam
    opt = kind(params, lr=args.lr, betas=(args.beta1, args.beta2), eps=args.eps,
               weight_decay=args.weight_decay)

    average = None
    if args.ema is not None:
        decay = args.ema

        def avg_fn(averaged, current, n):
            d = min(decay, int(n) / (9 + int(n)))  # n = t + 1: (1 + t) / (10 + t)
            return d * averaged + (1 - d) * current

        average = torch.optim.swa_utils.AveragedModel(model, avg_fn=avg_fn)
        average.update_parameters(model)  # n = 0: a copy of the initial weights

    out = {'loss': [], 'lr': [], 'grad_norm': [], 'clipped': []}
    for s in range(N):
        x = x_all[s]
        labels = y_all[s] if y_all is not None else None
        opt.zero_grad(set_to_none=False)
        loss = model.nll(x, labels).mean()
        loss.backward()
        if args.clip is not None:
            norm = torch.nn.utils.clip_grad_norm_(params, args.clip)
        else:
            norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad) for p in params]))
        lr = learning_rate(args, s + 1, total)
        for group in opt.param_groups:
            group['lr'] = lr
        opt.step()
        if average is not None:
            average.update_parameters(model)
        out['loss'].append(loss.item())
        out['lr'].append(lr)
        out['grad_norm'].append(norm.item())
        out['clipped'].append(args.clip is not None and norm.item() > args.clip)

    save_checkpoint(model, cfg, args.weights_out)
    if average is not None:
        save_checkpoint(average.module, cfg, args.average_out)
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--each':
        with open(sys.argv[2]) as f:
            runs = json.load(f)
    else:
        runs = [sys.argv[1:]]
    for argv in runs:
        print(json.dumps(run(argv)), flush=True)


if __name__ == '__main__':
    main()
