"""Stores: where a docket keeps its tasks. `open_store` picks one from a URL."""

from __future__ import annotations

from strew.stores.durability import NO_WAIT, Durability, NotReplicated, check_store
from strew.stores.protocol import Store
from strew.stores.records import (
    FATAL_STORE_ERRORS,
    EvictionPolicyError,
    StoreAuthError,
    StoreError,
    StoreUnavailable,
)
from strew.stores.urls import CLUSTER_SCHEMES, masked, validate_url


def open_store(
    url: str,
    docket: str,
    *,
    allow_eviction: bool | None = None,
    durability: Durability = NO_WAIT,
) -> Store:
    """The store for ``docket`` at ``url``; connects lazily, on first use.

    ``allow_eviction`` lets a Redis store use a server whose ``maxmemory-policy`` may evict
    keys (None: ``$STREW_ALLOW_EVICTION=1`` decides); the memory store never evicts.
    ``durability`` makes a Redis store's writes wait for replicas (strew.stores.durability);
    the memory store has none, and refuses to pretend it waited.
    """
    validate_url(url)
    check_store(durability, url)
    if url.startswith("memory://"):
        from strew.stores.memory.store import memory_store

        return memory_store(url, docket)
    from strew.stores.redis.store import RedisStore

    return RedisStore(url, docket, allow_eviction=allow_eviction, durability=durability)


__all__ = [
    "CLUSTER_SCHEMES",
    "FATAL_STORE_ERRORS",
    "NO_WAIT",
    "Durability",
    "EvictionPolicyError",
    "NotReplicated",
    "Store",
    "StoreAuthError",
    "StoreError",
    "StoreUnavailable",
    "masked",
    "open_store",
    "validate_url",
]
