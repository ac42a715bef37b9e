# ruff: noqa: E501
"""Inputs for ``test_plugin_bad_input.py``: bad options, ini keys, baseline files, markers.

Each case is (id, input, expected first line as an fnmatch pattern). The first
line is what a user sees first; the catalogue keeps each one from regressing.
"""

from __future__ import annotations

import json

MACHINE_FP = "Test CPU x2 | no GPU"

ENTRY = {
    "speedup": 4.0,
    "ci_low": 3.6,
    "ci_high": 4.4,
    "kernel_median_s": 0.001,
    "reference_median_s": 0.004,
    "samples": 30,
    "dtypes": ["float32"],
    "shapes": [[1024]],
    "versions": {"numpy": "2.1.0"},
    "timestamp": "2024-05-01T12:00:00+00:00",
    "foreign_cpu": 0.02,
}


def baseline_doc(**entry_changes: object) -> dict[str, object]:
    """A valid baseline document with one entry, ``entry_changes`` applied to it."""
    entry = {**ENTRY, **entry_changes}
    for key, value in entry_changes.items():
        if value is DROP:
            del entry[key]
    return {
        "schema": 2,
        "machines": {
            MACHINE_FP: {"machine": {}, "tests": {"t.py::test_x": {"numba": {"runs": [entry]}}}}
        },
    }


DROP = object()
VALID_BASELINE = json.dumps(baseline_doc(), indent=2, sort_keys=True) + "\n"


def _doc(mutate: object) -> str:
    doc = baseline_doc()
    mutate(doc)  # type: ignore[operator]
    return json.dumps(doc)


def _slot(doc: dict[str, object]) -> dict[str, object]:
    return doc["machines"][MACHINE_FP]  # type: ignore[index,no-any-return]


#: (id, option arguments, first line of stderr). Every one is a usage error (exit 4).
BAD_OPTIONS = [
    (
        "tolerance-word",
        ["--gpuperf-tolerance=abc"],
        "ERROR: --gpuperf-tolerance must be a fraction between 0 and 1 *; got 'abc' (from command line)",
    ),
    (
        "tolerance-over-1",
        ["--gpuperf-tolerance=150%"],
        "ERROR: --gpuperf-tolerance must be a fraction * got '150%' *",
    ),
    (
        "tolerance-negative",
        ["--gpuperf-tolerance=-5%"],
        "ERROR: --gpuperf-tolerance must be a fraction * got '-5%' *",
    ),
    (
        "noise-words",
        ["--gpuperf-noise=2 percent"],
        "ERROR: --gpuperf-noise must be a fraction * got '2 percent' *",
    ),
    (
        "noise-nan",
        ["--gpuperf-noise=nan"],
        "ERROR: --gpuperf-noise must be a fraction * got 'nan' *",
    ),
    (
        "contention-2",
        ["--gpuperf-contention=2"],
        "ERROR: --gpuperf-contention must be a fraction * got '2' *",
    ),
    (
        "max-time-zero",
        ["--gpuperf-max-time=0"],
        "ERROR: --gpuperf-max-time must be a positive number of seconds * got '0' (from command line)",
    ),
    (
        "max-time-400-digits",
        ["--gpuperf-max-time=" + "9" * 400],
        "ERROR: --gpuperf-max-time must be * at most 86400 s (one day); got '999*...*9' (from command line)",
    ),
    ("max-time-inf", ["--gpuperf-max-time=inf"], "ERROR: --gpuperf-max-time must be * got 'inf' *"),
    (
        "max-time-2-days",
        ["--gpuperf-max-time=172800"],
        "ERROR: --gpuperf-max-time must be * at most 86400 s (one day); got '172800' *",
    ),
    ("max-time-hours", ["--gpuperf-max-time=1h"], "ERROR: --gpuperf-max-time must be * got '1h' *"),
    (
        "backends-empty",
        ["--gpuperf-backends=,"],
        "ERROR: --gpuperf-backends must list at least one backend, e.g. numpy,numba; got ',' *",
    ),
    (
        "backends-twice",
        ["--gpuperf-backends=numpy,numpy"],
        "ERROR: --gpuperf-backends names backend 'numpy' twice; list each backend once, e.g. numpy; got 'numpy,numpy' (from command line)",
    ),
    (
        "backends-unknown",
        ["--gpuperf-backends=numpy,nope"],
        "ERROR: --gpuperf-backends names unknown backend 'nope'; known backends: numpy, *",
    ),
    (
        "dask-address-bare",
        ["--gpuperf-dask-address=localhost"],
        "ERROR: --gpuperf-dask-address must be a dask scheduler address * got 'localhost' *",
    ),
    (
        "dask-address-port",
        ["--gpuperf-dask-address=tcp://h:99999"],
        "ERROR: --gpuperf-dask-address must be * got 'tcp://h:99999' *",
    ),
    (
        "tolerance-8MB",
        ["--gpuperf-tolerance=" + "x" * 8_000_000],
        "ERROR: --gpuperf-tolerance must be a fraction * got 'xxx*...*x' (from command line)",
    ),
    (
        "json-name-too-long",
        ["--gpuperf-json=" + "x" * 300 + ".json"],
        "ERROR: --gpuperf-json must name a file whose file and folder names are at most 255 bytes long; got 'xxx*...*x.json' (from command line), with a name of 305 bytes; give a shorter name",
    ),
    (
        "markdown-name-too-long",
        ["--gpuperf-markdown=reports/" + "x" * 300 + ".md"],
        "ERROR: --gpuperf-markdown must name a file whose file and folder names are at most 255 bytes long; got 'reports/xxx*...*x.md' (from command line), with a name of 303 bytes; give a shorter name",
    ),
]

