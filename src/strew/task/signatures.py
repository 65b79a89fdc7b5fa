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
    )


def layout_of(function: Callable[..., Any]) -> Layout:
    """The parameters of ``function`` (none if its signature cannot be read)."""
    return per_function(_layouts, function, lambda: _read(function))
