"""Batch paths of the Store contract that the contract tests leave out, on both stores.

* a release, a quarantine or a finish of several claims where a stale token comes first: the
  good claims after it must still take effect (each item is on its own);
* a streamed scatter of several chunks under one id, cancelled: every chunk's members go;
* a stage that is cancelled, discarded or expired before its commit: the commit fails, and a
  discard leaves nothing behind;
* leases that lapse and are claimed again get fresh tokens, in the new claimer's name.
"""

from __future__ import annotations

import pytest

from strew.stores import Store
from strew.stores.memory.store import MemoryStore
from strew.stores.records import (
    Claim,
    Entry,
    Finish,
    Quarantine,
    Release,
    StoreError,
)

from ..conftest import leftover_keys
from ..helpers import wait_until

LEASE = 60_000_000  # a minute, in microseconds
HOUR = 3_600_000_000


async def scheduled_keys(store: Store) -> list[str]:
    return sorted(task.key for task in (await store.snapshot(10_000)).scheduled)


async def running_keys(store: Store) -> dict[str, str]:
    """Running key -> the token that holds it."""
    return {task.key: task.token for task in (await store.snapshot(10_000)).running}


async def claim_with_a_stale_token_first(store: Store) -> tuple[str, list[Claim]]:
    """Three claims, ``a``, ``b``, ``c``, and a stale token of ``a``: its first claim, given
    back and claimed again since."""
    now = await store.now()
    entries = [Entry(key, now - 1_000, key.encode()) for key in ("a", "b", "c")]
    assert await store.schedule(entries, replace=False) == [True, True, True]
    [first] = (await store.claim("w", 1, LEASE, 0)).claims
    assert first.key == "a"
    assert await store.release([Release("a", first.token, first.due)]) == [True]
    claims = (await store.claim("w", 3, LEASE, 0)).claims
    assert sorted(c.key for c in claims) == ["a", "b", "c"]
    return first.token, sorted(claims, key=lambda c: c.key)


async def test_a_release_after_a_stale_token_still_gives_back_the_good_claims(
    store: Store,
) -> None:
    stale, [a, b, c] = await claim_with_a_stale_token_first(store)
    released = await store.release(
        [Release("a", stale, a.due), Release("b", b.token, b.due), Release("c", c.token, c.due)]
    )
    assert released == [False, True, True]
    assert await scheduled_keys(store) == ["b", "c"]
    assert await running_keys(store) == {"a": a.token}  # the stale token changed nothing


async def test_a_quarantine_after_a_stale_token_still_moves_the_good_claims(
    store: Store,
) -> None:
    stale, [a, b, c] = await claim_with_a_stale_token_first(store)
    moved = await store.quarantine(
        [
            Quarantine("a", stale, "old"),
            Quarantine("b", b.token, "bad"),
            Quarantine("c", c.token, "bad"),
        ]
    )
    assert moved == [False, True, True]
    assert [(q.key, q.payload, q.reason) for q in await store.quarantined()] == [
        ("b", b"b", "bad"),
        ("c", b"c", "bad"),
    ]
    assert await running_keys(store) == {"a": a.token}
    assert await scheduled_keys(store) == []


async def test_a_finish_after_a_stale_token_still_acknowledges_the_good_claims(
    store: Store,
) -> None:
    stale, [a, b, c] = await claim_with_a_stale_token_first(store)
    done = await store.finish([Finish("a", stale), Finish("b", b.token), Finish("c", c.token)])
    assert done == [False, True, True]
    assert await running_keys(store) == {"a": a.token}


