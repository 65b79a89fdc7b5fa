"""Checks of what a caller passes about one task (its key, its due time), each raising an
error that names the argument and the value before anything is written."""

from __future__ import annotations

from datetime import datetime

from strew.task.clock import EARLIEST, LATEST

MAX_KEY_LENGTH = 1024


def check_key(key: object, name: str = "key") -> str:
    if not isinstance(key, str):
        raise TypeError(f"{name} must be a string, got {type(key).__name__} {key!r}")
    if not key:
        raise ValueError(f"{name} must not be empty, got ''")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(
            f"{name} must be at most {MAX_KEY_LENGTH} characters, got {len(key)} ({key[:40]!r}...)"
        )
    try:
        # What the Redis client sends: UTF-8, with the escapes that give back the bytes of a
        # key read from Redis that was not UTF-8 (so such a key can still be cancelled).
        key.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"{name} must be encodable as UTF-8, got {key[:40]!r} (a lone surrogate "
            f"{key[error.start]!r} at position {error.start})"
        ) from None
    return key


def check_when(when: object, name: str = "when") -> datetime:
    if not isinstance(when, datetime):
        raise TypeError(f"{name} must be a timezone-aware datetime, got {when!r}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware (for example datetime.now(timezone.utc)), "
            f"got naive {when!r}"
        )
    if not EARLIEST <= when < LATEST:
        raise ValueError(
            f"{name} must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC), got "
            f"{when.isoformat()} (due times are kept to the microsecond only in that range)"
        )
    return when
