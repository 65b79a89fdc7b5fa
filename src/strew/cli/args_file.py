"""The arguments file of ``strew scatter``: one task's arguments per line, as JSON.

Each line is checked against the task function's signature while the file is read, so a
batch whose 9,000th line lacks an argument fails before anything is written.
"""

from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Line:
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    key: str | None


class ArgsFileError(ValueError):
    """A line of the arguments file that is not one task's arguments; names the line."""


def parse_args_lines(lines: Iterable[str], source: str, function: Callable[..., Any]) -> list[Line]:
    """One `Line` per non-blank line: a JSON array is the positional arguments, a JSON object
    holds ``"args"`` (array), ``"kwargs"`` (object) and ``"key"`` (string), each optional.

    Every line is also checked against ``function``'s signature, so a batch whose 9,000th line
    lacks an argument fails here, before anything is written, instead of in a worker later.
    """
    try:
        signature: inspect.Signature | None = inspect.signature(function)
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        signature = None
    # Parameters without their annotations: "visit(url, depth=1)" reads better in an error.
    shown = ", ".join(
        str(parameter.replace(annotation=inspect.Parameter.empty))
        for parameter in (signature.parameters.values() if signature else ())
    )
    parsed: list[Line] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        where = f"{source} line {number}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise ArgsFileError(f"{where}: not JSON ({error.msg}): {text.strip()[:80]!r}") from None
        line = _line(value, where)
        if signature is not None:
            try:
                signature.bind(*line.args, **line.kwargs)
            except TypeError as error:
                raise ArgsFileError(
                    f"{where}: the arguments do not fit {function.__name__}({shown}): {error}"
                ) from None
        parsed.append(line)
    return parsed


def _line(value: object, where: str) -> Line:
    if isinstance(value, list):
        return Line(tuple(value), {}, None)
    if not isinstance(value, dict):
        raise ArgsFileError(
            f"{where}: expected a JSON array of arguments or an object with "
            f'"args", "kwargs" and "key", got {type(value).__name__} {value!r}'
        )
    unknown = sorted(set(value) - {"args", "kwargs", "key"})
    if unknown:
        raise ArgsFileError(
            f'{where}: unknown field(s) {", ".join(map(repr, unknown))}; use "args", '
            f'"kwargs" and "key"'
        )
    args = value.get("args", [])
    kwargs = value.get("kwargs", {})
    key = value.get("key")
    if not isinstance(args, list):
        raise ArgsFileError(f'{where}: "args" must be a JSON array, got {args!r}')
    if not isinstance(kwargs, dict):
        raise ArgsFileError(f'{where}: "kwargs" must be a JSON object, got {kwargs!r}')
    if key is not None and (not isinstance(key, str) or not key):
        raise ArgsFileError(f'{where}: "key" must be a non-empty string, got {key!r}')
    return Line(tuple(args), dict(kwargs), key)


def read_args_file(path: Path, function: Callable[..., Any]) -> list[Line]:
    """`parse_args_lines` over the file at ``path`` (``-`` for standard input)."""
    if str(path) == "-":
        return parse_args_lines(sys.stdin, "stdin", function)
    with path.open(encoding="utf-8") as file:
        return parse_args_lines(file, str(path), function)
