#!/usr/bin/env bash
# The CUDA matrix: every torch and JAX implementation that offers "cuda", measured on the GPU
# (the adapters' prepare_device turns TF32 and other reduced-precision modes off), merged into
# docs/reports/cuda (report.json, report.md, and report.html with the report extra).
#
#   bash benchmarks/gpu.sh             # in an environment with trainspec, torch and JAX (CUDA builds)
#   PYTHON=/path/to/python bash benchmarks/gpu.sh
#
# Without an NVIDIA GPU it says so and exits 0; a backend whose framework sees no CUDA device is
# skipped with a message (trainspec run refuses an absent --device with exit 2).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "benchmarks/gpu.sh: no NVIDIA GPU here (nvidia-smi finds none); nothing to measure"
    exit 0
fi
nvidia-smi -L
out=docs/reports/cuda
parts=()
for backend in torch jax; do
    part="$out/parts/$backend"
    set +e
    "$PY" -m trainspec run --backend "$backend" --device cuda --profile ci --seed 0 \
        --report "$part" --force --quiet
    rc=$?
    set -e
    case $rc in
        0 | 1) parts+=("$part/report.json") ;;
        2) echo "benchmarks/gpu.sh: $backend has no CUDA device here (or is not installed); skipped" ;;
        *) echo "benchmarks/gpu.sh: $backend's run ended with exit $rc" >&2; exit "$rc" ;;
    esac
done
if [ ${#parts[@]} -eq 0 ]; then
    echo "benchmarks/gpu.sh: no backend ran on the GPU"
    exit 0
fi
"$PY" -m trainspec merge "${parts[@]}" --report "$out" --force
echo "benchmarks/gpu.sh: wrote $out"
