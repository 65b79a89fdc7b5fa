"""`Store.respread_batch`, the storage side of catch-up: the same assertions on both stores."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from strew.stores import Store
from strew.stores.records import Claim, Entry, Finish, Respread, Wake

from ..helpers import wait_until
from .test_store_contract import next_notice

# The same assertions on a Redis Cluster too: only the URL differs.
pytestmark = pytest.mark.cluster

LEASE = 60_000_000
TTL = 3_600_000_000
MS = 1_000
S = 1_000_000


async def scatter(store: Store, batch: str, dues: list[int], prefix: str = "b") -> list[Entry]:
    entries = [Entry(f"{prefix}{i:02d}", due, f"p{i}".encode()) for i, due in enumerate(dues)]
    assert all(await store.schedule_batch(batch, entries, TTL))
    return entries


async def schedule_of(store: Store) -> dict[str, int]:
    snapshot = await store.snapshot(10_000)
    return {task.key: task.due for task in snapshot.scheduled}


async def running_of(store: Store) -> dict[str, str]:
    """Each claimed key with the token that holds it."""
    return {task.key: task.token for task in (await store.snapshot(0)).running}


def offers(claims: Sequence[Claim]) -> list[tuple[str, str]]:
    return [(claim.key, claim.token) for claim in claims]


async def test_a_batch_on_time_is_left_alone(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 400 * MS, now, now + 1000 * MS])
    before = await schedule_of(store)
    # The earliest is 400 ms overdue, inside the 500 ms allowed.
    assert (await store.respread_batch("s", now, 100 * MS, 500 * MS)).moved == 0
    assert await schedule_of(store) == before


async def test_the_overdue_part_is_spread_from_start_and_the_tail_pushed_only_as_needed(
    store: Store,
) -> None:
    now = await store.now()
    # Ten tasks 1 ms apart, five of them overdue, then two far in the future.
    dues = [now - 5 * MS + i * MS for i in range(10)] + [now + 20 * MS, now + 30 * MS]
    await scatter(store, "s", dues)
    assert (await store.respread_batch("s", now, MS, MS // 2)).moved == 10
    after = await schedule_of(store)
    assert [after[f"b{i:02d}"] for i in range(10)] == [now + (i + 1) * MS for i in range(10)]
    assert after["b10"] == now + 20 * MS and after["b11"] == now + 30 * MS


async def test_a_crowded_tail_is_pushed_to_the_spacing_and_no_further(store: Store) -> None:
    start = await store.now()
    # Overdue, then a tail planned tighter (0.4 ms apart) than the re-spread's 1 ms.
    dues = [start - 10 * MS, start + 1500, start + 1900, start + 2300, start + 9 * MS]
    await scatter(store, "s", dues)
    assert (await store.respread_batch("s", start, MS, 0)).moved == 4
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
    assert (await store.respread_batch("s", now, MS, 0)).moved == 21
    after = await schedule_of(store)
    assert [after[f"b{i:02d}"] for i in range(21)] == [now + (i + 1) * MS for i in range(21)]
    assert [after[f"b{i:02d}"] for i in range(21, 40)] == dues[21:]


async def test_equal_due_times_are_taken_in_key_order(store: Store) -> None:
    now = await store.now()
    entries = [Entry(key, now - 10 * MS, b"x") for key in ("c", "a", "b")]
    await store.schedule_batch("s", entries, TTL)
    assert (await store.respread_batch("s", now, MS, 0)).moved == 3
    after = await schedule_of(store)
    assert (after["a"], after["b"], after["c"]) == (now + MS, now + 2 * MS, now + 3 * MS)


async def test_a_second_respread_finds_nothing_overdue_and_changes_nothing(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 50 * MS + i * MS for i in range(20)])
    assert (await store.respread_batch("s", now, MS, 10 * MS)).moved == 20
    moved = await schedule_of(store)
    assert (await store.respread_batch("s", now + 5 * MS, MS, 10 * MS)).moved == 0
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
    assert (await store.respread_batch("s", now, MS, 0)).moved == 2
    after = await schedule_of(store)
    assert after == {"b01": now + 500 * MS, "b02": now + MS, "b03": now + 2 * MS}


async def test_cancelling_a_respread_batch_still_removes_its_moved_tasks(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 30 * MS + i * MS for i in range(30)] + [now + 60 * MS])
    await store.schedule([Entry("mine", now + 2 * MS, b"not the batch's")], replace=False)
    assert (await store.respread_batch("s", now, 3 * MS, 0)).moved == 31
    # A second outage: everything moves again; the cancel index still counts each task once.
    assert (await store.respread_batch("s", now + 200 * MS, 3 * MS, 0)).moved == 31
    assert min((await schedule_of(store)).values()) == now + 2 * MS
    assert await store.cancel_batch("s") == 31
    assert await schedule_of(store) == {"mine": now + 2 * MS}


async def test_a_key_scattered_twice_at_one_time_moves_once(store: Store) -> None:
    now = await store.now()
    [entry] = await scatter(store, "s", [now - 10 * MS])
    # Cancelled on its own, then written again by the same batch at the same time.
    assert await store.cancel([entry.key]) == 1
    assert await store.schedule_batch("s", [entry], TTL) == [True]
    assert await store.respread_batch("s", now, MS, 0) == Respread(1, [])
    assert await schedule_of(store) == {entry.key: now + MS}
    assert await store.cancel_batch("s") == 1


async def test_an_unknown_or_empty_batch_moves_nothing(store: Store) -> None:
    now = await store.now()
    assert (await store.respread_batch("nobody", now, MS, 0)).moved == 0
    await scatter(store, "gone", [now - 10 * MS])
    await store.cancel_batch("gone")
    assert (await store.respread_batch("gone", now, MS, 0)).moved == 0


async def test_a_large_batch_is_respread_across_pages(store: Store) -> None:
    now = await store.now()
    count = 2_500  # more than the scripts' page of 1,000, and than a Redis step of 2,000
    # Two seconds late, with one allowed: a re-spread that takes longer than that to read the
    # batch would start its plan later (see Store.respread_batch); this one never does.
    await scatter(store, "s", [now - 2 * S - count * 10 + i * 10 for i in range(count)])
    assert (await store.respread_batch("s", now, 20, S)).moved == count
    after = await schedule_of(store)
    assert sorted(after.values()) == [now + 20 * (i + 1) for i in range(count)]
    assert await store.cancel_batch("s") == count


# -- a worker's late claims, handed back into the re-spread ----------------------------------


async def test_late_claims_go_back_into_the_respread_in_due_order_with_the_rest(
    store: Store,
) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 10 * MS + i * MS for i in range(10)])
    claimed = (await store.claim("w", 3, LEASE, 0)).claims
    assert [claim.key for claim in claimed] == ["b00", "b01", "b02"]
    done = await store.respread_batch("s", now, MS, 0, offers(claimed))
    assert done == Respread(10, [True, True, True])
    # Off their leases, back on the schedule in plan order with their payloads.
    assert await running_of(store) == {}
    scheduled = (await store.snapshot(100)).scheduled
    assert [(task.key, task.due, task.payload) for task in scheduled] == [
        (f"b{i:02d}", now + (i + 1) * MS, f"p{i}".encode()) for i in range(10)
    ]
    # The tokens handed back hold nothing now, and the cancel index knows the new times.
    assert await store.finish([Finish(key, token) for key, token in offers(claimed)]) == [False] * 3
    assert await store.cancel_batch("s") == 10


async def test_a_stale_token_is_not_handed_back_and_the_new_holder_keeps_its_task(
    store: Store,
) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 10 * MS, now - 5 * MS])
    first = await store.claim("w1", 1, 1, 0)  # a lease of 1 us: over at once
    [stale] = first.claims

    async def lease_over() -> bool:
        return await store.now() > first.now + 1

    await wait_until(lease_over, message="the 1 us lease to run out")
    [fresh] = (await store.claim("w2", 1, LEASE, 0)).claims
    assert (fresh.key, fresh.redelivered) == (stale.key, True)
    done = await store.respread_batch("s", now, MS, 0, [(stale.key, stale.token)])
    # The rest of the batch is still re-spread; the task w2 now holds is not touched.
    assert done == Respread(1, [False])
    assert await running_of(store) == {fresh.key: fresh.token}
    assert await schedule_of(store) == {"b01": now + MS}
    assert await store.finish([Finish(fresh.key, fresh.token)]) == [True]


async def test_claims_that_are_not_the_batchs_or_not_late_enough_stay_with_their_worker(
    store: Store,
) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 30 * MS, now - 20 * MS, now - 2 * MS])
    await store.schedule([Entry("other", now - 40 * MS, b"not in the batch")], replace=False)
    claimed = (await store.claim("w", 4, LEASE, 0)).claims
    tokens = {claim.key: claim.token for claim in claimed}
    assert list(tokens) == ["other", "b00", "b01", "b02"]
    # b01 is scheduled again while claimed (a replace): the newer schedule stands.
    await store.schedule([Entry("b01", now + 500 * MS, b"replaced")], replace=True)
    offered = [(key, tokens[key]) for key in ("other", "b00", "b00", "b01", "b02")]
    done = await store.respread_batch("s", now, MS, 10 * MS, offered)
    # other: not a member; b00: handed back, once; b01: scheduled again; b02: 2 ms late,
    # inside the 10 ms allowed. b02 runs now, so b00 goes a slot later than it would.
    assert done == Respread(1, [False, True, False, False, False])
    assert await schedule_of(store) == {"b00": now + 2 * MS, "b01": now + 500 * MS}
    assert await running_of(store) == {key: tokens[key] for key in ("other", "b01", "b02")}


async def test_a_retry_of_a_batch_task_is_no_longer_the_batchs_to_hand_back(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 30 * MS])
    [first] = (await store.claim("w", 1, LEASE, 0)).claims
    # Retried at a time the batch did not give it (already due, to claim it again at once).
    retry = Entry("b00", now - 20 * MS, b"attempt 2")
    assert await store.finish([Finish("b00", first.token, retry)]) == [True]
    [again] = (await store.claim("w", 1, LEASE, 0)).claims
    assert again.due == retry.due
    assert await store.respread_batch("s", now, MS, 0, offers([again])) == Respread(0, [False])
    assert await running_of(store) == {"b00": again.token}


async def test_a_later_workers_late_claims_queue_behind_what_workers_already_hold(
    store: Store,
) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 20 * MS + i * MS for i in range(20)])
    mine = (await store.claim("w1", 5, LEASE, 0)).claims  # b00 to b04
    theirs = (await store.claim("w2", 5, LEASE, 0)).claims  # b05 to b09
    # w1 comes back first: its claims and the scheduled rest, one second apart from now.
    assert await store.respread_batch("s", now, S, 0, offers(mine)) == Respread(15, [True] * 5)
    # w1 claims the first two of the new times early (prefetch); w2 then hands its own back.
    early = (await store.claim("w1", 2, LEASE, 3600 * S)).claims
    assert [(claim.key, claim.due) for claim in early] == [("b00", now + S), ("b01", now + 2 * S)]
    done = await store.respread_batch("s", now + 10 * MS, S, 0, offers(theirs))
    assert done == Respread(18, [True] * 5)
    # w2's tasks, planned earliest, go first but behind the two w1 holds; all 1 s apart.
    after = sorted((due, key) for key, due in (await schedule_of(store)).items())
    order = [f"b{i:02d}" for i in [5, 6, 7, 8, 9, 2, 3, 4, *range(10, 20)]]
    assert after == [(now + (3 + i) * S, key) for i, key in enumerate(order)]
    assert await running_of(store) == dict(offers(early))
    assert await store.cancel_batch("s") == 18


async def test_a_respread_leaves_room_for_what_ran_without_it_a_moment_ago(
    store: Store,
) -> None:
    now = await store.now()
    # One second apart: five overdue (b00 to b04), five from now on (b05 to b09).
    await scatter(store, "s", [now + (i - 5) * S for i in range(10)])
    mine = (await store.claim("w1", 3, LEASE, 0)).claims  # b00 to b02: more than 2 s late
    [ran, runs] = (await store.claim("w2", 2, LEASE, 0)).claims  # b03, b04: within the 2 s
    assert await store.finish([Finish(ran.key, ran.token)]) == [True]
    done = await store.respread_batch("s", now, S, 2 * S, offers(mine))
    assert done == Respread(8, [True] * 3)
    # b03 ran and b04 runs without the re-spread: it starts two slots on, so that they and
    # its first tasks do not all start in the same second.
    after = await schedule_of(store)
    order = ["b00", "b01", "b02", "b05", "b06", "b07", "b08", "b09"]
    assert [after[key] for key in order] == [now + (3 + i) * S for i in range(8)]
    assert await running_of(store) == {runs.key: runs.token}


async def test_handing_claims_back_wakes_sleeping_workers(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 10 * MS, now + 3600 * S])
    claimed = (await store.claim("w", 1, LEASE, 0)).claims
    notices = store.notifications()
    assert await anext(notices) == Wake(0)
    assert await store.respread_batch("s", now, MS, 0, offers(claimed)) == Respread(1, [True])
    # Due again in a millisecond, earlier than anything a worker was told to wait for.
    assert await next_notice(notices) == Wake(now + MS)
    await notices.aclose()  # type: ignore[attr-defined]
