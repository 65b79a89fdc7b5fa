"""Stores: where a docket keeps its tasks. `open_store` picks one from a URL."""

from __future__ import annotations

from strew.stores.protocol import Store
from strew.stores.records import StoreError, StoreUnavailable
from strew.stores.urls import CLUSTER_SCHEMES, masked, validate_url


def open_store(url: str, docket: str) -> Store:
    """The store for ``docket`` at ``url``; connects lazily, on first use."""
    validate_url(url)
    if url.startswith("memory://"):
        from strew.stores.memory.store import memory_store

        return memory_store(url, docket)
    from strew.stores.redis.store import RedisStore

    return RedisStore(url, docket)


__all__ = [
    "CLUSTER_SCHEMES",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "masked",
    "open_store",
    "validate_url",
]
