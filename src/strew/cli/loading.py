"""Finding task functions from an import string such as ``myapp.tasks:all_tasks``."""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any


class TaskImportError(ValueError):
    """An import string that does not lead to task functions; the message names it."""


def import_tasks(spec: str) -> list[Callable[..., Any]]:
    """The task functions ``spec`` names.

    ``module:attribute`` names a list (or any iterable) of functions, or a single function;
    ``module`` alone means its ``tasks`` attribute. The attribute may be dotted
    (``module:registry.tasks``). The current directory is importable, as it is for
    ``python -m``, so ``strew worker --tasks mytasks`` finds ``./mytasks.py``.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise TaskImportError(f"an import string is module:attribute or module, got {spec!r}")
    module_name, colon, attribute = spec.strip().partition(":")
    if not module_name or (colon and not attribute):
        raise TaskImportError(f"{spec!r} is not an import string: use module:attribute or module")
    attribute = attribute or "tasks"

    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise TaskImportError(
                f"cannot import {spec!r}: no module named {missing!r} "
                f"(looked in the current directory and on sys.path)"
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
