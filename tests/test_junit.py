"""The ``gpuperf_*`` properties each measured test writes into ``--junitxml`` output."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import fakeclock_plugin
import pytest

#: A 10 us reference; ``test_fast`` runs 1 us (10x), or 4 us (2.5x) with GPUPERF_SLOW set.
JUNIT_TEST = """
    import os

    import numpy as np
    import pytest
    from fakeclock_plugin import advance

    def reference(a):
        advance(10_000)
        return a + 1

    def fast(a):
        advance(4_000 if os.environ.get("GPUPERF_SLOW") else 1_000)
        return a + 1

    @pytest.mark.gpuperf(reference=reference)
    def test_fast(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(backend.select(numba=fast), gpu_array(np.zeros(8, dtype=np.float64)))

    def test_untimed_reference(backend, gpu_array, cuda_sync_timer):
        cuda_sync_timer(backend.select(numba=fast), gpu_array(np.zeros(8, dtype=np.float64)))

    def test_plain():
        pass
"""


def _properties(path: str) -> dict[str, dict[str, str]]:
    """Test name -> its ``<property>`` name/value pairs."""
    root = ET.parse(path).getroot()
    return {
        case.attrib["name"]: {p.attrib["name"]: p.attrib["value"] for p in case.iter("property")}
        for case in root.iter("testcase")
    }


def test_junitxml_records_speedup_baseline_and_verdict(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_ju=JUNIT_TEST)
    saved = pytester.runpytest("--gpuperf", "--gpuperf-backends=numba", "--gpuperf-save")
    saved.assert_outcomes(passed=3)
    monkeypatch.setenv("GPUPERF_SLOW", "1")
    result = pytester.runpytest("--gpuperf", "--gpuperf-backends=numba", "--junitxml=out.xml")
    result.assert_outcomes(passed=2, failed=1)
    props = _properties(str(pytester.path / "out.xml"))
    fast = props["test_fast[numba]"]
    assert fast == {
        "gpuperf_backend": "numba",
        "gpuperf_median_s": fast["gpuperf_median_s"],
        "gpuperf_speedup": fast["gpuperf_speedup"],
        "gpuperf_speedup_low": fast["gpuperf_speedup_low"],
        "gpuperf_speedup_high": fast["gpuperf_speedup_high"],
        "gpuperf_baseline": fast["gpuperf_baseline"],
        "gpuperf_change": fast["gpuperf_change"],
        "gpuperf_verdict": "REGRESSED",
        "gpuperf_detectable": fast["gpuperf_detectable"],
    }
    # One saved run of two tests: nothing to pool, so the cold-start spread sets the floor.
    assert float(fast["gpuperf_detectable"]) == pytest.approx(0.411, abs=0.001)
    assert float(fast["gpuperf_median_s"]) == pytest.approx(4e-6)
    assert float(fast["gpuperf_speedup"]) == pytest.approx(2.5)
    assert float(fast["gpuperf_speedup_low"]) == pytest.approx(2.5)
    assert float(fast["gpuperf_speedup_high"]) == pytest.approx(2.5)
    assert float(fast["gpuperf_baseline"]) == pytest.approx(10.0)
    assert float(fast["gpuperf_change"]) == pytest.approx(-0.75)
    assert props["test_untimed_reference[numba]"] == {
        "gpuperf_backend": "numba",
        "gpuperf_median_s": props["test_untimed_reference[numba]"]["gpuperf_median_s"],
        "gpuperf_verdict": "timed",
    }
    assert props["test_plain"] == {}


def test_new_test_has_no_baseline_property(pytester: pytest.Pytester) -> None:
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_ju=JUNIT_TEST)
    result = pytester.runpytest(
        "--gpuperf", "--gpuperf-backends=numba", "--junitxml=out.xml", "-k", "fast"
    )
    result.assert_outcomes(passed=1)
    fast = _properties(str(pytester.path / "out.xml"))["test_fast[numba]"]
    assert fast["gpuperf_verdict"] == "new"
    assert float(fast["gpuperf_speedup"]) == pytest.approx(10.0)
    assert "gpuperf_baseline" not in fast
    assert "gpuperf_change" not in fast


def test_no_properties_without_gpuperf(pytester: pytest.Pytester) -> None:
    fakeclock_plugin.makeconftest(pytester)
    pytester.makepyfile(test_ju=JUNIT_TEST)
    result = pytester.runpytest("--gpuperf-backends=numba", "--junitxml=out.xml")
    result.assert_outcomes(passed=3)
    assert all(not p for p in _properties(str(pytester.path / "out.xml")).values())
