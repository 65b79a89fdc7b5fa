"""`check_task`: the checks `Docket.register` makes on a function's markers."""

from __future__ import annotations

import inspect

from ..execution import TaskFunction
from .base import Dependency, markers_of
from .context import TaskArgumentMarker
from .retry import Retry


def check_task(function: TaskFunction) -> None:
    """Raise ValueError, naming the function, the parameter and the value, for markers that
    cannot work: two of a single kind, bad settings, a TaskArgument naming no parameter."""
    label = getattr(function, "__qualname__", repr(function))
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return
    names = set(signature.parameters)
    seen: dict[type, str] = {}
    for name, marker in markers_of(function):
        kind = Retry if isinstance(marker, Retry) else type(marker)
        if marker.single:
            if kind in seen:
                raise ValueError(
                    f"task {label}: parameter {name!r} is a second {kind.__name__} "
                    f"({marker!r}); parameter {seen[kind]!r} already is one"
                )
            seen[kind] = name
        if signature.parameters[name].kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ValueError(
                f"task {label}: parameter {name!r} has a dependency default ({marker!r}) but "
                "is positional-only; the worker passes dependencies by name"
            )
        _check_marker(label, name, marker, names, top=True, seen=set())


def _check_marker(
    label: str,
    path: str,
    marker: Dependency,
    task_parameters: set[str],
    *,
    top: bool,
    seen: set[int],
) -> None:
    """``path`` names the parameter for the error (``client.session.customer_id`` for a
    marker nested in factories); its last part is the parameter itself."""
    name = path.rpartition(".")[2]
    problem = marker.problem()
    if problem:
        raise ValueError(f"task {label}: parameter {path!r} ({marker!r}): {problem}")
    if isinstance(marker, TaskArgumentMarker):
        target = marker.name or name
        if top and marker.name is None:
            raise ValueError(
                f"task {label}: parameter {path!r} is TaskArgument() without a name, which "
                "would be its own value; name another parameter"
            )
        if target not in task_parameters:
            raise ValueError(
                f"task {label}: parameter {path!r} ({marker!r}) names {target!r}, which is not "
                f"a parameter of the task (parameters: {', '.join(sorted(task_parameters))})"
            )
    if id(marker) in seen:  # a factory that depends on itself: stop here, do not recurse
        return
    seen.add(id(marker))
    for inner_name, inner in marker.nested():
        _check_marker(label, f"{path}.{inner_name}", inner, task_parameters, top=False, seen=seen)
