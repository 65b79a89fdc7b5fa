"""Stores: where a docket keeps its tasks. `open_store` picks one from a URL."""

from __future__ import annotations

from urllib.parse import urlsplit

from .base import Store, StoreError, StoreUnavailable

REDIS_SCHEMES = ("redis", "rediss", "unix")
SCHEMES = (*REDIS_SCHEMES, "memory")


def validate_url(url: object) -> str:
    """Check a store URL's shape without connecting; raise ValueError naming it if wrong."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a string such as 'redis://localhost:6379/0', got {url!r}")
    try:
        parts = urlsplit(url)
        if parts.scheme in ("redis", "rediss"):
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise ValueError(f"url is malformed: {url!r} ({error})") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(
            f"url must start with one of {', '.join(s + '://' for s in SCHEMES)}, got {url!r}"
        )
    if parts.scheme in ("redis", "rediss") and not parts.hostname:
        raise ValueError(f"url has no host: {url!r}")
    if parts.scheme == "unix" and not parts.path:
        raise ValueError(f"url has no socket path: {url!r}")
    return url


def open_store(url: str, docket: str) -> Store:
    """The store for ``docket`` at ``url``; connects lazily, on first use."""
    validate_url(url)
    if url.startswith("memory://"):
        from .memory import memory_store

        return memory_store(url, docket)
    from .redis import RedisStore

    return RedisStore(url, docket)


__all__ = ["Store", "StoreError", "StoreUnavailable", "open_store", "validate_url"]