#: (id, ini line, first line of stderr). Every one is a usage error (exit 4).
BAD_INI = [
    (
        "tolerance",
        "gpuperf_tolerance = lots",
        "ERROR: gpuperf_tolerance must be a fraction * got 'lots' (from config file)",
    ),
    (
        "max-time",
        "gpuperf_max_time = -1",
        "ERROR: gpuperf_max_time must be a positive number * got '-1' (from config file)",
    ),
    (
        "noise",
        "gpuperf_noise = 5",
        "ERROR: gpuperf_noise must be a fraction * got '5' (from config file)",
    ),
    (
        "contention",
        "gpuperf_contention = x",
        "ERROR: gpuperf_contention must be a fraction * got 'x' (from config file)",
    ),
    (
        "backends-twice",
        "gpuperf_backends = numpy,numpy",
        "ERROR: gpuperf_backends names backend 'numpy' twice*(from config file)",
    ),
    (
        "backends-unknown",
        "gpuperf_backends = numpy,nope",
        "ERROR: gpuperf_backends (from config file) names unknown backend 'nope'*",
    ),
    (
        "flush-l2-maybe",
        "gpuperf_flush_l2 = maybe",
        "ERROR: gpuperf_flush_l2 must be true or false (or yes/no, on/off, 1/0); got 'maybe' (from config file */tox.ini)",
    ),
    (
        "fail-inconclusive",
        "gpuperf_fail_inconclusive = perhaps",
        "ERROR: gpuperf_fail_inconclusive must be true or false * got 'perhaps' (from config file */tox.ini)",
    ),
    (
        "markdown-name-too-long",
        "gpuperf_markdown = " + "x" * 300 + ".md",
        "ERROR: gpuperf_markdown must name a file whose file and folder names are at most 255 bytes long; got 'xxx*...*x.md' (from config file), with a name of 303 bytes; give a shorter name",
    ),
    (
        "dask-address",
        "gpuperf_dask_address = nowhere",
        "ERROR: gpuperf_dask_address must be a dask scheduler address * got 'nowhere' (from config file)",
    ),
]

