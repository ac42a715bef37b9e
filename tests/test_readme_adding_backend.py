"""The README's "Adding a backend" section works as written, with the bundled extras."""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# In-process pytester runs drop modules first imported inside them: import these here.
dask: Any = importlib.import_module("dask") if importlib.util.find_spec("dask") else None
if dask is not None:
    importlib.import_module("dask.array")

DOC = Path(__file__).resolve().parent.parent / "README.md"
BUILTIN = ["numpy", "numba", "numba_cuda", "cupy"]
EXTRAS = ["torch", "jax", "dask"]


def example(name: str) -> str:
    """The code block that follows ``<!-- example: NAME -->`` in the doc."""
    text = DOC.read_text(encoding="utf-8")
    match = re.search(
        rf"<!-- example: {re.escape(name)} -->\s*```python\n(.*?)```", text, flags=re.DOTALL
    )
    assert match is not None, f"{DOC.name} has no example block for {name}"
    return match.group(1)


def test_doc_examples_are_there() -> None:
    assert "pytest_gpuperf_register_backends" in example("conftest.py")
    assert "mydask" in example("test_scale.py")


@pytest.mark.skipif(dask is None, reason="dask: not installed; pip install 'dask[array]'")
@pytest.mark.parametrize("measure", [False, True], ids=["correctness", "gpuperf"])
def test_worked_example_runs(pytester: pytest.Pytester, measure: bool) -> None:
    pytester.makeconftest(example("conftest.py"))
    pytester.makepyfile(test_scale=example("test_scale.py"))
    args = ["-v", "--gpuperf-backends=numpy,mydask"]
    if measure:
        args += ["--gpuperf", "--gpuperf-max-time=0.2"]
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_scale?numpy? PASSED*", "*test_scale?mydask? PASSED*"])
    if measure:
        result.stdout.fnmatch_lines(["*test_scale*mydask*"])


def test_worked_example_is_opt_in(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(example("conftest.py"))
    pytester.makepyfile(test_scale=example("test_scale.py"))
    result = pytester.runpytest("-v")
    result.stdout.no_fnmatch_line("*[[]mydask[]]*")  # no test runs on it
    result.stdout.no_fnmatch_line("mydask:*")  # and none is skipped on it


def test_worked_example_skips_without_dask(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "dask" else real(name, *a)
    )
    pytester.makeconftest(example("conftest.py"))
    pytester.makepyfile(test_scale=example("test_scale.py"))
    result = pytester.runpytest("-rs", "--gpuperf-backends=mydask")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*mydask: not installed; pip install 'dask?array?'"])


def _ids(result: pytest.RunResult) -> list[str]:
    return [
        line.split("[", 1)[1].split("]", 1)[0] for line in result.outlines if "::test_x[" in line
    ]


def test_extras_are_registered_but_not_run_by_default(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(backend): pass")
    assert _ids(pytester.runpytest("-v")) == BUILTIN
    chosen = pytester.runpytest("-v", "--gpuperf-backends=dask,numpy,jax,torch")
    assert _ids(chosen) == ["dask", "numpy", "jax", "torch"]


def test_extras_come_after_the_builtins_in_known_names(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("--gpuperf-backends=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*unknown backend 'nope'; known backends: {', '.join(BUILTIN + EXTRAS)}"]
    )


def test_extras_come_only_from_their_plugin(pytester: pytest.Pytester) -> None:
    """Without the gpuperf_extra plugin the names are unknown: the hook is their only way in."""
    pytester.makepyfile("def test_x(backend): pass")
    result = pytester.runpytest("-p", "no:gpuperf_extra", "--gpuperf-backends=torch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*unknown backend 'torch'; known backends: {', '.join(BUILTIN)}"])


def test_extra_plugin_is_harmless_when_gpuperf_is_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:gpuperf")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("module", "cls", "extra"),
    [
        ("torch_backend", "TorchBackend", "torch"),
        ("jax_backend", "JaxBackend", "jax"),
        ("dask_backend", "DaskBackend", "dask"),
    ],
)
def test_missing_library_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, module: str, cls: str, extra: str
) -> None:
    backend = getattr(importlib.import_module(f"pytest_gpuperf.backends.{module}"), cls)()
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == extra else real(name, *a)
    )
    assert backend.available() == (f"{extra}: not installed; pip install 'pytest-gpuperf[{extra}]'")


def test_missing_library_skips_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "jax" else real(name, *a)
    )
    pytester.makepyfile("def test_x(backend): pass")
    result = pytester.runpytest("-rs", "--gpuperf-backends=jax")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*jax: not installed; pip install 'pytest-gpuperf?jax?'"])


def test_registering_imports_no_array_library() -> None:
    """The plugin modules and the backend classes cost nothing until a backend is used."""
    code = (
        "import sys\n"
        "import pytest_gpuperf.plugin, pytest_gpuperf.backends.extra\n"
        "from pytest_gpuperf.backends import torch_backend, jax_backend, dask_backend\n"
        "backends = [torch_backend.TorchBackend(), jax_backend.JaxBackend(),\n"
        "            dask_backend.DaskBackend()]\n"
        "heavy = {'numpy', 'numba', 'cupy', 'torch', 'jax', 'dask', 'distributed'}\n"
        "print(sorted(heavy & {name.split('.')[0] for name in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
