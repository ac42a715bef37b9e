"""GPU libraries' performance warnings: recorded around a kernel's calls, never raised there.

On a real GPU numba-cuda warns about small launches (``NumbaPerformanceWarning: Grid
size 2 will likely result in GPU under-utilization due to low occupancy.``) and CuPy
about slow paths (``cupy._util.PerformanceWarning``). Such a warning says the kernel
works, slowly; under ``filterwarnings = error`` it would fail the kernel's call. While
:meth:`PerformanceWarnings.recording` is active, every such warning that a filter does
not ignore is kept (once per distinct text) for the report and handed on once to the
warning display that was in place (pytest's warnings summary), whatever the filter said
("error", "default", "once"). A filter that ignores them still ignores them, and every
other warning behaves as before.

A plain module: no pytest. The classes are recognised by name and module, so that
nothing is imported for them.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import TYPE_CHECKING, Any, cast, final

from pytest_gpuperf.text import plain_text

if TYPE_CHECKING:
    from collections.abc import Iterator

#: ``(top-level package, class name)`` of the warning classes that are recorded, not raised:
#: numba's and numba-cuda's ``NumbaPerformanceWarning`` (``numba.core.errors``,
#: ``numba.cuda.core.errors``) and CuPy's ``cupy._util.PerformanceWarning``.
PERFORMANCE_WARNINGS = frozenset(
    {
        ("numba", "NumbaPerformanceWarning"),
        ("numba_cuda", "NumbaPerformanceWarning"),
        ("cupy", "PerformanceWarning"),
        ("cupyx", "PerformanceWarning"),
    }
)

#: Longest warning text kept; the rest is elided with ``...``.
MAX_TEXT = 300


def is_performance_warning(category: type) -> bool:
    """True for a GPU library's performance warning class, or a subclass of one."""
    return any(
        (str(getattr(cls, "__module__", "")).partition(".")[0], cls.__name__)
        in PERFORMANCE_WARNINGS
        for cls in getattr(category, "__mro__", ())
    )


class _PerformanceOnly(type):
    """Metaclass of a filter category that matches only performance warnings under ``within``."""

    within: type[Warning]

    def __subclasscheck__(cls, subclass: type) -> bool:
        return (
            isinstance(subclass, type)
            and issubclass(subclass, cls.within)
            and is_performance_warning(subclass)
        )


#: The filter categories made so far, by the category they narrow.
_NARROWED: dict[type, type[Warning]] = {}


def _performance_only(within: type[Warning]) -> type[Warning]:
    """A filter category that matches only the performance warnings under ``within``."""
    if within not in _NARROWED:
        name = f"PerformanceWarningUnder{within.__name__}"
        made = _PerformanceOnly(name, (Warning,), {"within": within})
        _NARROWED[within] = cast("type[Warning]", made)
    return _NARROWED[within]


def _show_instead_of_raise() -> None:
    """Rewrite the active filters: for a performance warning, any action but 'ignore' is 'always'.

    Each filter that is not 'ignore' gets an 'always' twin, just before it, that matches
    only performance warnings; 'ignore' filters keep ignoring them; with no filter
    matching, they are shown ('always'). The other entries stay as they are.
    """
    rewritten: list[object] = []
    for entry in warnings.filters:
        action, message, category, module, lineno = entry
        if action != "ignore" and isinstance(category, type):
            rewritten.append(("always", message, _performance_only(category), module, lineno))
        rewritten.append(entry)
    rewritten.append(("always", None, _performance_only(Warning), None, 0))
    warnings.resetwarnings()  # empties the list and tells the warnings machinery it changed
    cast("list[object]", warnings.filters).extend(rewritten)


def warning_text(category: type, message: object) -> str:
    """``NumbaPerformanceWarning: Grid size 2 ...``: one line, terminal escapes removed."""
    text = " ".join(plain_text(str(message)).split())
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 3] + "..."
    return f"{category.__name__}: {text}"


@final
class PerformanceWarnings:
    """The distinct performance warnings of one test's kernel calls, in the order first seen."""

    def __init__(self) -> None:
        self._texts: dict[str, None] = {}

    @property
    def texts(self) -> tuple[str, ...]:
        """Each distinct warning once: ``NumbaPerformanceWarning: Grid size 2 ...``."""
        return tuple(self._texts)

    @contextlib.contextmanager
    def recording(self) -> Iterator[None]:
        """Record performance warnings instead of raising them; others behave as before.

        Enter it once around a phase (first call, samples), not around each call.
        """
        with warnings.catch_warnings():
            _show_instead_of_raise()
            shown = warnings.showwarning

            def show(
                message: Warning | str,
                category: type[Warning],
                filename: str,
                lineno: int,
                file: Any = None,
                line: str | None = None,
            ) -> None:
                if not is_performance_warning(category):
                    shown(message, category, filename, lineno, file, line)
                    return
                text = warning_text(category, message)
                if text not in self._texts:
                    self._texts[text] = None
                    plain = plain_text(str(message))
                    shown(plain, category, filename, lineno, file, line)

            warnings.showwarning = show
            yield
