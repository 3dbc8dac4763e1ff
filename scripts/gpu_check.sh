#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, in one run (CI has none): the CUDA tests, then the live path at
# 1920x1080 on CUDA with each upscaler and with torch.compile. Needs livevis installed (with
# 'livevis[cuda]' for CUDA-GL interop) and a driver whose EGL is NVIDIA's.
#   bash scripts/gpu_check.sh [OUT_DIR]      (bench JSON lands in OUT_DIR, default build/gpu-check; PYTHON=... picks the interpreter)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/gpu-check}
PY=${PYTHON:-python3}
mkdir -p "$out"
"$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null || { echo "gpu_check.sh: no CUDA device" >&2; exit 2; }
"$PY" -m pytest -q -rfs tests/audio/test_mel.py tests/models/test_sound_encoder.py tests/models/test_recurrent.py \
    tests/models/test_bundle.py tests/models/test_stylegan3.py tests/render/test_cuda_gl.py tests/render/test_renderer.py \
    tests/render/test_bench.py
status=$?
bench() {
    local name=$1; shift
    if ! "$PY" -m livevis bench --compute cuda --frames 300 --warmup 30 --out-size 1920x1080 --json "$@" > "$out/$name.json"; then
        echo "$name: bench failed" >&2
        status=1
        return
    fi
    "$PY" -c "import json, sys; d = json.load(open(sys.argv[1])); print(sys.argv[2], round(d['fps'], 1), 'fps, frame', round(d['frame_ms']['median'], 2), 'ms, latency', round(d['latency_ms']['median'], 2), 'ms, interop', d['interop'])" "$out/$name.json" "$name"
}
bench learned-eager --upscaler learned --backend eager
bench lanczos-eager --upscaler lanczos --backend eager
bench learned-compile --upscaler learned --backend compile
exit $status
