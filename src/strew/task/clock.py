"""Time as the stores keep it: whole microseconds since the epoch (instants) or of a
duration, converted exactly, and durations checked on the way in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


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


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_micros(when: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    return micros(when - _EPOCH)


def from_micros(value: int) -> datetime:
    """The instant ``value`` microseconds after the epoch, exactly (`to_micros` reversed)."""
    return datetime.fromtimestamp(value // 1_000_000, UTC).replace(microsecond=value % 1_000_000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A Redis sorted set scores in doubles: exact to the microsecond only within 2**53 us (about
# 285 years) of the epoch. Past that, due times would round and read back in exponent form.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2250, 1, 1, tzinfo=UTC)
