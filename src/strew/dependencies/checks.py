"""`check_task`: the checks `Docket.register` makes on a function's markers."""

from __future__ import annotations

import inspect

from strew.dependencies.admission import check_admission
from strew.dependencies.base import Dependency, markers_of
from strew.dependencies.context import CallArgumentMarker, TaskArgumentMarker
from strew.dependencies.factories import FactoryMarker, SharedMarker
from strew.dependencies.hooks import hook_family
from strew.dependencies.perpetual import check_perpetual
from strew.task.execution import TaskFunction


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
    hooks: dict[type, tuple[str, Dependency]] = {}
    for name, marker in markers_of(function):
        # The class that declared ``single``: ExponentialRetry counts as a Retry, Cron as a
        # Perpetual.
        kind = next(c for c in type(marker).__mro__ if "single" in vars(c))
        if marker.single:
            if kind in seen:
                raise ValueError(
                    f"task {label}: parameter {name!r} is a second {kind.__name__} "
                    f"({marker!r}); parameter {seen[kind]!r} already is one"
                )
            seen[kind] = name
        family = hook_family(marker)
        if family is not None:
            if family in hooks:
                other, first = hooks[family]
                raise ValueError(
                    f"task {label}: parameter {name!r} ({marker!r}) is a second "
                    f"{family.__name__}; parameter {other!r} ({first!r}) already is one "
                    "(a task has at most one, as in pydocket)"
                )
            hooks[family] = (name, marker)
        if signature.parameters[name].kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ValueError(
                f"task {label}: parameter {name!r} has a dependency default ({marker!r}) but "
                "is positional-only; the worker passes dependencies by name"
            )
        _check_marker(label, name, marker, names, within=None, ancestors=())
    check_perpetual(function, label)
    check_admission(function, label)


def _check_marker(
    label: str,
    path: str,
    marker: Dependency,
    task_parameters: set[str],
    *,
    within: Dependency | None,
    ancestors: tuple[object, ...],
) -> None:
    """``path`` names the parameter for the error (``client.session.customer_id`` for a
    marker nested in factories); its last part is the parameter itself. ``within`` is the
    factory marker this one is a parameter of (None: the task's own parameter)."""
    name = path.rpartition(".")[2]
    shown = f"task {label}: parameter {path!r} ({marker!r})"
    problem = marker.problem()
    if problem:
        raise ValueError(f"{shown}: {problem}")
    if within is not None and marker.single:
        raise ValueError(
            f"{shown}: {type(marker).__name__} only works as a parameter of the task itself, "
            f"not of a factory ({within!r})"
        )
    if isinstance(within, SharedMarker) and not marker.worker_wide:
        raise ValueError(
            f"{shown}: a Shared factory ({within!r}) lives as long as the worker, so its "
            "parameters may only be CurrentDocket(), CurrentWorker() or Shared(...), not "
            "something of one run"
        )
    if isinstance(marker, TaskArgumentMarker | CallArgumentMarker):
        given = marker.name if isinstance(marker, TaskArgumentMarker) else marker.parameter
        kind = type(marker).__name__.removesuffix("Marker")
        target = given or name
        if within is None and target == name:
            how = "without a name" if given is None else "naming its own parameter"
            raise ValueError(
                f"task {label}: parameter {path!r} is {kind}() {how}, which would be its "
                "own value; name another parameter"
            )
        if target not in task_parameters:
            raise ValueError(
                f"{shown} names {target!r}, which is not a parameter of the task "
                f"(parameters: {', '.join(sorted(task_parameters))})"
            )
    if isinstance(marker, FactoryMarker):
        if marker.factory in ancestors:
            raise ValueError(f"{shown}: the factory depends on itself, which can never resolve")
        ancestors = (*ancestors, marker.factory)
    for inner_name, inner in marker.nested():
        _check_marker(
            label,
            f"{path}.{inner_name}",
            inner,
            task_parameters,
            within=marker,
            ancestors=ancestors,
        )
