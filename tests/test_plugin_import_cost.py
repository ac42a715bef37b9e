"""Loading the plugin imports no array library; a backend's library loads only when it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("numpy", "numba", "numba_cuda", "cupy")


@pytest.mark.parametrize("module", ["pytest_gpuperf", "pytest_gpuperf.plugin"])
def test_import_loads_no_array_library(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print(sorted(m for m in sys.modules if m.startswith('pytest_gpuperf')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    heavy, ours = result.stdout.splitlines()
    assert heavy == "[]"
    assert module in ours  # the control: the import did happen


REPORT_CONFTEST = f"""
    import sys

    def report(terminalreporter, when):
        heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
        terminalreporter.write_line(f"heavy modules {{when}}: {{heavy}}")

    def pytest_collection_finish(session):
        report(session.config.pluginmanager.get_plugin("terminalreporter"), "after collection")

    def pytest_terminal_summary(terminalreporter):
        report(terminalreporter, "at the end")
"""


def test_array_libraries_load_only_for_the_backends_that_run(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(REPORT_CONFTEST)
    pytester.makepyfile(
        """
        def test_plain():
            pass

        def test_x(backend, gpu_array):
            assert backend.name == "numpy"
            gpu_array.zeros(2, "float32")
        """
    )
    result = pytester.runpytest_subprocess("--gpuperf-backends=numpy")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "plugins: *gpuperf-*",
            "heavy modules after collection: []",
            "heavy modules at the end: ['numpy']",
        ],
        consecutive=False,
    )
