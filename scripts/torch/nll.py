# Parity-test CLI: per-image NLL and logits of a gated-pixelcnn checkpoint, computed by
# the PyTorch reference model (scripts/torch/gated_pixelcnn.py) in float64.
#
#   python3 scripts/torch/nll.py --checkpoint model.safetensors --images x.u8 --count B
#                                [--labels y.i32] [--logits-out logits.f32]
#
# --images: raw uint8 levels [B, C, H, W]; --labels: raw int32 little-endian [B] (required
# when the model has classes > 0). Prints one JSON line:
#   {"nll": [per-image NLL in nats], "logits_sum": Σ all logits,
#    "logits_first": first 16 values of the logits [B, C, K, H, W] flattened}
# --logits-out writes all logits as raw float32 little-endian [B, C, K, H, W].
# Models with condDim / spatialCond are not supported by this CLI.
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gated_pixelcnn import _bytes, load_checkpoint, read_raw  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--checkpoint', required=True)
    ap.add_argument('--images', required=True)
    ap.add_argument('--count', type=int, required=True)
    ap.add_argument('--labels')
    ap.add_argument('--logits-out')
    args = ap.parse_args()

    model, cfg = load_checkpoint(args.checkpoint)
    model = model.double().eval()
    if cfg['condDim'] or cfg['spatialCond']:
        raise SystemExit('nll.py: models with condDim or spatialCond are not supported')
    shape = (args.count, cfg['channels'], cfg['height'], cfg['width'])
    x = read_raw(args.images, torch.uint8, torch.Size(shape).numel()).reshape(shape).long()
    if int(x.max()) >= cfg['levels']:
        raise SystemExit(f'nll.py: image levels must be < {cfg["levels"]}')
    labels = read_raw(args.labels, torch.int32, args.count).long() if args.labels else None
    with torch.no_grad():
        logits = model(x, labels)
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), x, reduction='none').sum((1, 2, 3))
    if args.logits_out:
        with open(args.logits_out, 'wb') as f:
            f.write(_bytes(logits.float()))
    print(json.dumps({'nll': nll.tolist(), 'logits_sum': logits.sum().item(),
                      'logits_first': logits.flatten()[:16].tolist()}))


if __name__ == '__main__':
    main()
