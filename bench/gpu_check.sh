#!/usr/bin/env bash
# The device check: run it first on any machine with a GPU, from the repository root:
#
#     bash bench/gpu_check.sh            # about 8 minutes on one GPU, install included
#
# Install (seconds without network; nothing waits for a registry that cannot answer):
# - GPU_CHECK_PYTHON=/path/to/python: no venv and no install; that Python is used as it
#   is, and must already have pytest-gpuperf and the example project installed.
# - Otherwise a virtual environment, .venv-gpu (GPU_CHECK_VENV), on top of python3
#   (GPU_CHECK_BASE_PYTHON) seeing its packages, so the machine's CuPy, numba-cuda, torch
#   and jax are used; when python3 lives in a venv itself, that venv's packages too.
#   Wheels in .whl/ (GPU_CHECK_WHEELS) go in first, offline and without dependencies:
#   a numpy or pytest-benchmark that must replace the machine's. Then pytest-gpuperf and
#   the example project, from this checkout: with network, with their dependencies;
#   without (the package index does not answer within 5 s), offline and without them,
#   and if pip cannot build them so, linked into the venv (bench/gpucheck/link_checkout.py).
# Then bench/gpu_check.py runs the steps within its budget (GPU_CHECK_BUDGET, 470 s) and
# writes bench/GPU_RESULTS.md ($OUT/GPU_RESULTS.md when $OUT is set).
# Extra arguments go to bench/gpu_check.py (--no-gpu, --quick, --budget).
set -uo pipefail
cd "$(dirname "$0")/.."
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONUNBUFFERED=1
NOTES="$(mktemp "${TMPDIR:-/tmp}/gpu-check-install.XXXXXX")"
# The versions that decide whether a GPU run works (numpy 2.5 broke numba-cuda 0.30.4,
# pytest-benchmark 5.2.3 broke -n), printed as one line.
VERSIONS="$(mktemp "${TMPDIR:-/tmp}/gpu-check-versions.XXXXXX")"
trap 'rm -f "$NOTES" "$VERSIONS"' EXIT
cat >"$VERSIONS" <<'EOF'
import importlib.metadata as m
names = ["numpy", "numba", "numba-cuda", "pytest", "pytest-benchmark", "pytest-xdist"]
names += sorted({d.metadata["Name"] for d in m.distributions() if d.metadata["Name"].startswith("cupy")})
def version(name):
    try:
        return m.version(name)
    except m.PackageNotFoundError:
        return "missing"
print(", ".join(f"{n} {version(n)}" for n in names))
EOF
note() { echo "$*" | tee -a "$NOTES"; }
FAILED=0