#: (id, baseline file content, first line of stderr after "ERROR: <path>: "). Exit 4.
BAD_BASELINES = [
    ("empty", "", "not valid JSON (*); the file is corrupt or truncated; restore it *"),
    ("open-brace", "{", "not valid JSON (*); the file is corrupt or truncated; *"),
    ("truncated", VALID_BASELINE[: len(VALID_BASELINE) // 2], "not valid JSON (*"),
    ("top-level-list", "[]", "the top level must be a JSON object, got []; restore it *"),
    ("schema-missing", json.dumps({"machines": {}}), "missing or unknown 'schema' None *"),
    (
        "schema-string",
        json.dumps({"schema": "1", "machines": {}}),
        "missing or unknown 'schema' '1' *",
    ),
    ("schema-zero", json.dumps({"schema": 0, "machines": {}}), "missing or unknown 'schema' 0 *"),
    (
        "schema-newer",
        json.dumps({"schema": 99, "machines": {}}),
        "schema 99 was written by a newer pytest-gpuperf *; upgrade pytest-gpuperf",
    ),
    (
        "extra-top-key",
        json.dumps({"schema": 1, "machines": {}, "x": 1}),
        "the top level must hold exactly the keys ['machines', 'schema'], got *",
    ),
    (
        "machines-list",
        json.dumps({"schema": 1, "machines": []}),
        "'machines' must be a JSON object, got []; *",
    ),
    (
        "slot-string",
        _doc(lambda d: d["machines"].update({MACHINE_FP: "h100"})),
        "machines[*] must be a JSON object, got 'h100'; *",
    ),
    (
        "slot-no-tests",
        _doc(lambda d: _slot(d).pop("tests")),
        "machines[*] must hold exactly the keys ['machine', 'tests'], got ['machine']; *",
    ),
    (
        "machine-list",
        _doc(lambda d: _slot(d).update(machine=[])),
        "machines[*].machine must be a JSON object, got []; *",
    ),
    (
        "tests-list",
        _doc(lambda d: _slot(d).update(tests=[])),
        "machines[*].tests must be a JSON object, got []; *",
    ),
    (
        "backends-list",
        _doc(lambda d: _slot(d)["tests"].update({"t.py::test_x": []})),
        "machines[*].tests['t.py::test_x'] must be a JSON object, got []; *",
    ),
    (
        "entry-number",
        json.dumps(baseline_doc()).replace('"numba": {', '"numba": 3, "x": {'),
        "machines[*]['numba']: must be an object {'runs': [...]}, got 3; *",
    ),
    (
        "entry-missing-field",
        json.dumps(baseline_doc(samples=DROP)),
        "*: missing fields ['samples'], unknown fields []; *",
    ),
    (
        "entry-unknown-field",
        json.dumps(baseline_doc(colour="red")),
        "*: missing fields [], unknown fields ['colour']; *",
    ),
    (
        "speedup-string",
        json.dumps(baseline_doc(speedup="4")),
        "*: 'speedup' must be a number, got '4'; *",
    ),
    (
        "speedup-negative",
        json.dumps(baseline_doc(speedup=-4.0, ci_low=-5.0)),
        "*: 'speedup' must be a finite number > 0, got -4.0; *",
    ),
    (
        "speedup-nan",
        json.dumps(baseline_doc()).replace('"speedup": 4.0', '"speedup": NaN'),
        "not valid JSON (NaN is not a valid number here*",
    ),
    (
        "infinity",
        json.dumps(baseline_doc()).replace('"ci_high": 4.4', '"ci_high": Infinity'),
        "not valid JSON (Infinity is not a valid number here*",
    ),
    (
        "interval-misses-speedup",
        json.dumps(baseline_doc(ci_low=4.1)),
        "*: the interval must hold the speedup *",
    ),
    ("samples-zero", json.dumps(baseline_doc(samples=0)), "*: 'samples' must be >= 1, got 0; *"),
    (
        "samples-float",
        json.dumps(baseline_doc(samples=3.5)),
        "*: 'samples' must be an integer, got 3.5; *",
    ),
    (
        "timestamp-bad",
        json.dumps(baseline_doc(timestamp="yesterday")),
        "*: 'timestamp' must be ISO 8601, got 'yesterday'; *",
    ),
    (
        "shapes-negative",
        json.dumps(baseline_doc(shapes=[[-1]])),
        "*: 'shapes' must hold non-negative sizes*",
    ),
    (
        "versions-number",
        json.dumps(baseline_doc(versions={"numpy": 2})),
        "*: 'versions' must be an object of strings, got {'numpy': 2}; *",
    ),
    (
        "foreign-cpu-2",
        json.dumps(baseline_doc(foreign_cpu=2.0)),
        "*: 'foreign_cpu' must be a share between 0 and 1, got 2.0; *",
    ),
    (
        "nested-100k",
        "[" * 100_000 + "]" * 100_000,
        "nested deeper than the 64-level limit (from the default baseline path); this is not a baseline file pytest-gpuperf wrote; *",
    ),
    (
        "huge-bad-value",
        json.dumps(baseline_doc(dtypes=list(range(1_000_000)))),
        "*: 'dtypes' must be a list of strings, got [0, 1, 2, 3, 4, 5, 6, 7, ...]; *",
    ),
]

#: (id, marker arguments as source, first line of the setup failure). Each fails its test.
BAD_MARKERS = [
    ("rtol-inf", "rtol=math.inf", "*: gpuperf(rtol=...) must be a finite number >= 0; got inf"),
    ("atol-negative", "atol=-1", "*: gpuperf(atol=...) must be a number >= 0; got -1"),
    (
        "tolerance-150",
        "tolerance='150%'",
        "*: gpuperf(tolerance=...) must be a fraction between 0 and 1 * got '150%' (from marker)",
    ),
    (
        "max-time-zero",
        "max_time=0",
        "*: gpuperf(max_time=...) must be a positive number of seconds * got 0 (from marker)",
    ),
    (
        "min-speedup-zero",
        "min_speedup=0",
        "*: gpuperf(min_speedup=...) must be a finite number > 0; got 0",
    ),
    (
        "output-word",
        "output='last'",
        "*: gpuperf(output=...) must be the index of the output argument, e.g. output=-1; got 'last'",
    ),
    (
        "check-dtype-word",
        "check_dtype='yes'",
        "*: gpuperf(check_dtype=...) must be True or False; got 'yes'",
    ),
    ("compare-number", "compare=1", "*: gpuperf(compare=...) must be a callable; got 1"),
    (
        "reference-name",
        "reference='np.add'",
        "*: gpuperf(reference=...) must be a callable; got 'np.add'",
    ),
    ("flush-l2-int", "flush_l2=1", "*: gpuperf(flush_l2=...) must be True or False; got 1"),
    ("bytes-word", "bytes='many'", "*: gpuperf(bytes=...) must be a number >= 0; got 'many'"),
    ("flops-inf", "flops=math.inf", "*: gpuperf(flops=...) must be a finite number >= 0; got inf"),
    (
        "sweep-dash",
        "sweep='n-size'",
        "*: gpuperf(sweep=...) must name the size parameter, e.g. sweep='n'; got 'n-size'",
    ),
    (
        "backends-string",
        "backends='numpy'",
        "*: gpuperf(backends=...) must be a list of backend names, e.g. backends=('numpy', 'numba'); got 'numpy'",
    ),
    (
        "backends-unknown",
        "backends=('numpy', 'nope')",
        "*: gpuperf(backends=...) names unknown backend 'nope'; known backends: numpy, *",
    ),
    (
        "positional",
        "'numpy'",
        "*: gpuperf takes keyword arguments only, e.g. gpuperf(reference=fn); got positional ('numpy',)",
    ),
    (
        "unknown-keyword",
        "rtool=1e-3",
        "*: gpuperf got unknown keyword 'rtool'; known keywords: reference, *",
    ),
    (
        "huge-value",
        "compare=list(range(1_000_000))",
        "*: gpuperf(compare=...) must be a callable; got [0, 1, 2, 3, 4, 5, 6, 7, ...]",
    ),
]

#: (id, kernel, marker keywords, first line of the failure) for one measured run.
KERNEL_CASES = [
    (
        "raises-first",
        "raise_first",
        {},
        "pytest_gpuperf.fixtures.sync_timer.KernelError: raise_first on numpy raised ValueError: boom",
    ),
    (
        "raises-later",
        "raise_later",
        {},
        "pytest_gpuperf.fixtures.sync_timer.KernelError: raise_later on numpy raised ValueError: late boom (in timed sample *, after the first call had passed; if it changes its own inputs, pass restore_inputs=True to cuda_sync_timer)",
    ),
    (
        "reference-overflows-later",
        "good",
        {"reference": "overflow_later"},
        "pytest_gpuperf.fixtures.sync_timer.KernelError: overflow_later on host raised OverflowError: int32 overflow (in timed sample *",
    ),
    (
        "wrong-shape",
        "wrong_shape",
        {},
        "Failed: *: wrong_shape on numpy: shape mismatch: actual (3,) vs expected (4,)",
    ),
    ("wrong-dtype", "wrong_dtype", {}, "Failed: *: wrong_dtype on numpy: dtype mismatch*"),
    ("nan", "nan_result", {}, "Failed: *: nan_result on numpy: * elements differ*"),
    (
        "returns-none",
        "returns_none",
        {},
        "Failed: returns_none on numpy returned None; name the argument it writes with gpuperf(output=INDEX), e.g. output=-1",
    ),
    (
        "output-out-of-range",
        "good",
        {"output": "5"},
        "Failed: gpuperf(output=5) is out of range: the kernel got 1 arguments",
    ),
    (
        "bytes-returns-string",
        "good",
        {"bytes": "lambda a: 'many'"},
        "Failed: gpuperf(bytes=...) returned 'many'; it must return a finite number >= 0 (the work of one call)",
    ),
    (
        "bytes-raises",
        "good",
        {"bytes": "lambda a: 1 / 0"},
        "Failed: gpuperf(bytes=...) raised ZeroDivisionError: division by zero; it is called with the host inputs *",
    ),
    (
        "flops-nan",
        "good",
        {"flops": "lambda a: float('nan')"},
        "Failed: gpuperf(flops=...) returned nan; it must return a finite number >= 0 *",
    ),
]

#: (id, gpuperf arguments, first line of stderr). Every one exits 2.
CLI_CASES = [
    (
        "show-missing",
        ["show", "nope.json"],
        "gpuperf show: error: nope.json: no baseline file here; record one with pytest --gpuperf --gpuperf-save, or pass the file's path",
    ),
    (
        "show-directory",
        ["show", "."],
        "gpuperf show: error: .: is a directory, not a baseline file; pass the file, e.g. baselines.json",
    ),
    (
        "show-corrupt",
        ["show", "corrupt.json"],
        "gpuperf show: error: corrupt.json: not valid JSON (*) (from the BASELINE argument); the file is corrupt or truncated; check that the BASELINE argument names your baseline file; *",
    ),
    (
        "show-deep",
        ["show", "deep.json"],
        "gpuperf show: error: deep.json: nested deeper than the 64-level limit *",
    ),
    (
        "compare-missing",
        ["compare", "nope.json", "run.json"],
        "gpuperf compare: error: nope.json: no such file; pass a file written by: pytest --gpuperf --gpuperf-json=PATH",
    ),
    (
        "compare-not-a-report",
        ["compare", "baselines.json", "run.json"],
        "gpuperf compare: error: baselines.json: not a gpuperf run report *",
    ),
    (
        "compare-deep",
        ["compare", "deep.json", "run.json"],
        "gpuperf compare: error: deep.json: nested deeper than the 64-level limit; pass a file written by*",
    ),
    (
        "compare-zero-speedup",
        ["compare", "zero.json", "run.json"],
        "gpuperf compare: error: zero.json: benchmarks[0] 'speedup' of t.py::test_x on numba must have value, low and high above 0 (it is a ratio of two times); got {*'value': 0.0}; pass a file written by: pytest --gpuperf --gpuperf-json=PATH",
    ),
    (
        "compare-bad-tolerance",
        ["compare", "run.json", "run.json", "--tolerance", "lots"],
        "gpuperf compare: error: --tolerance must be a fraction between 0 and 1 * got 'lots' (from command line)",
    ),
    (
        "accept-corrupt-baseline",
        ["accept", "run.json", "--baseline", "corrupt.json"],
        "gpuperf accept: error: corrupt.json: not valid JSON (*) (from --baseline); *",
    ),
    (
        "accept-no-fingerprint",
        ["accept", "nofp.json"],
        "gpuperf accept: error: nofp.json: the report has no machine_info.gpuperf.fingerprint, *",
    ),
    (
        "prune-unknown-machine",
        ["prune", "--machine", "other", "--baseline", "baselines.json"],
        "gpuperf prune: error: baselines.json: no machine 'other' to prune; known fingerprints: 'Test CPU x2 | no GPU'; pass one of these",
    ),
    (
        "prune-directory",
        ["prune", "--machine", "x", "--baseline", "."],
        "gpuperf prune: error: .: is a directory, not a baseline file; *",
    ),
    ("prune-missing-machine-arg", ["prune"], "usage: gpuperf prune *"),
    ("plot-missing-output", ["plot", "run.json"], "usage: gpuperf plot *"),
    ("unknown-command", ["frobnicate"], "usage: gpuperf *"),
]
