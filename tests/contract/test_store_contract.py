"""The Store contract: the same assertions against the Redis store and the memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from strew.stores import Store
from strew.stores.records import CancelRequested, Entry, Finish, Notice, Release, Wake

# The same assertions on a Redis Cluster and through Redis Sentinel too: only the URL differs.
pytestmark = [pytest.mark.cluster, pytest.mark.sentinel]

LEASE = 60_000_000  # a minute, in microseconds


async def entries_due(store: Store, *offsets: int, prefix: str = "k") -> list[Entry]:
    now = await store.now()
    return [
        Entry(f"{prefix}{i}", now + offset, f"payload-{i}".encode())
        for i, offset in enumerate(offsets)
    ]


async def test_scheduled_entries_are_claimed_earliest_first(store: Store) -> None:
    entries = await entries_due(store, -3, -1, -2)
    assert await store.schedule(entries, replace=False) == [True, True, True]
    result = await store.claim("w", 10, LEASE, 0)
    assert [c.key for c in result.claims] == ["k0", "k2", "k1"]
    assert [c.payload for c in result.claims] == [b"payload-0", b"payload-2", b"payload-1"]
    assert all(not c.redelivered for c in result.claims)
    assert result.scheduled == 0 and result.running == 3


async def test_claim_takes_at_most_the_limit(store: Store) -> None:
    await store.schedule(await entries_due(store, -5, -4, -3, -2, -1), replace=False)
    first = await store.claim("w", 2, LEASE, 0)
    assert [c.key for c in first.claims] == ["k0", "k1"]
    assert first.scheduled == 3
    assert (await store.claim("w", 0, LEASE, 0)).claims == []


async def test_future_tasks_wait_and_report_when_they_are_due(store: Store) -> None:
    [entry] = await entries_due(store, 30_000_000)
    await store.schedule([entry], replace=False)
    result = await store.claim("w", 10, LEASE, 0)
    assert result.claims == []
    assert result.next_due == entry.due
    early = await store.claim("w", 10, LEASE, 31_000_000)  # inside the horizon
    assert [c.key for c in early.claims] == ["k0"]
    assert early.claims[0].due == entry.due


async def test_adding_a_key_that_is_scheduled_or_running_is_refused(store: Store) -> None:
    [a] = await entries_due(store, -1)
    assert await store.schedule([a], replace=False) == [True]
    again = Entry("k0", a.due + 5, b"other")
    assert await store.schedule([again], replace=False) == [False]
    claim = (await store.claim("w", 1, LEASE, 0)).claims[0]
    assert claim.payload == a.payload  # the first schedule was kept
    assert await store.schedule([again], replace=False) == [False]  # running counts too


async def test_one_schedule_call_of_many_entries_keeps_every_byte_and_the_first_of_a_key(
    store: Store,
) -> None:
    now = await store.now()
    # Past one packed blob (1,000 entries), with awkward keys and payloads, and a key given
    # again in a later blob.
    entries = [Entry(f"bulk-{i}", now + 1_000_000 + i, b"p%d" % i) for i in range(2_500)]
    entries[7] = Entry("clé-☃", now + 7, b"\x00\xff binary")
    entries[8] = Entry("empty", now + 8, b"")
    entries.append(Entry("bulk-3", now + 99, b"a second bulk-3"))
    flags = await store.schedule(entries, replace=False)
    assert flags == [True] * 2_500 + [False]
    scheduled = {t.key: (t.due, t.payload) for t in (await store.snapshot(10_000)).scheduled}
    assert len(scheduled) == 2_500
    assert scheduled["bulk-3"] == (now + 1_000_003, b"p3")
    assert scheduled["clé-☃"] == (now + 7, b"\x00\xff binary")
    assert scheduled["empty"] == (now + 8, b"")


async def test_replace_given_a_key_twice_in_one_call_keeps_the_last(store: Store) -> None:
    now = await store.now()
    entries = [Entry("twice", now + 5, b"first"), Entry("twice", now + 9, b"last")]
    assert await store.schedule(entries, replace=True) == [True, True]
    [task] = (await store.snapshot(10)).scheduled
    assert (task.key, task.due, task.payload) == ("twice", now + 9, b"last")


async def test_replace_supersedes_a_scheduled_key(store: Store) -> None:
    [a] = await entries_due(store, 10_000_000)
    await store.schedule([a], replace=False)
    newer = Entry("k0", a.due - 20_000_000, b"newer")
    assert await store.schedule([newer], replace=True) == [True]
    claims = (await store.claim("w", 5, LEASE, 0)).claims
    assert [(c.key, c.payload) for c in claims] == [("k0", b"newer")]


async def test_one_claim_takes_thousands_around_keys_still_running(store: Store) -> None:
    """A claim larger than one Redis call's arguments can carry (claim.lua writes a round's
    keys in chunks), past keys whose earlier run still holds a lease."""
    count = 6_000
    entries = await entries_due(store, *[-1_000 - i for i in range(count)])
    await store.schedule(entries, replace=False)
    held = (await store.claim("w", 10, LEASE, 0)).claims  # the ten due first
    await store.schedule([Entry(c.key, entries[0].due, b"again") for c in held], replace=True)
    claims = (await store.claim("w", count, LEASE, 0)).claims
    assert len(claims) == count - 10
    assert {c.key for c in claims} == {e.key for e in entries} - {c.key for c in held}
    assert all(c.payload == f"payload-{c.key[1:]}".encode() for c in claims)
    assert len({c.token for c in claims}) == len(claims)
    finished = await store.finish([Finish(c.key, c.token) for c in claims])
    assert finished == [True] * len(claims)


async def test_a_replaced_running_key_waits_for_its_run_to_end(store: Store) -> None:
    [a] = await entries_due(store, -1)
    await store.schedule([a], replace=False)
    first = (await store.claim("w", 1, LEASE, 0)).claims[0]
    await store.schedule([Entry("k0", a.due, b"second")], replace=True)
    held_back = await store.claim("w", 5, LEASE, 0)
    assert held_back.claims == []
    assert held_back.scheduled == 1
    assert await store.finish([Finish("k0", first.token)]) == [True]
    second = (await store.claim("w", 5, LEASE, 0)).claims
    assert [c.payload for c in second] == [b"second"]


async def test_finish_needs_the_token_of_the_current_claim(store: Store) -> None:
    await store.schedule(await entries_due(store, -1), replace=False)
    claim = (await store.claim("w", 1, LEASE, 0)).claims[0]
    assert await store.finish([Finish("k0", "someone-else/1")]) == [False]
    assert await store.finish([Finish("k0", claim.token)]) == [True]
    assert await store.finish([Finish("k0", claim.token)]) == [False]
    result = await store.claim("w", 5, LEASE, 0)
    assert result.claims == [] and result.running == 0 and result.scheduled == 0


async def test_finish_can_reschedule_atomically(store: Store) -> None:
    await store.schedule(await entries_due(store, -1), replace=False)
    claim = (await store.claim("w", 1, LEASE, 0)).claims[0]
    again = Entry("k0", await store.now() - 1, b"attempt-2")
    assert await store.finish([Finish("k0", claim.token, again)]) == [True]
    retried = (await store.claim("w", 1, LEASE, 0)).claims
    assert [c.payload for c in retried] == [b"attempt-2"]


async def test_an_expired_lease_is_claimed_again_as_a_redelivery(store: Store) -> None:
    await store.schedule(await entries_due(store, -1), replace=False)
    lost = (await store.claim("dead-worker", 1, 1, 0)).claims[0]  # a 1 us lease
    await store.now()
    again = await store.claim("w2", 5, LEASE, 0)
    assert [(c.key, c.redelivered, c.payload) for c in again.claims] == [("k0", True, b"payload-0")]
    assert again.claims[0].token != lost.token
    assert again.claims[0].due == lost.due
    assert await store.finish([Finish("k0", lost.token)]) == [False]
    assert await store.finish([Finish("k0", again.claims[0].token)]) == [True]


async def test_extend_keeps_a_lease_alive(store: Store) -> None:
    await store.schedule(await entries_due(store, -1), replace=False)
    claim = (await store.claim("w", 1, 1, 0)).claims[0]
    assert await store.extend([("k0", claim.token), ("nope", "x/1")], LEASE) == [True, False]
    assert (await store.claim("w2", 5, LEASE, 0)).claims == []


async def test_release_puts_a_claim_back_at_its_due_time(store: Store) -> None:
    [entry] = await entries_due(store, -1)
    await store.schedule([entry], replace=False)
    claim = (await store.claim("w", 1, LEASE, 0)).claims[0]
    assert await store.release([Release("k0", claim.token, entry.due)]) == [True]
    assert await store.release([Release("k0", claim.token, entry.due)]) == [False]
    again = (await store.claim("w2", 1, LEASE, 0)).claims
    assert [(c.key, c.payload, c.due, c.redelivered) for c in again] == [
        ("k0", entry.payload, entry.due, False)
    ]


async def test_cancel_removes_scheduled_tasks_only(store: Store) -> None:
    await store.schedule(await entries_due(store, -2, 10_000_000, -1), replace=False)
    assert await store.cancel(["k1", "k2", "missing"]) == 2
    result = await store.claim("w", 10, LEASE, 60_000_000)
    assert [c.key for c in result.claims] == ["k0"]


async def test_clear_drops_the_schedule_and_counts_it(store: Store) -> None:
    await store.schedule(await entries_due(store, 1, 2, 3), replace=False)
    assert await store.clear() == 3
    assert await store.clear() == 0
    assert (await store.snapshot(10)).scheduled_total == 0


async def test_snapshot_shows_scheduled_running_and_workers(store: Store) -> None:
    await store.schedule(await entries_due(store, -1, 5_000_000, 9_000_000), replace=False)
    claim = (await store.claim("w1", 1, LEASE, 0)).claims[0]
    await store.heartbeat("w1", LEASE)
    snapshot = await store.snapshot(1)
    assert snapshot.scheduled_total == 2
    assert [t.key for t in snapshot.scheduled] == ["k1"]
    assert [(t.key, t.token, t.worker) for t in snapshot.running] == [("k0", claim.token, "w1")]
    assert [w.name for w in snapshot.workers] == ["w1"]
    await store.forget_worker("w1")
    assert (await store.snapshot(0)).workers == []


async def test_heartbeats_lapse_after_their_ttl(store: Store) -> None:
    await store.heartbeat("brief", 1)
    await store.heartbeat("lasting", LEASE)
    assert [w.name for w in (await store.snapshot(0)).workers] == ["lasting"]


async def test_histogram_counts_each_slice_of_a_window(store: Store) -> None:
    now = await store.now()
    offsets = [0, 1, 2, 5, 9, 10]
    await store.schedule(
        [Entry(f"k{i}", now + o * 1000, b"") for i, o in enumerate(offsets)], replace=False
    )
    assert await store.histogram(now, now + 10_000, 5) == [2, 1, 1, 0, 1]


async def next_notice(notices: AsyncIterator[Notice]) -> Notice:
    notice = await anext(notices)
    while notice == Wake(0):  # (re)subscription marker
        notice = await anext(notices)
    return notice


async def test_an_earlier_task_wakes_listeners_and_a_later_one_does_not(store: Store) -> None:
    notices = store.notifications()
    assert await anext(notices) == Wake(0)
    [late, early] = await entries_due(store, 60_000_000, 1_000_000)
    await store.schedule([late], replace=False)
    assert await next_notice(notices) == Wake(late.due)
    await store.schedule([Entry("later", late.due + 1, b"")], replace=False)
    await store.schedule([early], replace=False)
    assert await next_notice(notices) == Wake(early.due)
    await notices.aclose()  # type: ignore[attr-defined]


async def test_cancelling_a_running_task_notifies_its_worker(store: Store) -> None:
    notices = store.notifications()
    assert await anext(notices) == Wake(0)
    await store.schedule(await entries_due(store, -1), replace=False)
    await next_notice(notices)
    await store.claim("w", 1, LEASE, 0)
    assert await store.cancel(["k0"]) == 0
    assert await next_notice(notices) == CancelRequested("k0")
    await notices.aclose()  # type: ignore[attr-defined]
