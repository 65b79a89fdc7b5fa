"""`Logged`: which of a task's arguments its log lines may show.

A worker logs one line when a task starts, with the call. Arguments are often what logs must
not hold (an e-mail address, a token), so a log line shows an argument only when its parameter
says so, as in pydocket::

    async def setup_customer(
        customer_id: Annotated[int, Logged],
        addresses: Annotated[list[Address], Logged(length_only=True)],
        password: str,
    ) -> None: ...

    # started setup_customer(123, [len 2], ...) (key ..., 0.3 ms late)

Every other argument shows as ``...``. `strew snapshot` and `strew watch` show every argument:
they read the store, which holds them anyway, for someone who asked to look.
"""

from __future__ import annotations

import typing
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from strew.task.signatures import PerFunction, layout_of, per_function

MAX_SHOWN = 120
"""Longest argument list a call's repr shows before it is cut with ``...``."""


class Logged:
    """Marks a parameter whose argument a task's log lines show: its ``repr``, or with
    ``length_only`` only its length (``[len 3]``, ``(len 3)``, ``{len 3}``), for arguments too
    long or too private to print. Use it in ``Annotated[type, Logged]`` (or ``Logged(...)``)."""

    def __init__(self, length_only: bool = False) -> None:
        if not isinstance(length_only, bool):
            raise TypeError(f"length_only must be True or False, got {length_only!r}")
        self.length_only = length_only

    def __repr__(self) -> str:
        return f"Logged(length_only={self.length_only})"

    def format(self, argument: Any) -> str:
        if self.length_only:
            try:
                size = len(argument)
            except TypeError:
                return safe_repr(argument)
            if isinstance(argument, dict | set | frozenset):
                return f"{{len {size}}}"
            if isinstance(argument, tuple):
                return f"(len {size})"
            return f"[len {size}]"
        return safe_repr(argument)


def safe_repr(argument: Any) -> str:
    """``repr(argument)``, or a stand-in naming its type when that raises: a log line must
    never be the reason a task does not run."""
    try:
        return repr(argument)
    except Exception as error:
        return f"<{type(argument).__name__} whose repr raised {type(error).__name__}>"


def _marker_in(annotation: object) -> Logged | None:
    for item in getattr(annotation, "__metadata__", ()):
        if isinstance(item, Logged):
            return item
        if item is Logged:
            return Logged()
    return None


_logged: PerFunction[Mapping[str, Logged]] = weakref.WeakKeyDictionary()


def _read_logged(function: Callable[..., Any]) -> Mapping[str, Logged]:
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception:  # a name the annotations use cannot be resolved: none is Logged
        hints = {}
    marked: dict[str, Logged] = {}
    for parameter in layout_of(function).parameters:
        marker = _marker_in(hints.get(parameter.name, parameter.annotation))
        if marker is not None:
            marked[parameter.name] = marker
    return marked


def logged_parameters(function: Callable[..., Any]) -> Mapping[str, Logged]:
    """The parameters of ``function`` marked `Logged`, by name (read once per function).
    String annotations (``from __future__ import annotations``) are resolved; a function
    whose annotations cannot be resolved logs none of its arguments."""
    return per_function(_logged, function, lambda: _read_logged(function))


def shown_arguments(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
) -> list[str]:
    """How each argument of a call of ``function`` appears in a log line: formatted when its
    parameter is `Logged` (a ``*args`` or ``**kwargs`` parameter marks all it collects),
    ``...`` otherwise; keyword arguments as ``name=...``."""
    layout = layout_of(function)
    marked = logged_parameters(function)
    shown: list[str] = []
    for index, argument in enumerate(args):
        if index < len(layout.positional):
            marker = marked.get(layout.positional[index])
        else:
            marker = marked.get(layout.rest) if layout.rest is not None else None
        shown.append(marker.format(argument) if marker is not None else "...")
    for name, argument in kwargs.items():
        marker = marked.get(name)
        if marker is None and layout.extra is not None and name not in layout.names:
            marker = marked.get(layout.extra)
        shown.append(f"{name}={marker.format(argument) if marker is not None else '...'}")
    return shown


def call_text(function_name: str, arguments: list[str]) -> str:
    """``name(a, b, c=d)``, the argument list cut to `MAX_SHOWN` characters."""
    text = ", ".join(arguments)
    if len(text) > MAX_SHOWN:
        text = text[: MAX_SHOWN - 3] + "..."
    return f"{function_name}({text})"
