"""The fast scatter path: packed chunks, staged blobs, directly built payloads, bulk keys.

Each of these replaced a slower, simpler step; these tests pin that the result is the same:
the same bytes on the schedule, the same envelope, the same key layout, the same
all-or-nothing behaviour when a call deep in a batch cannot be serialised.
"""

from __future__ import annotations

import gc
import math
import pickle
import pickletools
import re
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from strew import Agenda, Disposition, Docket
from strew.agenda.agenda import DEFAULT_CHUNK
from strew.agenda.build import Call, Planned
from strew.agenda.write import STREAMED_STEP
from strew.stores import Store
from strew.stores.records import Entry
from strew.task.envelope import dump_payload, load_payload, new_keys

from ..helpers import CommandLog

HOUR = 3_600_000_000
STAGE_TTL = 60_000_000


async def scheduled(store: Store) -> list[tuple[str, int, bytes]]:
    snapshot = await store.snapshot(1_000_000)
    return sorted((t.key, t.due, t.payload) for t in snapshot.scheduled)


def awkward_entries(now: int) -> list[Entry]:
    """Entries whose bytes a packing mistake would show: non-ASCII and long keys, empty,
    binary and large payloads (past every header size), dues of every width."""
    return [
        Entry("clé-☃", now + HOUR, b"\x00\x01\xff binary"),
        Entry("k" * 1024, now + 2 * HOUR, b""),
        Entry("big", now + 3 * HOUR, bytes(range(256)) * 300),  # 76,800 bytes
        Entry("medium", now + 4 * HOUR, b"m" * 1500),
        Entry("early", 7, b"due at 7us after the epoch"),
        Entry("before-epoch", -5_000_000, b"negative due"),
    ]


async def test_staged_chunks_are_committed_byte_for_byte(store: Store) -> None:
    entries = awkward_entries(await store.now())
    assert await store.stage_batch("b", entries[:2], STAGE_TTL) == 2
    assert await store.stage_batch("b", [], STAGE_TTL) == 2
    assert await store.stage_batch("b", entries[2:], STAGE_TTL) == len(entries)
    assert await scheduled(store) == []  # staged is invisible
    assert await store.commit_batch("b", len(entries), HOUR) == []
    assert await scheduled(store) == sorted(entries)


async def test_a_streamed_chunk_is_scheduled_byte_for_byte(store: Store) -> None:
    entries = awkward_entries(await store.now())
    assert await store.schedule_batch("b", entries, HOUR) == [True] * len(entries)
    assert await scheduled(store) == sorted(entries)
    assert await store.cancel_batch("b") == len(entries)
    assert await scheduled(store) == []


async def test_a_key_staged_twice_is_committed_with_its_first_entry(store: Store) -> None:
    now = await store.now()
    first = [Entry("a", now + HOUR, b"a1"), Entry("b", now + HOUR, b"b1"), Entry("a", now, b"a2")]
    again = [Entry("b", now, b"b2"), Entry("c", now, b"c1")]
    assert await store.stage_batch("b", first, STAGE_TTL) == 3
    # Every staged entry counts, a repeated key too: that is what the commit checks.
    assert await store.stage_batch("b", again, STAGE_TTL) == 5
    skipped = await store.commit_batch("b", 5, HOUR)
    assert sorted(skipped) == ["a", "b"]
    assert await scheduled(store) == [
        ("a", now + HOUR, b"a1"),
        ("b", now + HOUR, b"b1"),
        ("c", now, b"c1"),
    ]


async def test_a_commit_expecting_another_count_writes_nothing(store: Store) -> None:
    now = await store.now()
    await store.stage_batch("b", [Entry("a", now, b"a"), Entry("a", now, b"a")], STAGE_TTL)
    with pytest.raises(Exception, match="2 of 1"):
        await store.commit_batch("b", 1, HOUR)
    assert await scheduled(store) == []


async def work(n: int, label: str = "", *, extra: object = None) -> None:
    pass


class Point:
    def __init__(self, x: int) -> None:
        self.x = x