make_venv() {
    local base="${GPU_CHECK_BASE_PYTHON:-python3}" venv="$1"
    if [ -x "$venv/bin/python" ]; then
        note "$venv: exists, reused"
        return 0
    fi
    if ! "$base" -m venv --system-site-packages "$venv" >/dev/null 2>&1; then
        # No ensurepip (a Debian python3 without python3-venv): a venv without pip of its
        # own, which runs the pip of the python3 it sits on.
        rm -rf "$venv"
        "$base" -m venv --system-site-packages --without-pip "$venv" || return 1
        note "$venv: made without pip of its own (no ensurepip); it uses $base's pip"
    fi
    # A python3 that lives in a venv (as on many GPU images) has its packages there, not
    # in the "system" ones the new venv sees: add them behind the new venv's own.
    "$base" - "$venv/bin/python" <<'EOF' | tee -a "$NOTES"
import subprocess, sys, sysconfig
if sys.prefix != sys.base_prefix:
    paths = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    site = subprocess.run(
        [sys.argv[1], "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    with open(f"{site}/_gpu_check_parent.pth", "w") as pth:
        pth.writelines(f"import site; site.addsitedir({p!r})\n" for p in paths)
    print(f"the venv sees {sys.executable}'s own venv too: {', '.join(paths)}")
EOF
    note "$venv: created on top of $base"
}

install_wheels() {
    local wheels="${GPU_CHECK_WHEELS:-.whl}"
    compgen -G "$wheels/*.whl" >/dev/null || return 0
    if timeout 180 "$PY" -m pip install -q --no-index --no-deps "$wheels"/*.whl; then
        note "installed from $wheels, offline, without dependencies: $(cd "$wheels" && echo *.whl)"
    else
        note "could not install the wheels in $wheels"
        FAILED=1
    fi
}

install_checkout() {
    local index="${PIP_INDEX_URL:-}"
    [ -n "$index" ] || index="$("$PY" -m pip config get global.index-url 2>/dev/null || true)"
    index="${index:-https://pypi.org/simple/}"
    if timeout 6 "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
        "$index" >/dev/null 2>&1; then
        local extras="nvml"
        "$PY" -c 'import cupy, numba.cuda' 2>/dev/null || extras="cuda12,nvml"
        if timeout 300 "$PY" -m pip install -q -e ".[$extras]" -e ./example_project; then
            note "installed .[$extras] and the example project with their dependencies ($index)"
            return 0
        fi
        note "pip install from $index failed or took over 300 s; trying offline"
    else
        note "no network: $index did not answer within 5 s; nothing is downloaded"
    fi
    local out
    if out="$(timeout 120 "$PY" -m pip install -q --no-index --no-deps --no-build-isolation \
        -e . -e ./example_project 2>&1)"; then
        note "installed pytest-gpuperf and the example project from this checkout, offline," \
            "without dependencies: these come from what is installed"
    elif "$PY" bench/gpucheck/link_checkout.py | tee -a "$NOTES"; then
        note "pip could not build them offline ($(echo "$out" | grep -m1 -E 'configuration error|[A-Za-z]+Error:|ERROR:' | cut -c1-160));" \
            "linked this checkout into the venv instead"
    else
        note "could not install pytest-gpuperf from this checkout"
        FAILED=1
    fi
}

echo "== install"
if [ -n "${GPU_CHECK_PYTHON:-}" ]; then
    PY="$GPU_CHECK_PYTHON"
    note "summary: skipped: GPU_CHECK_PYTHON=$PY is used as it is (no venv, nothing installed)"
    note "$PY: $("$PY" "$VERSIONS" 2>&1)"
    note "outcome: skipped"
else
    VENV="${GPU_CHECK_VENV:-.venv-gpu}" BASE="${GPU_CHECK_BASE_PYTHON:-python3}"
    if make_venv "$VENV"; then
        PY="$VENV/bin/python"
    elif "$BASE" -c 'import sys; sys.exit(sys.prefix == sys.base_prefix)'; then
        PY="$BASE"
        note "cannot create $VENV: installing into the venv of $BASE instead"
    else
        PY="$BASE"
        note "cannot create $VENV with $BASE, which is no venv to install into either"
        FAILED=1
    fi
    if [ "$FAILED" = 0 ]; then
        install_wheels
        install_checkout
    fi
fi
# The plugin must be installed as a distribution: pytest finds it by its entry point.
if ! "$PY" -c 'import importlib.metadata as m, pytest, pytest_gpuperf, accel_kernels
assert any(e.value == "pytest_gpuperf.plugin" for e in m.entry_points(group="pytest11"))' \
    2>>"$NOTES"; then
    note "$PY cannot import pytest, pytest_gpuperf and accel_kernels, or the plugin's" \
        "pytest11 entry point is missing"
    FAILED=1
fi
if [ -z "${GPU_CHECK_PYTHON:-}" ]; then
    if [ "$FAILED" = 0 ]; then
        note "summary: $PY: $("$PY" "$VERSIONS" 2>&1)"
        note "outcome: ok"
    else
        note "summary: the install failed (details below); the checks run with what is there"
        note "outcome: FAILED"
    fi
elif [ "$FAILED" != 0 ]; then
    note "outcome: FAILED"
fi

echo "== nvidia-smi"
if command -v nvidia-smi >/dev/null; then timeout 20 nvidia-smi; else echo "(no nvidia-smi)"; fi

echo "== checks (within ${GPU_CHECK_BUDGET:-470} s)"
GPU_CHECK_INSTALL_NOTES="$NOTES" timeout $((${GPU_CHECK_BUDGET:-470} + 120)) \
    "$PY" bench/gpu_check.py --budget "${GPU_CHECK_BUDGET:-470}" "$@"
