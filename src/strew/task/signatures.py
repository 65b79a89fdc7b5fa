"""What strew reads off a function's signature, read once per function.

The worker needs a task's parameter layout on every run (to name its positional arguments
for dependencies, to show `Logged` ones in its log line); reading a signature costs tens of
microseconds, so it is read once and kept — weakly, so that a function that goes away (a task
defined inside a test, say) is not kept alive by the cache.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

PerFunction = weakref.WeakKeyDictionary[Callable[..., Any], T]


def per_function(cache: PerFunction[T], function: Callable[..., Any], make: Callable[[], T]) -> T:
    """``cache[function]``, made by ``make()`` the first time. A function that cannot be
    weakly referenced (or hashed) is simply not cached."""
    try:
        return cache[function]
    except (KeyError, TypeError):  # not yet read, or not weakly referenceable
        pass
    value = make()
    with suppress(TypeError):
        cache[function] = value
    return value


@dataclass(frozen=True, slots=True)
class Layout:
    parameters: tuple[inspect.Parameter, ...]
    positional: tuple[str, ...]
    """Parameters an argument can fill by position, in order."""
    rest: str | None
    """The ``*args`` parameter."""
    extra: str | None
    """The ``**kwargs`` parameter."""
    names: frozenset[str]
    keywords: frozenset[str] = frozenset()
    """Parameters a keyword argument can fill (not positional-only, not ``*``/``**``)."""
    required: tuple[str, ...] = ()
    """Parameters a call must fill: no default, not ``*args`` or ``**kwargs``."""


_layouts: PerFunction[Layout] = weakref.WeakKeyDictionary()


def _read(function: Callable[..., Any]) -> Layout:
    try:
        parameters = tuple(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):  # no readable signature: nothing to name
        parameters = ()
    kinds = inspect.Parameter
    by_position = (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    return Layout(
        parameters,
        tuple(p.name for p in parameters if p.kind in by_position),
        next((p.name for p in parameters if p.kind is kinds.VAR_POSITIONAL), None),
        next((p.name for p in parameters if p.kind is kinds.VAR_KEYWORD), None),
        frozenset(p.name for p in parameters),
        frozenset(
            p.name
            for p in parameters
            if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
        ),
        tuple(
            p.name
            for p in parameters
            if p.default is kinds.empty and p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)
        ),
    )


def layout_of(function: Callable[..., Any]) -> Layout:
    """The parameters of ``function`` (none if its signature cannot be read)."""
    return per_function(_layouts, function, lambda: _read(function))


def call_problem(
    function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> str | None:
    """What is wrong with calling ``function(*args, **kwargs)``, in Python's own words, or
    None. As `inspect.Signature.bind` would say, at a fraction of its cost (a scatter checks
    every call). A function whose signature cannot be read accepts anything."""
    layout = layout_of(function)
    if not layout.parameters:
        return None
    if len(args) > len(layout.positional) and layout.rest is None:
        return (
            f"takes {len(layout.positional)} positional argument"
            f"{'' if len(layout.positional) == 1 else 's'} but {len(args)} were given"
        )
    filled = set(layout.positional[: len(args)])
    for name in kwargs:
        if name in filled:
            return f"got multiple values for argument {name!r}"
        if name not in layout.keywords and layout.extra is None:
            return f"got an unexpected keyword argument {name!r}"
    missing = [name for name in layout.required if name not in filled and name not in kwargs]
    if missing:
        shown = ", ".join(repr(name) for name in missing)
        return (
            f"missing {len(missing)} required argument{'' if len(missing) == 1 else 's'}: {shown}"
        )
    return None


def check_call(
    function: Callable[..., Any], name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    """Raise TypeError, naming the task, when ``function`` cannot be called with these
    arguments: before anything is written, not when a worker runs it."""
    problem = call_problem(function, args, kwargs)
    if problem is not None:
        raise TypeError(f"task {name!r}: {name}() {problem}")
