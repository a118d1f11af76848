#!/usr/bin/env bash
# The GPU test suite on the CUDA emulator built with AddressSanitizer, which also
# catches what the plain emulator cannot: reads out of bounds of device allocations
# (their guard bytes are poisoned), use after free, and overflows of kernels' local
# arrays. Builds the emulator into build-asan/; the CPU addon is the one in build/.
# Run after `npm ci` (or scripts/setup.sh); CI runs it after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Release -DGPCNN_CUDA=OFF -DGPCNN_CUDA_EMULATOR=ON \
  -DCMAKE_JS_INC="$PWD/node_modules/node-api-headers/include" \
  -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$PWD/build-asan/Release" \
  -DCMAKE_CXX_FLAGS="-fsanitize=address -fno-omit-frame-pointer" > /dev/null
cmake --build build-asan --target gated_pixelcnn_cuda_emu -j "$(nproc)" > /dev/null
# Node itself is not instrumented: the runtime is preloaded, and leaks (V8's own) are not checked.
asan() {
  LD_PRELOAD="$(g++ -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    GATED_PIXELCNN_CUDA_EMULATOR="$PWD/build-asan/Release/gated_pixelcnn_cuda_emu.node" GATED_PIXELCNN_TF32=0 "$@"
}
asan npx vitest run test/cuda
# The sampler's other designs too: positions as thread block clusters, vertical stacks on cuBLAS.
GATED_PIXELCNN_SAMPLER=cluster GATED_PIXELCNN_SAMPLER_VERTICAL=cublas asan npx vitest run test/cuda/cached-sampler.test.ts
