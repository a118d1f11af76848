#!/usr/bin/env bash
# Installs what gated-pixelcnn needs on a Debian/Ubuntu machine, then builds it:
# oneDNN from apt (for the CPU backend), the npm dependencies, the native addon and
# the TypeScript. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! dpkg -s libdnnl-dev >/dev/null 2>&1; then
  echo "setup: installing oneDNN (libdnnl-dev) with apt-get"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libdnnl-dev >/dev/null
fi

# The CUDA addon needs cuDNN 9; with a CUDA toolkit present, take it from pip when
# no other copy is configured. (No GPU is needed to build it.)
if { command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; } && [ -z "${CUDNN_PATH:-}" ] \
  && ! python3 -c "import nvidia.cudnn" 2>/dev/null; then
  echo "setup: installing cuDNN 9 for the CUDA addon (pip install nvidia-cudnn-cu13)"
  python3 -m pip install --quiet --no-deps nvidia-cudnn-cu13 \
    || echo "setup: cuDNN could not be installed; the CUDA addon will not be built"
fi

echo "setup: installing npm dependencies and building the native addons"
npm ci --no-audit --no-fund
