"""First contact: backends= generates only the declared backends, skips are collapsed,
and in-place kernels can get fresh inputs for every sample."""

from __future__ import annotations

import fakeclock_plugin
import pytest

from pytest_gpuperf.skips import skip_lines, skip_reason

DECLARED = """
    import pytest

    @pytest.mark.gpuperf(backends=("numpy", "numba"))
    def test_declared(backend):
        pass

    def test_everywhere(backend):
        if backend.name == "cupy":
            pytest.skip("cupy: installed, but no CUDA device is visible")
"""


def test_backends_keyword_generates_only_those(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(DECLARED)
    result = pytester.runpytest("--collect-only", "-q", "--gpuperf-backends=numpy,numba,cupy")
    assert result.ret == pytest.ExitCode.OK
    collected = [line for line in result.outlines if "::" in line]
    assert collected == [
        "test_backends_keyword_generates_only_those.py::test_declared[numpy]",
        "test_backends_keyword_generates_only_those.py::test_declared[numba]",
        "test_backends_keyword_generates_only_those.py::test_everywhere[numpy]",
        "test_backends_keyword_generates_only_those.py::test_everywhere[numba]",
        "test_backends_keyword_generates_only_those.py::test_everywhere[cupy]",
    ]


def test_backends_keyword_keeps_the_selection_order_and_filter(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(DECLARED)
    result = pytester.runpytest("--collect-only", "-q", "--gpuperf-backends=numba")
    assert [line for line in result.outlines if "test_declared" in line] == [
        "test_backends_keyword_keeps_the_selection_order_and_filter.py::test_declared[numba]"
    ]


NONE_SELECTED = """
    import pytest

    @pytest.mark.gpuperf(backends=("numpy", "numba"))
    @pytest.mark.parametrize("n", [1, 2])
    def test_declared(backend, n):
        pass

    @pytest.mark.gpuperf(backends=("torch",))
    def test_opt_in(backend):
        pass

    def test_everywhere(backend):
        pass
"""


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["in-process", "xdist"])
def test_a_test_with_none_of_its_backends_selected_says_so_under_its_name(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    pytester.makepyfile(test_sel=NONE_SELECTED)
    run = pytester.runpytest_subprocess if workers else pytester.runpytest
    result = run("-rs", "-p", "no:randomly", *workers, "--gpuperf-backends=cupy,numba_cuda")
    result.assert_outcomes(skipped=5)
    result.stdout.fnmatch_lines_random(
        [
            "test_sel.py::test_declared: 2 tests skipped: not generated: its backends "
            "(numpy, numba) are not among --gpuperf-backends (cupy, numba_cuda)",
            "test_sel.py::test_opt_in: 1 test skipped: not generated: its backends (torch) "
            "are not among --gpuperf-backends (cupy, numba_cuda)",
            "SKIPPED [[]2[]] test_sel.py:*: not generated: its backends (numpy, numba) are not "
            "among --gpuperf-backends (cupy, numba_cuda)",
        ]
    )
    assert "NotSetType" not in result.stdout.str()
    assert "empty parameter set" not in result.stdout.str()


def test_an_opt_in_backend_left_out_by_default_says_how_to_name_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_sel=NONE_SELECTED)
    result = pytester.runpytest("--collect-only", "-q", "-k", "test_opt_in")
    assert [line for line in result.outlines if "::" in line] == ["test_sel.py::test_opt_in[none]"]
    result = pytester.runpytest("-k", "test_opt_in")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        [
            "test_sel.py::test_opt_in: 1 test skipped: not generated: its backends (torch) are "
            "not among the default backends (numpy, numba, numba_cuda, cupy); name them in "
            "--gpuperf-backends to run it"
        ]
    )


def test_skips_are_collapsed_by_backend_and_reason(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        DECLARED
        + """
    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_sized(backend, n):
        if backend.name == "cupy":
            pytest.skip("cupy: installed, but no CUDA device is visible")
        backend.select(numpy=abs)
    """
    )
    result = pytester.runpytest("--gpuperf-backends=numpy,numba,cupy")
    result.assert_outcomes(passed=7, skipped=7)
    result.stdout.fnmatch_lines(
        [
            "*- gpuperf skips -*",
            "cupy: 4 tests skipped: *",
            "numba: 3 tests skipped: no kernel for this backend in backend.select() (given: numpy)",
        ]
    )


def test_no_skip_section_without_backend_skips(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("import pytest\ndef test_x():\n    pytest.skip('not ours')\n")
    result = pytester.runpytest()
    result.assert_outcomes(skipped=1)
    result.stdout.no_fnmatch_line("*gpuperf skips*")


def test_skip_lines_unit() -> None:
    skips = [("cupy", "cupy: no device")] * 2 + [("numba_cuda", "no driver"), ("cupy", "other")]
    assert skip_lines(skips) == [
        "cupy: 2 tests skipped: no device",
        "cupy: 1 test skipped: other",
        "numba_cuda: 1 test skipped: no driver",
    ]
    assert skip_reason(("f.py", 3, "Skipped: why")) == "why"
    assert skip_reason("a string") is None


IN_PLACE = """
    import os

    import numpy as np
    import pytest
    from fakeclock_plugin import advance

    def reference(data):
        advance(10_000)
        total = np.int32(data.sum())
        data[0] = total  # in place, like a reduction into data[0]
        if data[0] > 1_000:
            raise OverflowError("accumulated across samples")
        return data

    def kernel(data):
        advance(5_000)
        data[0] = data.sum()
        return data

    @pytest.mark.gpuperf(reference=reference)
    def test_in_place(backend, gpu_array, cuda_sync_timer):
        data = gpu_array(np.ones(4, dtype=np.int32))
        cuda_sync_timer(kernel, data, restore_inputs=os.environ.get("RESTORE") == "1")
"""


@pytest.mark.parametrize("restore", ["0", "1"])
def test_restore_inputs_gives_every_sample_the_original_values(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, restore: str
) -> None:
    monkeypatch.setenv("RESTORE", restore)
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_in_place=IN_PLACE)
    result = pytester.runpytest("--gpuperf", "--gpuperf-backends=numpy", "--gpuperf-max-time=0.05")
    if restore == "1":
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["test_in_place.py::test_in_place  numpy  *2x*"])
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            [
                "E *pytest_gpuperf.fixtures.sync_timer.KernelError: reference on host raised "
                "OverflowError: "
                "accumulated across samples (in timed sample *, after the first call had passed; "
                "if it changes its own inputs, pass restore_inputs=True to cuda_sync_timer)"
            ]
        )
