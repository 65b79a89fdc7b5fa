"""The task registry: which names a docket's workers know, and the functions behind them.

A registry is a plain ``dict[str, TaskFunction]`` owned by the `Docket` (the strike book
reads the same dict). What lives here is how names get into it: one function under its own
name or several (`register`), a call's function or name turned into the registered pair
(`resolve`), and a list of functions named by an import string (`import_tasks`, shared with
the command line's ``--tasks``).
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable, Iterable, MutableMapping, Sequence
from typing import Any

from strew.dependencies import check_task
from strew.task.execution import TaskFunction

Registry = MutableMapping[str, TaskFunction]


class TaskImportError(ValueError):
    """An import string that does not lead to task functions; the message names it."""


def register(tasks: Registry, function: TaskFunction, names: Sequence[str] | None) -> None:
    """Put ``function`` in ``tasks`` under each of ``names``; None or an empty list means its
    ``__name__`` (as pydocket's ``register`` does). Everything is checked before anything is
    added: a bad name or a bad dependency marker leaves ``tasks`` as it was."""
    if not callable(function):
        raise TypeError(f"function must be callable, got {function!r}")
    if isinstance(names, str) or (names is not None and not isinstance(names, Sequence)):
        raise TypeError(f"names must be a list of strings, got {names!r}")
    if not names:
        name = getattr(function, "__name__", None)
        if not isinstance(name, str) or name == "<lambda>":
            raise ValueError(f"function {function!r} has no usable __name__; pass names=[...]")
        names = [name]
    for name in names:
        if not isinstance(name, str) or not name:
            raise ValueError(f"names must hold non-empty strings, got {name!r} in {names!r}")
    # Dependency markers (Retry, Timeout, TaskArgument...) are checked now, so a bad one
    # fails before any task of this function is scheduled.
    check_task(function)
    for name in names:
        tasks[name] = function


def resolve(tasks: Registry, function: TaskFunction | str) -> tuple[TaskFunction, str]:
    """The function and the name workers know it by; registers an unregistered function,
    raises KeyError for an unknown name."""
    if isinstance(function, str):
        if function not in tasks:
            known = ", ".join(sorted(tasks)) or "none"
            raise KeyError(f"unknown task name {function!r} (registered: {known})")
        return tasks[function], function
    if not callable(function):
        raise TypeError(f"function must be a callable or a task name, got {function!r}")
    for name, registered in tasks.items():
        if registered is function:
            return function, name
    register(tasks, function, None)
    return function, function.__name__


def import_tasks(spec: str, *, from_cwd: bool = True) -> list[Callable[..., Any]]:
    """The task functions ``spec`` names.

    ``module:attribute`` names a list (or any iterable) of functions, or a single function;
    ``module`` alone means its ``tasks`` attribute. The attribute may be dotted
    (``module:registry.tasks``). With ``from_cwd`` the current directory is made importable,
    as it is for ``python -m``, so ``strew worker --tasks mytasks`` finds ``./mytasks.py``;
    a library call (`Docket.register_collection`) leaves ``sys.path`` alone.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise TaskImportError(f"an import string is module:attribute or module, got {spec!r}")
    module_name, colon, attribute = spec.strip().partition(":")
    if not module_name or (colon and not attribute):
        raise TaskImportError(f"{spec!r} is not an import string: use module:attribute or module")
    attribute = attribute or "tasks"

    cwd = os.getcwd()
    if from_cwd and cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            where = "the current directory and sys.path" if from_cwd else "sys.path"
            raise TaskImportError(
                f"cannot import {spec!r}: no module named {missing!r} (looked in {where})"
            ) from None
        # Otherwise the module exists and one of *its* imports is missing.
        raise TaskImportError(
            f"cannot import {spec!r}: importing {module_name!r} raised {error!r}"
        ) from error
    except Exception as error:
        # The module exists but raised while importing: its own traceback is what helps.
        detail = "".join(traceback.format_exception_only(error)).strip()
        raise TaskImportError(
            f"cannot import {spec!r}: importing {module_name!r} raised {detail}"
        ) from error

    found: Any = module
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise TaskImportError(
                f"cannot import {spec!r}: {module_name!r} has no attribute {attribute!r}"
                + ("" if colon else " (a bare module name means module:tasks)")
            ) from None

    if callable(found) and not isinstance(found, type):
        return [found]
    if isinstance(found, str | bytes) or not isinstance(found, Iterable):
        raise TaskImportError(
            f"{spec!r} must name a list of task functions, got {type(found).__name__} {found!r}"
        )
    functions = list(found)
    for index, function in enumerate(functions):
        if not callable(function):
            raise TaskImportError(
                f"{spec!r} item {index} is not a function, got {type(function).__name__} "
                f"{function!r}"
            )
    return functions
