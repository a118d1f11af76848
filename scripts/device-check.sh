#!/usr/bin/env bash
# GPU checks in one go, for a machine with an NVIDIA GPU, the CUDA toolkit, cuDNN
# and cmake but possibly no Node and no network: builds both addons, runs the GPU
# benchmark and the GPU test suite, times the host work of a training step per native
# function and each kernel of it (ours and PyTorch's, with ncu), times the cached sampler's kernels and looks inside
# them (ncu; the positions as graphs and as tiles of images a thread block; the tiles'
# stalls per SASS instruction and the addon's SASS, xz-compressed, to read offline),
# runs compute-sanitizer's memcheck and racecheck over the GPU tests of the ops, the
# captured training steps and the sampler, and writes a log and a JSON summary to OUTDIR.
#   NODE=/path/to/node [DEVICE_CHECK_STEPS="bench tests designs jobs kernels sampler sanitize"] \
#     [DEVICE_CHECK_DEADLINE=480] bash scripts/device-check.sh OUTDIR
# What this machine lacks comes prepared by scripts/device-pack.sh in .device/:
# node (xz), node_modules (tar.xz), and oneDNN's Debian packages.
# A device's time is short and its run may be cut off: the benchmark's key numbers come
# first, every step ends by DEVICE_CHECK_DEADLINE seconds after the start (a step that
# would start too late is skipped), and each result is written as soon as it is known.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/device-check.sh OUTDIR}
mkdir -p "$out"
log="$out/device-check.log"
exec > >(tee "$log") 2>&1
started=$(date +%s)
step() { echo "== $* ($(( $(date +%s) - started )) s)"; }
deadline=${DEVICE_CHECK_DEADLINE:-480}
# Runs a command under `timeout`: its own limit of CAP seconds, or what is left before
# the deadline (less 10 s to write the summary), whichever is less, killed 5 s after it
# is asked to stop (status 124, or 137); skipped (status 99) with under 20 s left.
bounded() {
  local cap=$1 left=$(( deadline - ($(date +%s) - started) - 10 ))
  shift
  if (( left < 20 )); then echo "skipped, $(( left + 10 )) s left before the deadline: ${*:1:6}"; return 99; fi
  timeout -k 5 $(( left < cap ? left - 5 : cap )) "$@"
}

# REPEAT batches of 256 timed by sample-once.mjs (a process each) for every
# "model design vertical value" given: GATED_PIXELCNN_SAMPLER=design,
# GATED_PIXELCNN_SAMPLER_VERTICAL=vertical and KNOB=value (8 libuv threads: up to 8 jobs).
#   time_sampler KNOB REPEAT RUN...
time_sampler() {
  local knob=$1 repeat=$2 run model design vertical value
  shift 2
  for run in "$@"; do
    read -r model design vertical value <<< "$run"
    echo "cached sampler, $model batch 256, GATED_PIXELCNN_SAMPLER=$design" \
      "GATED_PIXELCNN_SAMPLER_VERTICAL=$vertical $knob=$value:"
    (export UV_THREADPOOL_SIZE=8 GATED_PIXELCNN_SAMPLER="$design" GATED_PIXELCNN_SAMPLER_VERTICAL="$vertical" "$knob=$value"
     bounded 60 "$NODE" scripts/bench/sample-once.mjs "$model" 256 cuda "$repeat")
  done
}

NODE=${NODE:-}
if [ -z "$NODE" ] && [ -f .device/node.xz ]; then
  mkdir -p /tmp/gpcnn-bin && xz -dc .device/node.xz > /tmp/gpcnn-bin/node && chmod +x /tmp/gpcnn-bin/node
  NODE=/tmp/gpcnn-bin/node
fi
NODE=${NODE:-node}
"$NODE" --version || { echo "no node: set NODE= or run scripts/device-pack.sh"; exit 1; }
# CMake asks `node` where node-addon-api lives: this one, alone in a folder put first on
# PATH (node's own folder may hold another python3, without cuDNN's wheel).
node_dir=$(mktemp -d)
ln -s "$(readlink -f "$(command -v "$NODE")")" "$node_dir/node"
export PATH="$node_dir:$PATH"

if [ ! -d node_modules ] && [ -f .device/node_modules.tar.xz ]; then
  step "unpacking node_modules"
  tar -xJf .device/node_modules.tar.xz
fi

