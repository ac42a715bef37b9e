"""Loading the plugin imports no array library; a backend's library loads only when it runs."""

from __future__ import annotations

import ast
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


def heavy_lines(result: pytest.RunResult) -> tuple[str, str]:
    """The two ``heavy modules ...`` lines of a run: after collection, at the end."""
    found = [line for line in result.outlines if line.startswith("heavy modules ")]
    assert len(found) == 2, result.outlines
    return found[0], found[1]


def test_array_libraries_load_only_for_the_backends_that_run(pytester: pytest.Pytester) -> None:
    """The plugin adds no array library at load or collection; the numpy backend adds numpy.

    A control run without the plugin first shows what this environment loads on
    its own (a GPU machine's packages or site hooks may load some), so the check
    is what the plugin adds, the same on any machine.
    """
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
    control = pytester.runpytest_subprocess(
        "-p", "no:gpuperf", "-p", "no:gpuperf_extra", "-k", "test_plain"
    )
    control.assert_outcomes(passed=1)
    collected, ended = heavy_lines(control)
    assert collected.startswith("heavy modules after collection: ")
    own = ast.literal_eval(collected.partition(": ")[2])
    own_at_end = ast.literal_eval(ended.partition(": ")[2])
    result = pytester.runpytest_subprocess("--gpuperf-backends=numpy")
    result.assert_outcomes(passed=2)  # test_x ran: the plugin and its backend fixture loaded
    assert heavy_lines(result) == (
        f"heavy modules after collection: {sorted(own)}",
        f"heavy modules at the end: {sorted({*own_at_end, 'numpy'})}",
    )