async def test_cancelling_a_streamed_scatter_of_several_chunks_removes_every_chunks_members(
    store: Store,
) -> None:
    now = await store.now()
    assert await store.schedule([Entry("outsider", now + HOUR, b"o")], replace=False) == [True]
    chunks = [
        [Entry(f"c{chunk}-{i}", now + HOUR + 10 * chunk + i, b"x") for i in range(3)]
        for chunk in range(4)
    ]
    chunks[2].append(Entry("outsider", now + 2 * HOUR, b"not the batch's"))
    for chunk in chunks:
        await store.schedule_batch("scatter", chunk, HOUR)
    assert len(await scheduled_keys(store)) == 13
    assert await store.cancel_batch("scatter") == 12
    # The key the batch did not write (it was scheduled already) is not the batch's to cancel.
    assert await scheduled_keys(store) == ["outsider"]
    assert await store.cancel_batch("scatter") == 0


async def test_a_scatter_cancelled_while_still_staged_cannot_be_committed(store: Store) -> None:
    now = await store.now()
    assert await store.stage_batch("b", [Entry("a", now, b"a"), Entry("b", now, b"b")], HOUR) == 2
    assert await store.stage_batch("b", [Entry("c", now, b"c")], HOUR) == 3
    assert await store.cancel_batch("b") == 0  # nothing of it was scheduled yet
    with pytest.raises(StoreError):
        await store.commit_batch("b", 3, HOUR)
    assert await scheduled_keys(store) == []


async def test_a_discarded_stage_cannot_be_committed(store: Store) -> None:
    now = await store.now()
    assert await store.stage_batch("b", [Entry("a", now, b"a"), Entry("b", now, b"b")], HOUR) == 2
    await store.discard_batch("b")
    with pytest.raises(StoreError, match="0 of 2"):
        await store.commit_batch("b", 2, HOUR)
    assert await scheduled_keys(store) == []


async def test_a_discard_leaves_nothing_of_the_stage_behind(
    store: Store, store_url: str, docket_name: str
) -> None:
    now = await store.now()
    await store.stage_batch("b", [Entry(f"k{i}", now, b"p") for i in range(5)], HOUR)
    await store.discard_batch("b")
    if isinstance(store, MemoryStore):
        assert store._stages == {}
    else:
        assert await leftover_keys(store_url, docket_name) == []
    # Staging again starts a new count: nothing of the discarded stage is carried over.
    assert await store.stage_batch("b", [Entry("fresh", now, b"f")], HOUR) == 1
    assert await store.commit_batch("b", 1, HOUR) == []
    assert await scheduled_keys(store) == ["fresh"]


async def test_discarding_a_stage_that_does_not_exist_is_harmless(store: Store) -> None:
    await store.discard_batch("never")
    assert await store.stage_batch("never", [], HOUR) == 0


async def test_a_commit_after_the_stage_expired_writes_nothing(store: Store) -> None:
    now = await store.now()
    ttl = 2_000  # 2 ms: the stage is forgotten 2 ms after its last write
    assert await store.stage_batch("b", [Entry("a", now, b"a")], ttl) == 1
    # The write happened somewhere before this reading (on a busy machine, well after `now`).
    written_by = await store.now()

    async def expired() -> bool:
        return await store.now() > written_by + ttl + 2_000  # past the expiry, with a margin

    await wait_until(expired, message="the stage's ttl to pass")
    with pytest.raises(StoreError):
        await store.commit_batch("b", 1, HOUR)
    assert await scheduled_keys(store) == []


async def test_leases_claimed_again_after_they_lapse_get_fresh_tokens_in_the_new_name(
    store: Store,
) -> None:
    now = await store.now()
    await store.schedule([Entry(k, now - 1, k.encode()) for k in ("a", "b")], replace=False)
    first = {c.key: c.token for c in (await store.claim("w", 2, 1, 0)).claims}  # a 1 us lease
    assert sorted(first) == ["a", "b"]
    again: dict[str, Claim] = {}

    async def redelivered() -> bool:
        for claim in (await store.claim("w2", 2, LEASE, 0)).claims:
            again[claim.key] = claim
        return len(again) == 2

    await wait_until(redelivered, message="both leases to lapse and be claimed again")
    assert all(claim.redelivered for claim in again.values())
    fresh = {key: claim.token for key, claim in again.items()}
    assert len(set(fresh.values()) | set(first.values())) == 4  # all four tokens differ
    assert {task.key: task.worker for task in (await store.snapshot(10)).running} == {
        "a": "w2",
        "b": "w2",
    }
    # The first claims' tokens no longer hold anything.
    assert await store.extend([(k, first[k]) for k in ("a", "b")], LEASE) == [False, False]
    assert await store.release([Release("a", first["a"], now)]) == [False]
    assert await store.finish([Finish(k, fresh[k]) for k in ("a", "b")]) == [True, True]


