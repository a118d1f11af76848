#!/usr/bin/env bash
# Installs what gated-pixelcnn needs on a Debian/Ubuntu machine, then builds it:
# oneDNN from apt (for the CPU backend), the npm dependencies, the native addons and
# the TypeScript. Safe to run again. The CUDA addon is built too when a CUDA toolkit
# and cuDNN 9 are there (`pip install nvidia-cudnn-cu13 nvidia-cublas` provides cuDNN
# and the libcublasLt it loads at run time).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! dpkg -s libdnnl-dev >/dev/null 2>&1; then
  echo "setup: installing oneDNN (libdnnl-dev) with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libdnnl-dev >/dev/null
fi

echo "setup: installing npm dependencies and building the native addons"
npm ci --no-audit --no-fund
