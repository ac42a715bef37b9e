"""Options, ini keys, ``--help``/``--markers``/``--fixtures``, and the plugin switched off."""

from __future__ import annotations

import pytest

TWO_TESTS = """
    def test_x(backend):
        pass

    def test_plain():
        pass
"""


def _backends_run(result: pytest.RunResult) -> list[str]:
    """Backend ids of ``test_x`` in a ``-v`` run, in run order."""
    return [
        line.split("[", 1)[1].split("]", 1)[0]
        for line in result.outlines
        if "::test_x[" in line and (" PASSED" in line or " SKIPPED" in line)
    ]


def test_cli_selects_backends_in_the_given_order(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest("-v", "--gpuperf-backends= numba , numpy ")
    assert _backends_run(result) == ["numba", "numpy"]
    result.assert_outcomes(passed=3)


def test_ini_selects_backends(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngpuperf_backends = numpy\n")
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest("-v")
    assert _backends_run(result) == ["numpy"]
    result.assert_outcomes(passed=2)


def test_cli_beats_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ngpuperf_backends = numpy\n")
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest("-v", "--gpuperf-backends=numba")
    assert _backends_run(result) == ["numba"]
    result.assert_outcomes(passed=2)


def test_default_is_every_registered_backend(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest("-v")
    assert _backends_run(result) == ["numpy", "numba", "numba_cuda", "cupy"]


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        pytest.param(
            ["--gpuperf-backends=numpy,numbaa"],
            None,
            "ERROR: --gpuperf-backends names unknown backend 'numbaa'; "
            "known backends: numpy, numba, numba_cuda, cupy*",
            id="unknown-cli",
        ),
        pytest.param(
            [],
            "gpuperf_backends = cuda",
            "ERROR: gpuperf_backends (from config file) names unknown backend 'cuda'; "
            "known backends: numpy, numba, numba_cuda, cupy*",
            id="unknown-ini",
        ),
        pytest.param(
            ["--gpuperf-backends="],
            None,
            "ERROR: --gpuperf-backends must list at least one backend, e.g. numpy,numba; "
            "got '' (from command line)",
            id="empty",
        ),
        pytest.param(
            ["--gpuperf-backends= , ,"],
            None,
            "ERROR: --gpuperf-backends must list at least one backend*got ' , ,'*",
            id="only-commas",
        ),
        pytest.param(
            ["--gpuperf-tolerance=banana"],
            None,
            "ERROR: --gpuperf-tolerance must be a fraction between 0 and 1 written as 10% or 0.1; "
            "got 'banana' (from command line)",
            id="tolerance-banana",
        ),
        pytest.param(
            ["--gpuperf-tolerance=-5%"],
            None,
            "ERROR: --gpuperf-tolerance must be a fraction between 0 and 1 *; got '-5%' *",
            id="tolerance-negative",
        ),
        pytest.param(
            ["--gpuperf-tolerance=150%"],
            None,
            "ERROR: --gpuperf-tolerance must be a fraction between 0 and 1 *; got '150%' *",
            id="tolerance-above-one",
        ),
        pytest.param(
            [],
            "gpuperf_tolerance = 5 percent",
            "ERROR: gpuperf_tolerance must be a fraction * written as 10% or 0.1; "
            "got '5 percent' (from config file)",
            id="tolerance-ini",
        ),
        pytest.param(
            ["--gpuperf-max-time=0"],
            None,
            "ERROR: --gpuperf-max-time must be a positive number of seconds with optional ms, "
            "s or m suffix (e.g. 1s or 500ms), at most 86400 s (one day); "
            "got '0' (from command line)",
            id="max-time-zero",
        ),
        pytest.param(
            ["--gpuperf-noise=2 percent"],
            None,
            "ERROR: --gpuperf-noise must be a fraction*got '2 percent' (from command line)",
            id="noise",
        ),
    ],
)
def test_bad_option_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str], ini: str | None, message: str
) -> None:
    if ini is not None:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(TWO_TESTS)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_marker_argument_fails_that_test_at_setup(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.gpuperf(reference=len, rtool=1e-3)
        def test_typo(backend):
            raise AssertionError("the body must not run")

        @pytest.mark.gpuperf(reference=len, tolerance="150%")
        def test_bad_tolerance():
            pass

        @pytest.mark.gpuperf(tolerance="5%")
        def test_fine():
            pass
        """
    )
    result = pytester.runpytest("--gpuperf-backends=numpy")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_typo[[]numpy[]]*",
            "*test_typo[[]numpy[]]: gpuperf got unknown keyword 'rtool'; known keywords: "
            "reference, output, rtol, *",
            "*ERROR at setup of test_bad_tolerance*",
            "*test_bad_tolerance: gpuperf(tolerance=...) must be a fraction between 0 and 1 "
            "*; got '150%' (from marker)",
        ]
    )
    result.stdout.no_fnmatch_line("*the body must not run*")


def test_markers_lists_gpuperf_with_its_signature(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.gpuperf(reference=None, output=None, rtol=None, atol=None, "
            "check_dtype=True, compare=None, min_speedup=None, tolerance=None, max_time=None, "
            "flush_l2=None, bytes=None, flops=None, sweep=None, gate=None, backends=None, "
            "max_memory=None): check the kernel timed by cuda_sync_timer against "
            "reference(*host_inputs)*"
        ]
    )


def test_fixtures_lists_ours_with_docstrings(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*fixtures defined from pytest_gpuperf.plugin*",
            "backend -- *plugin.py:*",
            "    The array backend this test runs on: numpy, numba, numba_cuda or cupy.",
            "gpu_array -- *plugin.py:*",
            "    Factory for input arrays on the backend's device that keeps their host copies.",
            "cuda_sync_timer -- *plugin.py:*",
            "    Run ``kernel(*args)`` and, under ``--gpuperf``, time it correctly.",
        ]
    )


def test_help_lists_the_option_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "GPU kernel correctness and speedup gating:",
            "  --gpuperf *measure kernels*",
            "  --gpuperf-backends=NAMES",
            "  --gpuperf-tolerance=FRACTION",
            "*allowed speedup loss against the baseline, as 10% or 0.1*",
        ]
    )
    result.stdout.fnmatch_lines(["  gpuperf_backends (string):*", "  gpuperf_tolerance (string):*"])


def test_strict_markers_accepts_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import numpy as np
        import pytest

        @pytest.mark.gpuperf(reference=np.negative)
        def test_x(backend, gpu_array, cuda_sync_timer):
            cuda_sync_timer(np.negative, gpu_array(np.arange(3.0)))
        """
    )
    result = pytester.runpytest("--strict-markers", "--gpuperf-backends=numpy,numba")
    result.assert_outcomes(passed=2)


def test_plugin_disabled_leaves_a_plain_suite_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_plain():
            pass

        def test_backend_is_unknown(backend):
            pass
        """
    )
    result = pytester.runpytest("-p", "no:gpuperf")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'backend' not found*"])


def test_plugin_disabled_marker_is_unknown_under_strict_markers(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.gpuperf(min_speedup=2.0)
        def test_x():
            pass
        """
    )
    assert pytester.runpytest("--strict-markers").ret == pytest.ExitCode.OK
    # A subprocess: in-process runs share pytest's cache of known marker names.
    result = pytester.runpytest_subprocess("--strict-markers", "-p", "no:gpuperf")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*'gpuperf' not found in `markers` configuration option*"])


def test_plugin_disabled_removes_options_and_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-p", "no:gpuperf", "--help")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.no_fnmatch_line("*gpuperf*")
    unknown = pytester.runpytest("-p", "no:gpuperf", "--gpuperf")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    unknown.stderr.fnmatch_lines(["*unrecognized arguments: --gpuperf*"])