async def test_a_worker_claiming_its_own_lapsed_lease_again_gets_a_new_token(
    store: Store,
) -> None:
    now = await store.now()
    await store.schedule([Entry("a", now - 1, b"a")], replace=False)
    [first] = (await store.claim("w", 1, 1, 0)).claims
    again: list[Claim] = []

    async def redelivered() -> bool:
        again.extend((await store.claim("w", 1, LEASE, 0)).claims)
        return bool(again)

    await wait_until(redelivered, message="the lease to lapse and be claimed again")
    assert again[0].redelivered and again[0].token != first.token
    assert await store.finish([Finish("a", first.token)]) == [False]
    assert await store.finish([Finish("a", again[0].token)]) == [True]


async def test_a_streamed_chunk_whose_first_key_is_taken_still_writes_and_remembers_the_rest(
    store: Store,
) -> None:
    now = await store.now()
    await store.schedule([Entry("taken", now + HOUR, b"first")], replace=False)
    chunk = [Entry(key, now + 2 * HOUR, b"batch") for key in ("taken", "x", "y")]
    assert await store.schedule_batch("s", chunk, HOUR) == [False, True, True]
    assert await store.cancel_batch("s") == 2
    assert [(t.key, t.payload) for t in (await store.snapshot(10)).scheduled] == [
        ("taken", b"first")
    ]


async def test_a_commit_skips_keys_scheduled_running_or_staged_twice_and_remembers_the_rest(
    store: Store,
) -> None:
    now = await store.now()
    await store.schedule(
        [Entry("run", now - 1, b"r"), Entry("sched", now + HOUR, b"s")], replace=False
    )
    [running] = (await store.claim("w", 1, LEASE, 0)).claims
    assert running.key == "run"
    staged = [
        Entry(key, now + 2 * HOUR, b"batch-" + key.encode())
        for key in ("sched", "run", "new1", "dup", "new2")
    ] + [Entry("dup", now + 3 * HOUR, b"second dup")]
    assert await store.stage_batch("b", staged, HOUR) == 6
    assert sorted(await store.commit_batch("b", 6, HOUR)) == ["dup", "run", "sched"]
    assert [(t.key, t.due, t.payload) for t in (await store.snapshot(10)).scheduled] == [
        ("sched", now + HOUR, b"s"),
        ("dup", now + 2 * HOUR, b"batch-dup"),
        ("new1", now + 2 * HOUR, b"batch-new1"),
        ("new2", now + 2 * HOUR, b"batch-new2"),
    ]
    assert await running_keys(store) == {"run": running.token}
    # What the commit wrote, and only that, is the batch's to cancel.
    assert await store.cancel_batch("b") == 3
    assert await scheduled_keys(store) == ["sched"]


async def test_cancelling_a_scatter_leaves_its_running_and_rescheduled_members_alone(
    store: Store,
) -> None:
    now = await store.now()
    chunk = [
        Entry("running", now - 1, b"a"),
        Entry("waiting", now + HOUR, b"b"),
        Entry("moved", now + HOUR, b"c"),
    ]
    await store.schedule_batch("s", chunk, HOUR)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    assert claim.key == "running"
    await store.schedule([Entry("moved", now + 2 * HOUR, b"c2")], replace=True)
    assert await store.cancel_batch("s") == 1
    assert [(t.key, t.due) for t in (await store.snapshot(10)).scheduled] == [
        ("moved", now + 2 * HOUR)
    ]
    assert await running_keys(store) == {"running": claim.token}
