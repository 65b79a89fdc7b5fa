"""The read model of the Store contract (the scatter listing, batch progress, worker reports,
the lateness series), on both stores."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from strew.stores import Store
from strew.stores.memory.store import MemoryStore
from strew.stores.records import Entry
from strew.stores.views import LATENESS_CAP, BatchInfo, LatenessSummary

from .. import helpers

LEASE = 60_000_000
HOUR = 3_600_000_000
SECOND = 1_000_000


def spread(now: int, count: int, prefix: str = "t", step: int = SECOND) -> list[Entry]:
    """``count`` entries one ``step`` apart from ``now``."""
    return [Entry(f"{prefix}{i}", now + i * step, b"payload") for i in range(count)]


async def test_a_committed_batch_with_a_descriptor_is_listed_with_what_it_wrote(
    store: Store,
) -> None:
    now = await store.now()
    assert await store.stage_batch("b1", spread(now, 4), HOUR) == 4
    assert await store.commit_batch("b1", 4, HOUR, b"about b1") == []
    [info] = await store.batches(10)
    assert (info.batch, info.descriptor, info.written, info.cancelled) == (
        "b1",
        b"about b1",
        4,
        None,
    )
    assert info.created >= now


async def test_a_batch_written_without_a_descriptor_is_not_listed(store: Store) -> None:
    now = await store.now()
    await store.stage_batch("plain", spread(now, 2), HOUR)
    await store.commit_batch("plain", 2, HOUR)
    await store.schedule_batch("streamed", spread(now, 2, "s"), HOUR)
    assert await store.batches(10) == []
    assert await store.batch_progress("plain", now, now + 2 * SECOND, 2) is None


async def test_batches_are_listed_newest_first_up_to_the_limit(store: Store) -> None:
    now = await store.now()
    for n in range(3):
        await store.schedule_batch(f"b{n}", spread(now, 1, f"k{n}-"), HOUR, f"d{n}".encode())
    listed = await store.batches(2)
    assert [info.batch for info in listed] == ["b2", "b1"]
    assert [info.batch for info in await store.batches(10)] == ["b2", "b1", "b0"]


async def test_one_batch_is_read_by_its_id_as_the_listing_shows_it(store: Store) -> None:
    now = await store.now()
    for n in range(3):
        await store.schedule_batch(f"b{n}", spread(now, 1, f"k{n}-"), HOUR, f"d{n}".encode())
    await store.schedule_batch("plain", spread(now, 1, "p-"), HOUR)
    # The oldest, past what a listing of one would reach.
    assert await store.batch("b0") == (await store.batches(10))[-1]
    assert await store.batch("plain") is None
    assert await store.batch("never") is None


async def test_streamed_chunks_add_up_under_one_listing_created_by_the_first(
    store: Store,
) -> None:
    now = await store.now()
    await store.schedule_batch("b", spread(now, 3, "a"), HOUR, b"d")
    [first] = await store.batches(10)
    await store.schedule_batch("b", [*spread(now, 2, "b"), Entry("a0", now, b"again")], HOUR, b"d")
    [info] = await store.batches(10)
    assert info.written == 5
    assert info.created == first.created


async def test_a_cancelled_batch_stays_listed_and_says_so(store: Store) -> None:
    now = await store.now()
    await store.schedule_batch("b", spread(now + HOUR, 3), 2 * HOUR, b"d")
    assert await store.cancel_batch("b") == 3
    [info] = await store.batches(10)
    assert info.cancelled is not None and info.cancelled >= info.created


async def test_progress_counts_planned_and_waiting_members_per_slice(store: Store) -> None:
    now = await store.now()
    start = now - 10 * SECOND
    # Two tasks in each of four 10-second slices, the first slice already due.
    entries = [Entry(f"t{i}", start + i * 5 * SECOND, b"p") for i in range(8)]
    await store.stage_batch("b", entries, HOUR)
    await store.commit_batch("b", 8, HOUR, b"d")
    claimed = (await store.claim("w", 10, LEASE, 0)).claims
    assert sorted(c.key for c in claimed) == ["t0", "t1", "t2"]
    progress = await store.batch_progress("b", start, start + 40 * SECOND, 4)
    assert progress is not None
    assert progress.planned == [2, 2, 2, 2]
    assert progress.waiting == [0, 1, 2, 2]


async def test_progress_leaves_out_a_member_scheduled_again_at_another_time(
    store: Store,
) -> None:
    now = await store.now()
    await store.schedule_batch("b", spread(now + HOUR, 2), 2 * HOUR, b"d")
    await store.schedule([Entry("t0", now + HOUR + 30 * SECOND, b"other")], replace=True)
    progress = await store.batch_progress("b", now + HOUR, now + HOUR + 2 * SECOND, 2)
    assert progress is not None
    assert (progress.planned, progress.waiting) == ([1, 1], [0, 1])


async def test_progress_puts_members_outside_the_window_in_its_end_slices(store: Store) -> None:
    now = await store.now()
    entries = [Entry("early", now + HOUR, b"p"), Entry("late", now + 3 * HOUR, b"p")]
    await store.schedule_batch("b", entries, 4 * HOUR, b"d")
    progress = await store.batch_progress("b", now + 2 * HOUR, now + 2 * HOUR + SECOND, 3)
    assert progress is not None
    assert (progress.planned, progress.waiting) == ([1, 0, 1], [1, 0, 1])


async def test_progress_of_a_batch_larger_than_one_page_counts_every_member(
    store: Store,
) -> None:
    now = await store.now()
    entries = spread(now + HOUR, 25_000, step=1_000)
    for low in range(0, len(entries), 5_000):
        await store.stage_batch("big", entries[low : low + 5_000], HOUR)
    await store.commit_batch("big", 25_000, 2 * HOUR, b"d")
    progress = await store.batch_progress("big", now + HOUR, now + HOUR + 25_000_000, 5)
    assert progress is not None
    assert progress.planned == [5_000] * 5
    assert progress.waiting == [5_000] * 5
    assert progress.exact
    sampled = await store.batch_progress("big", now + HOUR, now + HOUR + 25_000_000, 5, 2_000)
    assert sampled is not None
    # Estimated from 2,000 members (Redis) or counted (memory): close to the truth either way.
    assert sum(sampled.planned) == 25_000
    assert all(4_500 <= n <= 5_500 for n in sampled.planned + sampled.waiting)


async def test_a_heartbeat_report_is_read_back_and_forgotten_with_its_worker(
    store: Store,
) -> None:
    await store.heartbeat("w1", LEASE, b"report one")
    await store.heartbeat("w2", LEASE)
    reports = await store.worker_reports()
    assert [(r.worker, r.report) for r in reports] == [("w1", b"report one"), ("w2", b"")]
    assert all(r.last_seen > 0 for r in reports)
    await store.heartbeat("w1", LEASE, b"report two")
    await store.forget_worker("w2")
    assert [(r.worker, r.report) for r in await store.worker_reports()] == [("w1", b"report two")]


async def test_lateness_summaries_come_back_oldest_first_from_since(store: Store) -> None:
    now = await store.now()
    summaries = [
        LatenessSummary(now - 20 * SECOND, "w1", 5, 1_000, 9_000, 12_000),
        LatenessSummary(now - 10 * SECOND, "w2", 3, 2_000, 3_000, 3_500),
    ]
    await store.record_lateness(summaries, HOUR)
    assert await store.lateness(now - 15 * SECOND, 100) == summaries[1:]
    assert await store.lateness(0, 1) == summaries[:1]


async def test_lateness_older_than_keep_is_forgotten_as_new_summaries_arrive() -> None:
    clock = [1_000 * HOUR]
    store = MemoryStore(lambda: clock[0])
    old = LatenessSummary(clock[0], "w", 1, 1, 1, 1)
    await store.record_lateness([old], HOUR)
    clock[0] += 2 * HOUR
    new = LatenessSummary(clock[0], "w", 2, 2, 2, 2)
    await store.record_lateness([new], HOUR)
    assert await store.lateness(0, 10) == [new]
    many = [LatenessSummary(clock[0] + n, "w", 1, 1, 1, 1) for n in range(LATENESS_CAP + 5)]
    await store.record_lateness(many, HOUR)
    assert len(await store.lateness(0, 2 * LATENESS_CAP)) == LATENESS_CAP


async def test_a_listing_ends_when_its_members_would_have_expired() -> None:
    clock = [1_000 * HOUR]
    store = MemoryStore(lambda: clock[0])
    await store.schedule_batch("b", spread(clock[0], 1), HOUR, b"d")
    assert [info.batch for info in await store.batches(10)] == ["b"]
    clock[0] += HOUR
    assert await store.batches(10) == []


@pytest.mark.parametrize("store_kind", ["redis"])
async def test_a_batch_an_earlier_strew_wrote_is_cancelled_and_not_listed(
    store: Store, docket_name: str
) -> None:
    """The previous main kept a batch as its members alone (a list of 'due key'), with no
    descriptor: it is not listed, has no progress, and still cancels."""
    now = await store.now()
    await store.schedule(spread(now + HOUR, 2), replace=False)
    client = aioredis.Redis.from_url(helpers.test_redis_url())
    try:
        members = f"strew:{{{docket_name}}}:batch:old"
        await client.rpush(members, f"{now + HOUR} t0", f"{now + HOUR + SECOND} t1")
        await client.pexpire(members, 60_000)
    finally:
        await client.aclose()
    assert await store.batches(10) == []
    assert await store.batch_progress("old", now, now + 2 * HOUR, 2) is None
    assert await store.cancel_batch("old") == 2
    assert await store.batches(10) == []


@pytest.mark.parametrize("store_kind", ["redis"])
async def test_a_listed_batch_whose_descriptor_expired_is_dropped_from_the_listing(
    store: Store, docket_name: str
) -> None:
    now = await store.now()
    await store.schedule_batch("gone", spread(now, 1, "g"), HOUR, b"d")
    await store.schedule_batch("kept", spread(now, 1, "k"), HOUR, b"d")
    client = aioredis.Redis.from_url(helpers.test_redis_url())
    try:
        await client.delete(f"strew:{{{docket_name}}}:scatter:gone")  # as its expiry would
        assert [info.batch for info in await store.batches(10)] == ["kept"]
        assert await client.zrange(f"strew:{{{docket_name}}}:scatters", 0, -1) == [b"kept"]
    finally:
        await client.aclose()


def test_batch_info_is_a_plain_record() -> None:
    assert BatchInfo("b", b"d", 1, 2) == BatchInfo("b", b"d", 1, 2, None)
