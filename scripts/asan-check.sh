#!/usr/bin/env bash
# The native code under sanitizers. The GPU test suite runs on the CUDA emulator built
# with AddressSanitizer, which also catches what the plain emulator cannot: reads out
# of bounds of device allocations (their guard bytes are poisoned), use after free, and
# overflows of kernels' local arrays; and with UndefinedBehaviorSanitizer (misaligned
# objects, overflowing conversions and shifts), as the CPU addon's ops, model, sampling
# and training tests do (its build is not under ASan: oneDNN and OpenMP are not
# instrumented). Builds into build-asan/ and build-ubsan/.
# Run after `npm ci` (or scripts/setup.sh); CI runs it after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
undefined="undefined,float-cast-overflow"
sanitized_build() { # FOLDER TARGET SANITIZERS
  cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=Release -DGPCNN_CUDA=OFF -DGPCNN_CUDA_EMULATOR=ON \
    -DCMAKE_JS_INC="$PWD/node_modules/node-api-headers/include" \
    -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$PWD/$1/Release" \
    -DCMAKE_CXX_FLAGS="-fsanitize=$3 -fno-sanitize-recover=$undefined -fno-omit-frame-pointer" > /dev/null
  cmake --build "$1" --target "$2" -j "$(nproc)" > /dev/null
}
sanitized_build build-asan gated_pixelcnn_cuda_emu "address,$undefined"
sanitized_build build-ubsan gated_pixelcnn_cpu "$undefined"
# Node itself is not instrumented: the runtimes are preloaded, and leaks (V8's own) are not checked.
export UBSAN_OPTIONS=print_stacktrace=1
asan() {
  LD_PRELOAD="$(g++ -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    GATED_PIXELCNN_CUDA_EMULATOR="$PWD/build-asan/Release/gated_pixelcnn_cuda_emu.node" GATED_PIXELCNN_TF32=0 "$@"
}
asan npx vitest run test/cuda
# The sampler's other designs too: positions as thread block clusters, vertical stacks on
# cuDNN; positions as tiles of 8 images a thread block (the default: tiles of 2), and as
# a graph of launches.
GATED_PIXELCNN_SAMPLER=cluster GATED_PIXELCNN_SAMPLER_VERTICAL=cudnn asan npx vitest run test/cuda/cached-sampler.test.ts
GATED_PIXELCNN_SAMPLER_TILE=8 asan npx vitest run test/cuda/cached-sampler.test.ts
GATED_PIXELCNN_SAMPLER=graph asan npx vitest run test/cuda/cached-sampler.test.ts
LD_PRELOAD="$(g++ -print-file-name=libubsan.so)" GATED_PIXELCNN_CPU_ADDON="$PWD/build-ubsan/Release/gated_pixelcnn_cpu.node" \
  npx vitest run test/ops test/nn test/sample test/train
