"""A committed batch is as good as scheduled, on every store (and on a Redis Cluster, where
claim.lua and clear.lua reach the merge's keys through the docket's hash tag): claims take
all of it even when its producer never merged a step (stores/redis/batches.py), and clear
drops it whole. On the memory store a commit writes the batch at once; the same holds."""

from __future__ import annotations

import pytest

from strew.stores import Store
from strew.stores.records import Entry
from strew.stores.redis import batches
from strew.stores.redis.store import RedisStore

pytestmark = pytest.mark.cluster

MINUTE = 60_000_000


async def commit_and_stop(store: Store, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    """Stage ``count`` entries, due now, and commit them; on Redis the producer then loses
    its connection before a single merge step (the commit's own step has no budget)."""
    now = await store.now()
    entries = [Entry(f"k{i}", now - i, b"p" * 200) for i in range(count)]
    await store.stage_batch("b", entries, MINUTE)
    if isinstance(store, RedisStore):
        monkeypatch.setattr(batches, "MERGE_STEP_MICROS", 0)

        async def lost(batch: str) -> int:
            raise ConnectionError("the producer went away after its commit")

        monkeypatch.setattr(store, "_merge_step", lost)
    await store.commit_batch("b", count, MINUTE)
    monkeypatch.undo()


async def test_claims_take_a_whole_committed_batch_its_producer_never_merged(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await commit_and_stop(store, monkeypatch, 1500)
    claimed: set[str] = set()
    for _ in range(200):
        result = await store.claim("w", 100, MINUTE, 0)
        claimed |= {claim.key for claim in result.claims}
        if len(claimed) == 1500:
            break
    assert claimed == {f"k{i}" for i in range(1500)}


async def test_clear_drops_a_committed_batch_not_merged_yet(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await commit_and_stop(store, monkeypatch, 1500)
    await store.clear()
    assert (await store.claim("w", 100, MINUTE, 0)).claims == []
    assert (await store.snapshot(10)).scheduled_total == 0
