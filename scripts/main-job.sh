#!/usr/bin/env bash
# The main job: train the mnist-tiny preset on MNIST (on a GPU where there is one), then write a grid
# of generated digits, one row per class, to runs/mnist-tiny/grid.png, and test digits
# completed from their top halves to runs/mnist-tiny/completions.png.
# Run scripts/setup.sh first (the README's command does both).
set -euo pipefail
cd "$(dirname "$0")/.."
out=runs/mnist-tiny
# Run again, it continues the run where it stopped (exactly, see README), or finds it done.
resume=()
if [[ -f $out/checkpoint.safetensors ]]; then resume=(--resume); fi
node dist/cli/main.js train --preset mnist-tiny --steps 4000 --lr 2e-3 --schedule cosine --warmup 100 \
  --eval-every 2000 --eval-limit 1000 --out "$out" "${resume[@]}"
node dist/cli/main.js sample --checkpoint "$out/model.safetensors" --labels 0-9 --per-label 10 \
  --seed 1 --out "$out/grid.png"
node dist/cli/main.js complete --checkpoint "$out/model.safetensors" --images 10 --first 0 \
  --keep-rows 14 --per-image 6 --seed 1 --out "$out/completions.png"
echo "main job: the grid of generated digits is $out/grid.png; test digits completed from their top halves: $out/completions.png"
