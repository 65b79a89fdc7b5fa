"""Whole-number options (ports, counts, limits) whose errors name the value typed.

Typer's own ``min=`` / ``max=`` checks say "Input should be greater than or equal to 1"
without the value; these parsers say ``must be a whole number from 1 to 65535, got '0'``,
like every other option's error.
"""

from __future__ import annotations

from collections.abc import Callable

import typer


def whole_number(low: int, high: int | None = None) -> Callable[[object], int | None]:
    """A Typer parser for a whole number from ``low`` to ``high`` (inclusive; no upper bound
    when ``high`` is None). Like the duration parsers it lets a default (an int, or None for
    an option that is off by default) through unchanged."""
    wanted = (
        f"a whole number from {low:,} to {high:,}"
        if high is not None
        else (f"a whole number of {low:,} or more")
    )

    def parse(value: object) -> int | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = int(str(value).strip(), 10)
            except ValueError:
                raise typer.BadParameter(f"must be {wanted}, got {value!r}") from None
        if number < low or (high is not None and number > high):
            raise typer.BadParameter(f"must be {wanted}, got {value!r}")
        return number

    return parse


port = whole_number(1, 65_535)
