"""Durations: checked on the way in, converted to the stores' integer microseconds."""

from __future__ import annotations

from datetime import timedelta


def micros(delta: timedelta) -> int:
    """``delta`` in whole microseconds, exactly (no float rounding)."""
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def check_positive(value: object, name: str) -> timedelta:
    """``value`` if it is a positive timedelta; otherwise an error naming ``name``."""
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a timedelta, got {value!r}")
    if value <= timedelta(0):
        raise ValueError(f"{name} must be a positive duration, got {value}")
    return value


def check_non_negative(value: object, name: str) -> timedelta:
    """``value`` if it is a timedelta of zero or more; otherwise an error naming ``name``."""
    if not isinstance(value, timedelta):
        raise TypeError(f"{name} must be a timedelta, got {value!r}")
    if value < timedelta(0):
        raise ValueError(f"{name} must be a non-negative duration, got {value}")
    return value
