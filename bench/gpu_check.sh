#!/usr/bin/env bash
# The device check: run it first on any machine with a GPU, from the repository root:
#
#     bash bench/gpu_check.sh            # at most about 5 minutes on one GPU
#
# It makes its own virtual environment (.venv-gpu, with the system's site-packages visible,
# so a preinstalled CuPy or numba-cuda is used), installs '.[cuda12,nvml]' and the example
# project into it, runs `gpuperf doctor`, the example project under --gpuperf on the real
# numba_cuda and cupy backends, and cuda_sync_timer against cupyx.profiler.benchmark on
# 3 kernels, then writes bench/GPU_RESULTS.md ($OUT/GPU_RESULTS.md when $OUT is set).
#
# Without network the install step fails and is reported; the check then runs with what is
# installed. GPU_CHECK_PYTHON=/path/to/python skips the venv and the install entirely.
# Extra arguments go to bench/gpu_check.py (--no-gpu, --quick).
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -n "${GPU_CHECK_PYTHON:-}" ]; then
    PY="$GPU_CHECK_PYTHON"
else
    VENV="${GPU_CHECK_VENV:-.venv-gpu}"
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv --system-site-packages "$VENV" || { echo "cannot create $VENV" >&2; exit 2; }
    fi
    PY="$VENV/bin/python"
    echo "== install .[cuda12,nvml] and the example project (at most 150 s)"
    if ! timeout 150 "$PY" -m pip install -q -e '.[cuda12,nvml]' -e ./example_project; then
        echo "WARNING: the install failed or timed out; checking with what is installed" >&2
        if ! "$PY" -c "import pytest_gpuperf" 2>/dev/null; then
            # No network: the plugin itself needs no download beyond its dependencies.
            timeout 60 "$PY" -m pip install -q --no-deps --no-build-isolation -e . -e ./example_project \
                || { echo "pytest-gpuperf is not importable; install its dependencies" >&2; exit 2; }
        fi
    fi
fi

echo "== nvidia-smi"
command -v nvidia-smi >/dev/null && timeout 20 nvidia-smi || echo "(no nvidia-smi)"

echo "== checks (at most 4 minutes)"
timeout 240 "$PY" bench/gpu_check.py "$@"
