"""The package layout is the architecture: imports flow one way, and the pure parts stay pure.

Data flows fixtures -> measure -> verdict -> store/report. These tests read every module's
imports (module level and inside functions; ``if TYPE_CHECKING:`` blocks are left out, as
they never run) and fail when an import goes against that flow or closes a circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import pytest_gpuperf

PACKAGE = Path(pytest_gpuperf.__file__).parent
#: Modules any part may use: text formatting and the pure option parsers.
SHARED = {"text", "parsing"}
#: What each sub-package may import besides itself and SHARED.
ALLOWED = {
    "measure": set(),
    "commands": {"store", "verdict", "measure", "report", "machine"},
    "verdict": {"measure"},
    "store": {"verdict", "measure"},
    "report": {"store", "verdict", "measure", "machine"},
    "backends": {"measure"},
    "machine": {"backends", "measure"},
    "scaleout": {"measure", "verdict"},
    "fixtures": {
        "backends",
        "measure",
        "verdict",
        "report",
        "machine",
        "kernel_settings",
        "marker",
    },
}
#: Sub-packages that never import pytest: each can be used and tested without it.
PURE = ("measure", "verdict", "store", "report", "machine")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_statements(
    tree: ast.Module, *, type_only: bool = False
) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that can run, and with ``type_only`` those under ``if TYPE_CHECKING:``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if not type_only and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for n in ast.walk(node))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped
    ]


def _imports(*, type_only: bool = False) -> dict[str, set[str]]:
    """Module -> the pytest_gpuperf modules (and outside top-level names) it imports.

    With ``type_only``, the imports made only for type checkers count too.
    """
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    found: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _import_statements(tree, type_only=type_only):
            if isinstance(node, ast.Import):
                heads = [alias.name for alias in node.names]
            else:
                assert node.level == 0, f"{name}: relative import; use absolute imports"
                base = node.module or ""
                heads = [f"{base}.{alias.name}" for alias in node.names]
            for head in heads:
                if head.startswith("pytest_gpuperf."):
                    inner = head.removeprefix("pytest_gpuperf.")
                    while inner and inner not in modules:  # an attribute, not a module
                        inner = inner.rpartition(".")[0]
                    # A package's own __init__ is imported before any of its modules anyway.
                    if inner and inner != name and not name.startswith(inner + "."):
                        targets.add(inner)
                elif head != "pytest_gpuperf":
                    targets.add("<outside>:" + head.split(".")[0])
        found[name] = targets
    return found


IMPORTS = _imports()
#: The same graph with the imports under ``if TYPE_CHECKING:`` as well.
ALL_IMPORTS = _imports(type_only=True)


def _part(module: str) -> str:
    return module.split(".")[0]


#: Modules that are pytest plugins of their own (entry points): they may use the options.
PLUGINS = {"backends.extra": {"options"}}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_sub_package_imports_only_what_comes_before_it(package: str) -> None:
    allowed = ALLOWED[package] | SHARED | {package}
    wrong = sorted(
        f"{module} imports pytest_gpuperf.{target}"
        for module, targets in IMPORTS.items()
        if _part(module) == package
        for target in targets - PLUGINS.get(module, set())
        if not target.startswith("<outside>:") and _part(target) not in allowed
    )
    assert wrong == []


@pytest.mark.parametrize("package", PURE)
def test_pure_sub_packages_never_import_pytest(package: str) -> None:
    wrong = sorted(
        module
        for module, targets in IMPORTS.items()
        if _part(module) == package and "<outside>:pytest" in targets
    )
    assert wrong == []


def _circles(imports: dict[str, set[str]]) -> list[list[str]]:
    """Every circle of imports found by a depth-first walk of the graph."""
    graph = {m: {t for t in ts if not t.startswith("<outside>:")} for m, ts in imports.items()}
    circles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                circles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return circles


def test_no_module_imports_itself_back_through_a_circle() -> None:
    assert _circles(IMPORTS) == []


def test_no_circle_even_through_imports_made_only_for_type_checkers() -> None:
    """A type-only circle is a design circle too: the two modules can't be read apart."""
    assert _circles(ALL_IMPORTS) == []


def test_the_layout_check_sees_a_wrong_import() -> None:
    """The checks above can fail: the graph they read holds real edges."""
    assert "measure.timer" in IMPORTS["fixtures.sync_timer"]
    assert "verdict.gate" in IMPORTS["report.table"]
    assert "<outside>:pytest" in IMPORTS["plugin"]
    assert "options" not in IMPORTS["fixtures.sync_timer"]  # for type checkers only
    assert "options" in ALL_IMPORTS["fixtures.sync_timer"]
