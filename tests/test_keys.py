"""Baseline keys: unambiguous, round-tripping, and unchanged for ordinary ids."""

from __future__ import annotations

import json

import fakeclock_plugin
import pytest

from pytest_gpuperf.store.keys import baseline_key as key_of


def legacy_key(nodeid: str, backend: str) -> str:
    """The key of pytest-gpuperf 0.1: every ``-`` part equal to the backend dropped."""
    head, bracket, params = nodeid.partition("[")
    if not bracket:
        return nodeid
    parts = [p for p in params.rstrip("]").split("-") if p != backend]
    return f"{head}[{'-'.join(parts)}]" if parts else head


ORDINARY = [
    ("t.py::test_a[numba]", ["numba"], 0, "numba"),
    ("t.py::test_a[numba-1024]", ["numba", "1024"], 0, "numba"),
    ("t.py::T::test_a[cupy-float32-8]", ["cupy", "float32-8"], 0, "cupy"),
    ("t.py::test_a[1024-numba]", ["1024", "numba"], 1, "numba"),
    ("t.py::test_a[x-numba_cuda-y]", ["x", "numba_cuda", "y"], 1, "numba_cuda"),
]


@pytest.mark.parametrize(("nodeid", "parts", "position", "backend"), ORDINARY)
def test_ordinary_ids_keep_the_old_key(
    nodeid: str, parts: list[str], position: int, backend: str
) -> None:
    assert key_of(nodeid, parts, position, backend) == legacy_key(nodeid, backend)


@pytest.mark.parametrize(
    ("nodeid", "parts", "position", "expected"),
    [
        ("t.py::test_odd[numpy-a-numpy]", ["numpy", "a-numpy"], 0, "t.py::test_odd[a-numpy]"),
        ("t.py::test_odd[numpy-a]", ["numpy", "a"], 0, "t.py::test_odd[a]"),
        ("t.py::test_odd[numpy-numpy]", ["numpy", "numpy"], 0, "t.py::test_odd[numpy]"),
        (
            "t.py::test_odd[numpy-brackets[1]]",
            ["numpy", "brackets[1]"],
            0,
            "t.py::test_odd[brackets[1]]",
        ),
        ("t.py::test_odd[numpy-a/b]", ["numpy", "a/b"], 0, "t.py::test_odd[a/b]"),
        ("t.py::test_odd[numpy-\\xfc]", ["numpy", "\\xfc"], 0, "t.py::test_odd[\\xfc]"),
        # Position unknown: the one part equal to the backend goes; two of them keep the id whole.
        ("t.py::test_odd[a-numpy]", ["a", "numpy"], None, "t.py::test_odd[a]"),
        ("t.py::test_odd[numpy-numpy]", ["numpy", "numpy"], None, "t.py::test_odd[numpy-numpy]"),
        # No id suffix at all (not parametrized by us): the node id itself.
        ("t.py::test_plain", [], None, "t.py::test_plain"),
    ],
)
def test_key_removes_exactly_the_backend_part(
    nodeid: str, parts: list[str], position: int | None, expected: str
) -> None:
    assert key_of(nodeid, parts, position, "numpy") == expected


ODD_IDS = [
    "a-numpy",
    "a",
    "numpy",
    "brackets[1]",
    "quote'\"",
    "slash/x/y",
    "ünïcode-☃",
    "x" * 300,
    "';echo INJECTED;'",
    "a]-[b",
    "::",
    "",
]

ODD_TEST = f"""
    import numpy as np
    import pytest
    from fakeclock_plugin import advance

    def reference(a):
        advance(10_000)
        return a + 1

    def kernel(a):
        advance(5_000)
        return a + 1

    @pytest.mark.gpuperf(reference=reference)
    @pytest.mark.parametrize("p", {ODD_IDS!r}, ids={ODD_IDS!r})
    def test_odd(backend, gpu_array, cuda_sync_timer, p):
        cuda_sync_timer(kernel, gpu_array(np.zeros(4, dtype=np.float64)))

    @pytest.mark.gpuperf(reference=reference)
    def test_plain(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(kernel, gpu_array(np.zeros(4, dtype=np.float64)))
"""


def test_odd_ids_get_one_baseline_entry_each(pytester: pytest.Pytester) -> None:
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_odd=ODD_TEST)
    args = ("--gpuperf", "--gpuperf-backends=numpy", "--gpuperf-max-time=0.05")
    result = pytester.runpytest(*args, "--gpuperf-save", "--gpuperf-json=run.json")
    result.assert_outcomes(passed=len(ODD_IDS) + 1)
    result.stdout.fnmatch_lines([f"saved {len(ODD_IDS) + 1} baseline(s) to *"])
    stored = json.loads((pytester.path / ".gpuperf/baselines.json").read_text())
    (machine,) = stored["machines"].values()
    report = json.loads((pytester.path / "run.json").read_text())
    key_to_nodeid = {
        b["extra_info"]["gpuperf"]["test_key"]: b["fullname"] for b in report["benchmarks"]
    }
    assert set(machine["tests"]) == set(key_to_nodeid)
    assert len(key_to_nodeid) == len(ODD_IDS) + 1
    # Round trip: the backend's part goes back in front of the id to give the node id.
    for key, nodeid in key_to_nodeid.items():
        if key == "test_odd.py::test_plain":
            assert nodeid == "test_odd.py::test_plain[numpy]"
            continue
        head = "test_odd.py::test_odd["
        assert key.startswith(head)
        assert key.endswith("]")
        assert nodeid == f"{head}numpy-{key[len(head) : -1]}]"
    assert "test_odd.py::test_odd[a-numpy]" in key_to_nodeid
    assert "test_odd.py::test_odd[a]" in key_to_nodeid
    assert "test_odd.py::test_odd[brackets[1]]" in key_to_nodeid
    assert f"test_odd.py::test_odd[{'x' * 300}]" in key_to_nodeid
    # The second run finds every entry: none is new, and each is judged against its own.
    again = pytester.runpytest(*args)
    again.assert_outcomes(passed=len(ODD_IDS) + 1)
    again.stdout.no_fnmatch_line("* new *")
