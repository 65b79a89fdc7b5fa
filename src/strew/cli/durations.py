"""Durations as people type them: ``250ms``, ``30s``, ``5m``, ``1h``, ``1h30m``, ``2.5``.

One grammar for every option that takes a length of time, so ``--prefetch 50ms`` and
``STREW_SHUTDOWN_GRACE=1m30s`` read the same way. A bare number is seconds (what most tools
and humans mean when they leave the unit off). pydocket's clock forms ``mm:ss`` and
``hh:mm:ss`` are read too, so a duration configured for ``docket worker`` still works.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal, InvalidOperation

import typer

# Largest unit first; each unit at most once, in this order ("1h30m", never "30m1h"), so a
# typo such as "5m5m" is an error rather than a silent 10 minutes.
_UNITS: tuple[tuple[str, Decimal], ...] = (
    ("d", Decimal(86_400)),
    ("h", Decimal(3_600)),
    ("m", Decimal(60)),
    ("s", Decimal(1)),
    ("ms", Decimal("0.001")),
    ("us", Decimal("0.000001")),
)
_NUMBER = r"\d+(?:\.\d*)?|\.\d+"
_PART = re.compile(rf"\s*({_NUMBER})\s*(ms|us|d|h|m|s)\s*")
_PLAIN = re.compile(rf"\s*({_NUMBER})\s*")
_CLOCK = re.compile(r"(\d+):(\d{1,2})(?::(\d{1,2}))?")
_UNIT_RANK = {unit: rank for rank, (unit, _) in enumerate(_UNITS)}
_UNIT_SECONDS = dict(_UNITS)

EXAMPLES = "250ms, 30s, 5m, 1h, 1h30m, or plain seconds such as 2.5"
# (mm:ss and hh:mm:ss are accepted too, for pydocket's sake, but not offered: one way to
# write a duration in strew's own help and errors.)
# A bound far beyond any sensible timeout, that still keeps timedelta from overflowing.
_MAX_SECONDS = Decimal(365 * 86_400 * 100)


def parse_duration(text: str) -> timedelta:
    """The duration ``text`` spells; ValueError naming the text when it spells none.

    Accepts ``<number><unit>`` parts with units ``d``, ``h``, ``m``, ``s``, ``ms``, ``us``
    (largest first, each once, optionally separated by spaces), or a bare number of seconds.
    Numbers may have decimals (``1.5h``). Negative durations are not durations. ``mm:ss``
    and ``hh:mm:ss`` (whole numbers, pydocket's forms) are read as a clock shows them.
    """
    if not isinstance(text, str):
        raise TypeError(f"duration must be a string, got {text!r}")
    cleaned = text.strip().lower()
    if cleaned.startswith("-"):
        raise ValueError(f"{text!r} is not a duration: durations cannot be negative")
    plain = _PLAIN.fullmatch(cleaned)
    if plain:
        seconds = Decimal(plain.group(1))
    elif ":" in cleaned:
        seconds = _parse_clock(text, cleaned)
    else:
        seconds = _parse_parts(text, cleaned)
    if seconds > _MAX_SECONDS:
        raise ValueError(f"{text!r} is too long a duration (at most 100 years)")
    # Round to whole microseconds, timedelta's resolution, exactly (no float on the way).
    micros = int((seconds * 1_000_000).to_integral_value())
    return timedelta(microseconds=micros)


def _parse_clock(original: str, cleaned: str) -> Decimal:
    match = _CLOCK.fullmatch(cleaned)
    if match is None:
        raise ValueError(f"{original!r} is not a duration: a clock time is mm:ss or hh:mm:ss")
    first, second, third = match.groups()
    # A field after the first past 59 is a typo far more often than a way of writing time.
    if int(second) > 59 or (third is not None and int(third) > 59):
        raise ValueError(f"{original!r} is not a duration: minutes and seconds go up to 59")
    if third is None:  # mm:ss
        return Decimal(int(first) * 60 + int(second))
    return Decimal(int(first) * 3_600 + int(second) * 60 + int(third))


def _parse_parts(original: str, cleaned: str) -> Decimal:
    problem = f"{original!r} is not a duration: use {EXAMPLES}"
    if not cleaned:
        raise ValueError(problem)
    position = 0
    last_rank = -1
    seconds = Decimal(0)
    while position < len(cleaned):
        match = _PART.match(cleaned, position)
        if match is None:
            raise ValueError(problem)
        number, unit = match.groups()
        rank = _UNIT_RANK[unit]
        if rank <= last_rank:
            raise ValueError(
                f"{original!r} is not a duration: units go largest first, each once "
                f"(for example 1h30m)"
            )
        last_rank = rank
        try:
            seconds += Decimal(number) * _UNIT_SECONDS[unit]
        except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
            raise ValueError(problem) from None
        position = match.end()
    return seconds


def format_duration(value: timedelta) -> str:
    """A short readable form, the inverse of `parse_duration` to the millisecond:
    ``1h30m``, ``2m5s``, ``250ms``, ``0s``. Negative values get a leading minus."""
    micros = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    if micros < 1_000:
        return f"{sign}{micros}us" if micros else "0s"
    millis = (micros + 500) // 1_000
    if millis < 1_000:
        return f"{sign}{millis}ms"
    if millis < 10_000 and millis % 1_000:
        # Under ten seconds the fraction still matters to a reader ("2.5s" late).
        return f"{sign}{millis / 1000:g}s"
    seconds = (millis + 500) // 1_000
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)


# -- Typer parsers ---------------------------------------------------------------------------
# Typer runs a parser on the default as well as on what the user typed, so each accepts a
# timedelta unchanged. BadParameter makes Typer print "Invalid value for '--option': ..." and
# exit with the usage-error code 2.


def duration(value: str | timedelta) -> timedelta:
    """A duration of zero or more."""
    if isinstance(value, timedelta):
        return value
    try:
        return parse_duration(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def positive_duration(value: str | timedelta) -> timedelta:
    """A duration of more than zero."""
    parsed = duration(value)
    if parsed <= timedelta(0):
        raise typer.BadParameter(f"must be more than zero, got {value!r}")
    return parsed