async def test_fast_payloads_are_the_envelope_dump_payload_writes(docket: Docket) -> None:
    docket.register(work)
    begin = datetime(2030, 1, 1, tzinfo=UTC)
    calls: list[Call] = [
        (work, (1, "plain"), {}, None),
        ("work", (2,), {"label": "kw", "extra": 2.5}, "explicit"),
        (work, ([1, (2, 3)], {"nested": True}), {}, None),  # plain, but not at the top
        (work, (Point(4),), {"extra": Point(5)}, None),  # needs cloudpickle
    ]
    meta = {"scatter": "abc", "policy": ("skip", 3)}
    plan = Planned(docket, calls, begin, 1_893_456_000_000_000, [0, 10, 20, 30], meta)
    entries = plan.entries(0, 4)
    executions = plan.executions(0, 4)
    assert plan.keys[1] == "explicit"
    for call, entry, execution in zip(calls, entries, executions, strict=True):
        assert entry.key == execution.key
        assert execution.when == begin + timedelta(microseconds=entry.due - entries[0].due)
        assert execution.meta == meta and execution.meta is not meta
        envelope = load_payload(entry.payload)
        assert (envelope.function_name, envelope.when, envelope.meta) == ("work", entry.due, meta)
        if not isinstance(call[1][0], Point):
            assert entry.payload == dump_payload("work", call[1], call[2], entry.due, 1, meta)
            assert (envelope.args, envelope.kwargs) == (call[1], call[2])
        else:
            assert envelope.args[0].x == 4 and envelope.kwargs["extra"].x == 5
    assert [e.due for e in entries] == [1_893_456_000_000_000 + o for o in (0, 10, 20, 30)]


def test_bulk_keys_have_the_time_ordered_uuid7_layout() -> None:
    keys = new_keys(20_000)
    assert len(set(keys)) == len(keys)
    shape = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert all(shape.match(key) for key in keys)
    millis = int(keys[0][:8] + keys[0][9:13], 16)
    now = int(datetime.now(UTC).timestamp() * 1000)
    assert now - 60_000 < millis <= now
    # Every random character position takes more than one value: no constant slipped in.
    for position in (15, 20, 24, 35):
        assert len({key[position] for key in keys}) > 1
    assert new_keys(0) == []


async def test_an_unserialisable_call_late_in_an_atomic_scatter_schedules_nothing(
    docket: Docket,
) -> None:
    agenda = Agenda()
    for i in range(23):
        agenda.add(work)(i)
    agenda.add(work)(23, extra=threading.Lock())  # no pickler can take a lock
    with pytest.raises(TypeError, match="kwargs\\['extra'\\]"):
        # Chunks of 5: four were staged before the bad call was reached.
        await agenda.scatter(docket, over=timedelta(hours=1), chunk_size=5)
    assert (await docket.snapshot(limit=0)).total_tasks == 0
    with pytest.raises(TypeError, match="kwargs\\['extra'\\]"):
        await agenda.scatter(docket, over=timedelta(hours=1), chunk_size=5, atomic=False)
    assert (await docket.snapshot(limit=0)).total_tasks == 0
    assert gc.isenabled()


async def test_a_scatter_returns_executions_that_match_the_schedule(docket: Docket) -> None:
    agenda = Agenda()
    for i in range(37):
        agenda.add(work, key=f"k{i % 30}")(i, label=f"n{i}")  # 7 repeats of earlier keys
    for atomic in (True, False):
        executions = await agenda.scatter(
            docket, over=timedelta(hours=1), atomic=atomic, chunk_size=8
        )
        assert [e.key for e in executions] == [f"k{i % 30}" for i in range(37)]
        expected = [Disposition.SCHEDULED] * 30 + [Disposition.ALREADY_SCHEDULED] * 7
        if not atomic:  # the first scatter already holds every key
            expected = [Disposition.ALREADY_SCHEDULED] * 37
        assert [e.disposition for e in executions] == expected
        snapshot = await docket.snapshot(limit=100)
        assert snapshot.total_tasks == 30
    raw = await docket.store.snapshot(100)
    stored = {t.key: (t.due, pickle.loads(t.payload)) for t in raw.scheduled}
    first = await Agenda.cancel(docket, executions.scatter_id or "")
    assert first == 0  # the streamed scatter wrote nothing, so cancelling it removes nothing
    for key, (_, body) in stored.items():
        i = int(key[1:])
        assert body[2] == (i,) and body[3] == {"label": f"n{i}"}


