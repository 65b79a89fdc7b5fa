"""Durations: checked on the way in, converted to the stores' integer microseconds."""

from __future__ import annotations

from datetime import timedelta


def micros(delta: timedelta) -> int:
    """``delta`` in whole microseconds, exactly (no float rounding)."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


MAX_DURATION = timedelta(days=36_500)
"""No duration may exceed a century: added to a time, it must stay where stores are exact."""


def at_most_a_century(value: timedelta, name: str) -> timedelta:
    if value > MAX_DURATION:
        raise ValueError(f"{name} must be at most {MAX_DURATION.days} days, got {value}")
    return value


def check_positive(value: object, name: str) -> timedelta:
    """``value`` if it is a positive timedelta; otherwise an error naming ``name``."""
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a timedelta, got {value!r}")
    if value <= timedelta(0):
        raise ValueError(f"{name} must be a positive duration, got {value}")
    return at_most_a_century(value, name)


def check_non_negative(value: object, name: str) -> timedelta:
    """``value`` if it is a timedelta of zero or more; otherwise an error naming ``name``."""
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a timedelta, got {value!r}")
    if value < timedelta(0):
        raise ValueError(f"{name} must be a non-negative duration, got {value}")
    return at_most_a_century(value, name)
