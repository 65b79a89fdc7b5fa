"""`Store.respread_batch`, the storage side of catch-up: the same assertions on both stores."""

from __future__ import annotations

from strew.stores import Store
from strew.stores.base import Entry

LEASE = 60_000_000
TTL = 3_600_000_000
MS = 1_000


async def scatter(store: Store, batch: str, dues: list[int], prefix: str = "b") -> list[Entry]:
    entries = [Entry(f"{prefix}{i:02d}", due, f"p{i}".encode()) for i, due in enumerate(dues)]
    assert all(await store.schedule_batch(batch, entries, TTL))
    return entries


async def schedule_of(store: Store) -> dict[str, int]:
    snapshot = await store.snapshot(10_000)
    return {task.key: task.due for task in snapshot.scheduled}


async def test_a_batch_on_time_is_left_alone(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 400 * MS, now, now + 1000 * MS])
    before = await schedule_of(store)
    # The earliest is 400 ms overdue, inside the 500 ms allowed.
    assert await store.respread_batch("s", now, 100 * MS, 500 * MS) == 0
    assert await schedule_of(store) == before


async def test_the_overdue_part_is_spread_from_start_and_the_tail_pushed_only_as_needed(
    store: Store,
) -> None:
    now = await store.now()
    # Ten tasks 1 ms apart, five of them overdue, then two far in the future.
    dues = [now - 5 * MS + i * MS for i in range(10)] + [now + 20 * MS, now + 30 * MS]
    await scatter(store, "s", dues)
    assert await store.respread_batch("s", now, MS, MS // 2) == 10
    after = await schedule_of(store)
    assert [after[f"b{i:02d}"] for i in range(10)] == [now + (i + 1) * MS for i in range(10)]
    assert after["b10"] == now + 20 * MS and after["b11"] == now + 30 * MS


async def test_a_crowded_tail_is_pushed_to_the_spacing_and_no_further(store: Store) -> None:
    start = await store.now()
    # Overdue, then a tail planned tighter (0.4 ms apart) than the re-spread's 1 ms.
    dues = [start - 10 * MS, start + 1500, start + 1900, start + 2300, start + 9 * MS]
    await scatter(store, "s", dues)
    assert await store.respread_batch("s", start, MS, 0) == 4
    after = await schedule_of(store)
    assert [after[f"b{i:02d}"] for i in range(5)] == [
        start + MS,
        start + 2 * MS,
        start + 3 * MS,
        start + 4 * MS,
        start + 9 * MS,
    ]


async def test_a_faster_respread_catches_up_and_leaves_the_rest_of_the_plan_alone(
    store: Store,
) -> None:
    now = await store.now()
    # Planned 2 ms apart; ten tasks overdue, thirty on time or in the future.
    dues = [now - 20 * MS + 2 * i * MS for i in range(40)]
    await scatter(store, "s", dues)
    # Re-spread at twice the planned rate: the backlog of 10 and the 11 tasks it overlaps go
    # 1 ms apart up to now + 21 ms, where the plan's next task already is; the rest of the
    # plan is untouched.
    assert await store.respread_batch("s", now, MS, 0) == 21
    after = await schedule_of(store)
    assert [after[f"b{i:02d}"] for i in range(21)] == [now + (i + 1) * MS for i in range(21)]
    assert [after[f"b{i:02d}"] for i in range(21, 40)] == dues[21:]


async def test_equal_due_times_are_taken_in_key_order(store: Store) -> None:
    now = await store.now()
    entries = [Entry(key, now - 10 * MS, b"x") for key in ("c", "a", "b")]
    await store.schedule_batch("s", entries, TTL)
    assert await store.respread_batch("s", now, MS, 0) == 3
    after = await schedule_of(store)
    assert (after["a"], after["b"], after["c"]) == (now + MS, now + 2 * MS, now + 3 * MS)


async def test_a_second_respread_finds_nothing_overdue_and_changes_nothing(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 50 * MS + i * MS for i in range(20)])
    assert await store.respread_batch("s", now, MS, 10 * MS) == 20
    moved = await schedule_of(store)
    assert await store.respread_batch("s", now + 5 * MS, MS, 10 * MS) == 0
    assert await schedule_of(store) == moved


async def test_only_members_still_at_the_batch_time_move(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 30 * MS, now - 20 * MS, now - 10 * MS, now - 5 * MS])
    stranger = Entry("other", now - 40 * MS, b"not in the batch")
    await store.schedule([stranger], replace=False)
    # b00 runs (claimed), b01 was replaced at another time: neither belongs to the batch now.
    claimed = await store.claim("w", 2, LEASE, 0)
    assert [c.key for c in claimed.claims] == ["other", "b00"]
    await store.schedule([Entry("b01", now + 500 * MS, b"replaced")], replace=True)
    assert await store.respread_batch("s", now, MS, 0) == 2
    after = await schedule_of(store)
    assert after == {"b01": now + 500 * MS, "b02": now + MS, "b03": now + 2 * MS}


async def test_cancelling_a_respread_batch_still_removes_its_moved_tasks(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 30 * MS + i * MS for i in range(30)] + [now + 60 * MS])
    await store.schedule([Entry("mine", now + 2 * MS, b"not the batch's")], replace=False)
    assert await store.respread_batch("s", now, 3 * MS, 0) == 31
    # A second outage: everything moves again; the cancel index still counts each task once.
    assert await store.respread_batch("s", now + 200 * MS, 3 * MS, 0) == 31
    assert min((await schedule_of(store)).values()) == now + 2 * MS
    assert await store.cancel_batch("s") == 31
    assert await schedule_of(store) == {"mine": now + 2 * MS}


async def test_an_unknown_or_empty_batch_moves_nothing(store: Store) -> None:
    now = await store.now()
    assert await store.respread_batch("nobody", now, MS, 0) == 0
    await scatter(store, "gone", [now - 10 * MS])
    await store.cancel_batch("gone")
    assert await store.respread_batch("gone", now, MS, 0) == 0


async def test_a_large_batch_is_respread_across_pages(store: Store) -> None:
    now = await store.now()
    count = 2_500  # more than the scripts' page of 1,000
    await scatter(store, "s", [now - count * 10 + i * 10 for i in range(count)])
    assert await store.respread_batch("s", now, 20, 0) == count
    after = await schedule_of(store)
    assert sorted(after.values()) == [now + 20 * (i + 1) for i in range(count)]
    assert await store.cancel_batch("s") == count