def test_a_chunk_is_packed_into_blobs_redis_copies_out_of_its_query_buffer() -> None:
    from strew.stores.redis.packing import BLOB_ENTRIES, pack_entries

    small = [Entry(f"key-{i:06d}", 1_800_000_000_000_000 + i, b"p" * 60) for i in range(5000)]
    blobs = pack_entries(small)
    assert all(len(blob) < 32 * 1024 for blob in blobs)
    assert len(blobs) == 20  # ~95 bytes an entry, ~24 KiB a blob
    tiny = [Entry(str(i), i, b"") for i in range(2500)]
    assert [len(blob) > 0 for blob in pack_entries(tiny)] == [True] * 3  # 1,000 at most each
    assert BLOB_ENTRIES == 1000
    huge = [Entry("a", 1, b"x" * 40_000), Entry("b", 2, b"y"), Entry("c", 3, b"z" * 40_000)]
    assert len(pack_entries(huge)) == 3  # an entry larger than a blob travels alone
    assert pack_entries([]) == []


def test_a_plain_envelope_is_stored_without_frame_header_or_memo() -> None:
    args = (764, "user-764")
    body: tuple[Any, ...] = (1, "work", args, {}, 1_790_000_000_000_000, 1, {"s": "x"})
    payload = dump_payload("work", args, {}, 1_790_000_000_000_000, 1, {"s": "x"})
    opcodes = {op.name for op, _, _ in pickletools.genops(payload)}
    assert not opcodes & {"FRAME", "MEMOIZE"}, opcodes
    assert len(payload) < len(pickle.dumps(body, protocol=5)) - 9
    assert pickle.loads(payload) == body
    envelope = load_payload(payload)
    assert (envelope.function_name, envelope.args, envelope.meta) == (
        "work",
        (764, "user-764"),
        {"s": "x"},
    )


def test_an_envelope_that_needs_cloudpickle_keeps_its_memo_but_not_its_frame() -> None:
    shared = Point(1)
    envelope = load_payload(dump_payload("work", (shared, shared), {}, 7, 1))
    assert envelope.args[0] is envelope.args[1]  # one object, as it was when added


def test_an_envelope_of_several_frames_is_left_as_pickle_wrote_it() -> None:
    payload = dump_payload("work", ("x" * 200_000,), {}, 7, 1)
    assert payload[2] == pickle.FRAME[0]
    assert load_payload(payload).args == ("x" * 200_000,)


@pytest.mark.parametrize("atomic", [True, False], ids=["atomic", "streamed"])
async def test_a_scatter_reaches_redis_in_a_few_commands_not_one_per_task(
    redis_docket: Docket, redis_url: str, atomic: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from strew.stores.redis import batches

    monkeypatch.setattr(batches, "MERGE_STEP_MICROS", 60_000_000)  # the commit merges all
    redis_docket.register(work)
    counts: dict[int, Counter[str]] = {}
    for size in (1_200, 12_000):
        agenda = Agenda()
        for i in range(size):
            agenda.add(work)(i, f"user-{i}")
        async with CommandLog(redis_url, redis_docket.name) as log:
            scattered = await agenda.scatter(redis_docket, over=timedelta(hours=1), atomic=atomic)
            await log.settle(f"after-{size}")
        assert sum(e.disposition is Disposition.SCHEDULED for e in scattered) == size
        counts[size] = Counter(log.commands)
    small, large = sum(counts[1_200].values()), sum(counts[12_000].values())
    if atomic:
        # One script per staged chunk of 5,000, then the commit and its clean-up (measured:
        # 4 + 2 for 12,000): ten times the tasks costs a command or two more, not ten
        # thousand. (The merge budget is lifted above: steps of a time budget vary in number
        # with the server's speed; tests/agenda/test_merge_steps.py counts them.)
        assert large <= 10, counts
        assert large - small <= 2, counts
    else:
        # Streamed: one script per 2,000 entries (`STREAMED_STEP`), whatever the chunk size
        # (5,000 by default), so no write holds a big schedule for long. Either scatter may
        # also read the store's clock once (measured: 3 for 1,200; 12 or 13 for 12,000).
        writes = {
            size: sum(
                math.ceil(min(DEFAULT_CHUNK, size - low) / STREAMED_STEP)
                for low in range(0, size, DEFAULT_CHUNK)
            )
            for size in counts
        }
        more = writes[12_000] - writes[1_200]
        assert more - 1 <= large - small <= more + 1, counts
        assert large <= writes[12_000] + 2, counts