dnnl_args=()
if ! ls /usr/lib/*/cmake/dnnl/dnnl-config.cmake >/dev/null 2>&1 && ls .device/*.deb >/dev/null 2>&1; then
  step "unpacking oneDNN"
  mkdir -p .device/root
  for deb in .device/*.deb; do dpkg -x "$deb" .device/root; done
  dnnl_dir=$(dirname "$(find "$PWD/.device/root" -name dnnl-config.cmake | head -1)")
  dnnl_args=(-Ddnnl_DIR="$dnnl_dir" -DOpenCL_INCLUDE_DIR="$PWD/.device/root/usr/include"
             -DOpenCL_LIBRARY="$(find "$PWD/.device/root/usr/lib" -name 'libOpenCL.so*' | sort | head -1)")
  export LD_LIBRARY_PATH="$(dirname "$(find "$PWD/.device/root/usr/lib" -name 'libdnnl.so*' | sort | head -1)"):${LD_LIBRARY_PATH:-}"
fi

# Steps to run (DEVICE_CHECK_STEPS; they run in the order bench, tests, designs, jobs,
# kernels, sampler, sanitize): a rerun after a fix can skip what already passed. The build always
# runs. summary.json is rewritten after every step, so a run cut short by its time limit
# still reports what it finished; a step's status there is 124 or 137 where its limit
# cut it, 99 where the deadline skipped it.
steps=" ${DEVICE_CHECK_STEPS:-bench tests designs jobs kernels sampler sanitize} "
wants() { [[ "$steps" == *" $1 "* ]]; }
build_status=null cuda_werror=null tests_tf32=null tests_fp32=null tests_cluster=null tests_graph=null bench=null profiled=null sampler_profiled=null sanitized=null
# Passed / failed / skipped per run: a suite that skipped everything found no GPU.
counts() {
  "$NODE" -e 'try { const r = require(process.argv[1]);
    console.log(JSON.stringify({ passed: r.numPassedTests, failed: r.numFailedTests, skipped: r.numPendingTests })); }
    catch { console.log("null"); }' "$1"
}
summary() {
  cat > "$out/summary.json" <<JSON
{"build": $build_status, "cudaWarningsAsErrors": $cuda_werror, "testsTf32": $tests_tf32, "testsFp32": $tests_fp32, "testsCluster": $tests_cluster, "testsGraph": $tests_graph,
 "countsTf32": $(counts "$out/tests-tf32.json"), "countsFp32": $(counts "$out/tests-fp32.json"),
 "countsCluster": $(counts "$out/tests-cluster.json"), "countsGraph": $(counts "$out/tests-graph.json"),
 "bench": $bench, "kernelTimes": $profiled, "samplerProfile": $sampler_profiled, "sanitizer": $sanitized,
 "seconds": $(( $(date +%s) - started ))}
JSON
}

step "building the addons"
cudnn=$(python3 -c "import nvidia.cudnn as m; print(list(m.__path__)[0])" 2>/dev/null || true)
# The CPU and CUDA addons only (the emulator is for machines without a GPU); -k 0: one
# failing does not stop the other. An addon left by an earlier run must not stand in for
# one that fails to build.
rm -f build/Release/gated_pixelcnn_cuda.node
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_JS_INC="$PWD/node_modules/node-api-headers/include" \
  -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$PWD/build/Release" -DGPCNN_CUDA_WERROR=ON \
  ${cudnn:+-DCUDNN_PATH="$cudnn"} "${dnnl_args[@]}" > "$out/cmake.log" 2>&1 \
  && cmake --build build --target gated_pixelcnn_cpu gated_pixelcnn_cuda -- -k 0 >> "$out/cmake.log" 2>&1
build_status=$?
cat build/cuda-status.txt 2>/dev/null
nvcc --version 2>/dev/null | tail -2
# CI builds with warnings as errors, register spills included; a device's toolkit may
# warn where CI's does not (a kernel one register short of spilling). Where the CUDA
# addon alone failed, it is built again with warnings as warnings: if that succeeds,
# warnings alone stopped it (cudaWarningsAsErrors: false in the summary), and the run
# still measures something. The first build asks for errors again (-D...=ON above).
cuda_werror=true
if [ ! -f build/Release/gated_pixelcnn_cuda.node ]; then
  cuda_werror=null
  if [ -f build/Release/gated_pixelcnn_cpu.node ]; then
    echo "the CUDA addon failed to build; its messages (the end of $out/cmake.log has the rest):"
    grep -E "(error|warning)[ :#]" "$out/cmake.log" | grep -v -- "-Werror" | head -20
    echo "building it again with warnings not treated as errors"
    if cmake -S . -B build -DGPCNN_CUDA_WERROR=OFF >> "$out/cmake.log" 2>&1 \
      && cmake --build build --target gated_pixelcnn_cuda >> "$out/cmake.log" 2>&1; then
      cuda_werror=false build_status=0
    else
      echo "it fails without warnings as errors too"
    fi
  fi
fi
# cuDNN's legacy convolution API loads libcublasLt at run time, from the wheels' folders.
cublas_lt=$(ls "$cudnn"/../cu13/lib/libcublasLt.so.* "$cudnn"/../cublas/lib/libcublasLt.so.* 2>/dev/null | head -1)
if [ -n "$cublas_lt" ]; then
  export LD_LIBRARY_PATH="$(dirname "$cublas_lt"):${LD_LIBRARY_PATH:-}"
  echo "cuBLAS from $cublas_lt"
else
  echo "no pip libcublasLt beside cuDNN: its legacy convolutions may fail to load it (pip install nvidia-cublas)"
fi
"$NODE" node_modules/typescript/bin/tsc -p tsconfig.build.json
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
summary
if [ ! -f build/Release/gated_pixelcnn_cuda.node ]; then
  echo "no CUDA addon was built; the end of $out/cmake.log:"
  tail -40 "$out/cmake.log"
  steps=" "
fi

if wants bench; then
  # Training (ours, then PyTorch's) and sampling (PyTorch's naive sampler, then each of
  # our designs in a process of its own) first, then the rest; bench-gpu.json is
  # rewritten after every measurement.
  step "GPU benchmark"
  rm -f "$out/bench-gpu.json"
  bounded 240 "$NODE" scripts/bench/gpu.mjs "$out/bench-gpu.json" --seconds 6
  bench=$?
  summary
fi

if wants tests; then
  # Not the benchmark scripts' own tests (bench-scripts.test.ts): the benchmark above has
  # run the real ones. The sampler's other designs (clusters with cuDNN's vertical stage,
  # the graph of launches) before the fp32 rerun.
  rm -f "$out"/tests-*.json
  step "GPU tests (TF32 on, as PyTorch's default)"
  bounded 200 "$NODE" node_modules/vitest/vitest.mjs run test/cuda --exclude test/cuda/bench-scripts.test.ts \
    --reporter=default --reporter=json --outputFile.json="$out/tests-tf32.json"
  tests_tf32=$?
  summary
  step "GPU sampler tests with the positions as thread block clusters and the vertical stacks on cuDNN (fp32)"
  GATED_PIXELCNN_SAMPLER=cluster GATED_PIXELCNN_SAMPLER_VERTICAL=cudnn GATED_PIXELCNN_TF32=0 bounded 90 "$NODE" node_modules/vitest/vitest.mjs run \
    test/cuda/cached-sampler.test.ts --reporter=default --reporter=json --outputFile.json="$out/tests-cluster.json"
  tests_cluster=$?
  summary
  step "GPU sampler tests with the positions as a graph of launches (GATED_PIXELCNN_SAMPLER=graph; fp32)"
  GATED_PIXELCNN_SAMPLER=graph GATED_PIXELCNN_TF32=0 bounded 90 "$NODE" node_modules/vitest/vitest.mjs run \
    test/cuda/cached-sampler.test.ts --reporter=default --reporter=json --outputFile.json="$out/tests-graph.json"
  tests_graph=$?
  summary
  step "GPU tests (fp32 math: GATED_PIXELCNN_TF32=0; convolution algorithms timed: GATED_PIXELCNN_CONV_SEARCH=1)"
  GATED_PIXELCNN_TF32=0 GATED_PIXELCNN_CONV_SEARCH=1 bounded 150 "$NODE" node_modules/vitest/vitest.mjs run test/cuda \
    --exclude test/cuda/bench-scripts.test.ts --reporter=default --reporter=json --outputFile.json="$out/tests-fp32.json"
  tests_fp32=$?
  summary
fi

if wants designs; then
  # Second readings, each in a process of its own: the sampler's designs, positions
  # as tiles of 2, 4 or 8 images a thread block, as a graph of launches or as thread
  # block clusters, vertical stacks on cuBLAS or cuDNN, then mnist-256's, whose head
  # draws 256 levels; then where the setup of a batch goes (one batch of each of the
  # two fastest designs, with GATED_PIXELCNN_HOST_TIMING); then training with the
  # convolution algorithms of cuDNN's heuristics and of its timed search
  # (GATED_PIXELCNN_CONV_SEARCH). Interleaved: the host's speed drifts.
  step "the sampler's designs and the convolution search, again"
  time_sampler GATED_PIXELCNN_SAMPLER_TILE 3 \
    "mnist-quick tile cublas 2" "mnist-quick graph cublas 2" "mnist-quick tile cublas 4" \
    "mnist-quick tile cublas 8" "mnist-quick tile cudnn 2" "mnist-quick cluster cublas 2" \
    "mnist-256 tile cublas 2" "mnist-256 graph cublas 2" "mnist-256 tile cublas 4"
  # Tiles of 4 leave SMs idle (64 blocks at batch 256): two jobs' vertical stages and
  # tiles might run beside each other.
  time_sampler GATED_PIXELCNN_SAMPLER_JOBS 3 "mnist-quick tile cublas 2"
  GATED_PIXELCNN_SAMPLER_TILE=4 time_sampler GATED_PIXELCNN_SAMPLER_JOBS 3 "mnist-quick tile cublas 2"
  GATED_PIXELCNN_HOST_TIMING=1 time_sampler GATED_PIXELCNN_SAMPLER_TILE 2 "mnist-quick tile cublas 2" "mnist-quick graph cublas 2"
  for run in "mnist-quick 0" "mnist-quick 1" "mnist-256 0" "mnist-256 1"; do
    read -r model search <<< "$run"
    echo -n "GATED_PIXELCNN_CONV_SEARCH=$search: "
    GATED_PIXELCNN_CONV_SEARCH=$search bounded 60 "$NODE" scripts/bench/train-speed.mjs "$model" 64 3 cuda
  done
fi

if wants jobs; then
  # The sampler's batch split between concurrent jobs (GATED_PIXELCNN_SAMPLER_JOBS), each
  # on its own stream and libuv thread, so that one job's vertical stage and latency-bound
  # positions might run beside another's (on an H200 they did not: 1 job was fastest).
  step "the sampler's batch split between concurrent jobs"
  time_sampler GATED_PIXELCNN_SAMPLER_JOBS 4 \
    "mnist-quick graph cublas 1" "mnist-quick graph cublas 2" "mnist-quick graph cublas 3" \
    "mnist-quick graph cublas 4" "mnist-quick graph cublas 8" "mnist-quick graph cudnn 2" \
    "mnist-quick graph cudnn 4" "mnist-quick cluster cublas 4" "mnist-256 graph cublas 1" \
    "mnist-256 graph cublas 2" "mnist-256 graph cublas 4"
fi

# The profilers come last, each with its own limit: where they cannot use the GPU (a
# sandboxed runtime) they fail, and the rest is already written.
ncu=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
if wants kernels; then
  step "host and kernel times of a training step: ours (host, then ncu) and PyTorch's (ncu), mnist-quick (then mnist-256) at batch 64"
  # The host time per step of each native function (GATED_PIXELCNN_HOST_TIMING), into the
  # log: set beside the kernel times, it says whether the host keeps the GPU waiting.
  bounded 60 "$NODE" scripts/bench/host-times.mjs mnist-quick 64 10 60 cuda
  # Single ops on a mnist-quick block's shapes: host time a call against the whole.
  bounded 60 "$NODE" scripts/bench/host-calls.mjs cuda 200 64
  # ncu: four steps each; PyTorch's run is 2 warm-up steps and 2 timed ones.
  if [ -n "$ncu" ]; then
    quick=$("$NODE" -p "JSON.stringify(require('./dist').PRESETS['mnist-quick'])")
    kernel_times() {
      bounded 100 "$ncu" --clock-control none --csv --metrics gpu__time_duration.sum --log-file "$1" "${@:2}" >/dev/null \
        && "$NODE" scripts/bench/kernel-times.mjs "$1"
    }
    kernel_times "$out/kernels-ours.csv" "$NODE" scripts/bench/train-steps.mjs mnist-quick 64 4 cuda \
      && kernel_times "$out/kernels-torch.csv" python3 scripts/torch/bench.py train --config "$quick" --batch 64 --steps 2 --device cuda
    profiled=$?
    # mnist-256 too: 8 blocks and a 256-way loss, the preset furthest from its target.
    m256=$("$NODE" -p "JSON.stringify(require('./dist').PRESETS['mnist-256'])")
    kernel_times "$out/kernels-ours-256.csv" "$NODE" scripts/bench/train-steps.mjs mnist-256 64 4 cuda \
      && kernel_times "$out/kernels-torch-256.csv" python3 scripts/torch/bench.py train --config "$m256" --batch 64 --steps 2 --device cuda \
      || profiled=1
  else
    echo "no ncu found"
  fi
  summary
fi

if wants sampler; then
  step "the cached sampler under ncu: kernel times over one row, then one product's throughput and stalls, then a row of tiles', then the tiles' stalls per instruction"
  # A mnist-quick batch of 256 with the positions as a graph (GATED_PIXELCNN_SAMPLER=graph):
  # about 2 rows (5 vertical stages of 2 launches plus cuBLAS's 2, 28 positions of 11)
  # are skipped, the next 400 launches (a row) timed; then one pre-activation product in
  # the middle of a row looked into; then the third row's launch of tiles (the default
  # design). All print into the log.
  if [ -n "$ncu" ]; then
    sampler_csv=$(mktemp)
    GATED_PIXELCNN_SAMPLER=graph bounded 120 "$ncu" --clock-control none --csv --metrics gpu__time_duration.sum --launch-skip 760 --launch-count 400 \
      --log-file "$sampler_csv" "$NODE" scripts/bench/sample-once.mjs mnist-quick 256 cuda >/dev/null \
      && "$NODE" scripts/bench/kernel-times.mjs "$sampler_csv" 20 \
      && GATED_PIXELCNN_SAMPLER=graph bounded 100 "$ncu" --clock-control none --kernel-name-base demangled --kernel-name regex:PreActivation --launch-skip 300 --launch-count 1 \
        --section SpeedOfLight --section WarpStateStats --section MemoryWorkloadAnalysis --section Occupancy \
        "$NODE" scripts/bench/sample-once.mjs mnist-quick 256 cuda \
      && bounded 100 "$ncu" --clock-control none --kernel-name regex:positions_tile \
        --launch-skip 2 --launch-count 1 --section SpeedOfLight --section WarpStateStats --section Occupancy \
        --section LaunchStats --section MemoryWorkloadAnalysis "$NODE" scripts/bench/sample-once.mjs mnist-quick 256 cuda
    sampler_profiled=$?
    # For reading offline (the machine that wrote the kernels may have neither ncu nor
    # cuobjdump): the tiles' kernel's stall samples per SASS instruction, and the addon's SASS.
    bounded 100 "$ncu" --clock-control none --kernel-name regex:positions_tile \
      --launch-skip 2 --launch-count 1 --section SourceCounters --section WarpStateStats --page source --csv \
      --print-source sass "$NODE" scripts/bench/sample-once.mjs mnist-quick 256 cuda 2>&1 | xz > "$out/tile-source.csv.xz"
  else
    echo "no ncu found"
  fi
  cuobjdump=$(command -v cuobjdump || ls /usr/local/cuda/bin/cuobjdump 2>/dev/null | head -1)
  if [ -n "$cuobjdump" ]; then
    "$cuobjdump" -sass -arch sm_90 build/Release/gated_pixelcnn_cuda.node 2>&1 | xz > "$out/cuda-addon.sass.xz"
  fi
  summary
fi

if wants sanitize; then
  step "compute-sanitizer: memcheck on every op, captured training steps and the cached sampler, racecheck on the sampler's shared memory"
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null | head -1)
  if [ -n "$sanitizer" ]; then
    sanitize() {
      GATED_PIXELCNN_TF32=0 bounded 150 "$sanitizer" --tool "$1" --target-processes all --error-exitcode 9 \
        "$NODE" node_modules/vitest/vitest.mjs run "${@:2}"
    }
    # The sampler first (the code that changes most), in its default design (tiles), as a
    # graph and as clusters; its abort test samples a large model, too slow under memcheck.
    sanitize memcheck test/cuda/cached-sampler.test.ts -t "reproduces the logits|draws the CPU|tiles|split k|deeper|wider" \
      && GATED_PIXELCNN_SAMPLER=graph sanitize memcheck test/cuda/cached-sampler.test.ts -t "reproduces the logits|tiles|wider" \
      && sanitize racecheck test/cuda/cached-sampler.test.ts -t "reproduces the logits" \
      && GATED_PIXELCNN_SAMPLER=graph sanitize racecheck test/cuda/cached-sampler.test.ts -t "reproduces the logits" \
      && GATED_PIXELCNN_SAMPLER=cluster GATED_PIXELCNN_SAMPLER_VERTICAL=cudnn \
        sanitize memcheck test/cuda/cached-sampler.test.ts -t "reproduces the logits|tiles" \
      && sanitize memcheck test/cuda/backend-ops.test.ts \
      && sanitize memcheck test/cuda/training-step.test.ts
    sanitized=$?
  else
    echo "no compute-sanitizer found"
  fi
  summary
fi

step "done"
cat "$out/summary.json"
