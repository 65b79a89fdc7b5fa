"""The Store contract for strikes: rules with a version, and held tasks, on both stores."""

from __future__ import annotations

import asyncio

import pytest

from strew.stores import Store
from strew.stores.records import Entry, Wake

# The same assertions on a Redis Cluster too: only the URL differs.
pytestmark = pytest.mark.cluster

LEASE = 60_000_000


async def claimed(store: Store, *keys: str) -> dict[str, str]:
    """Schedule ``keys`` due now, claim them all; their tokens by key."""
    now = await store.now()
    entries = [Entry(key, now - 10 + i, f"payload-{key}".encode()) for i, key in enumerate(keys)]
    await store.schedule(entries, replace=False)
    result = await store.claim("w", len(keys), LEASE, 0)
    return {claim.key: claim.token for claim in result.claims}


async def test_a_docket_never_struck_has_version_zero_and_no_rules(store: Store) -> None:
    assert await store.strikes() == (0, [])
    assert await store.held_tasks(10) == (0, [])


async def test_every_change_of_the_rules_bumps_the_version(store: Store) -> None:
    assert await store.add_strike(b"rule-a") == 1
    assert await store.add_strike(b"rule-b") == 2
    assert await store.add_strike(b"rule-a") == 3  # already there: kept once, still a change
    assert await store.strikes() == (3, [b"rule-a", b"rule-b"])
    assert await store.remove_strike(b"rule-a") == (4, 0)
    assert await store.remove_strike(b"absent") == (5, 0)
    assert await store.strikes() == (5, [b"rule-b"])


async def test_rules_are_opaque_bytes_kept_exactly(store: Store) -> None:
    rule = bytes(range(256))
    await store.add_strike(rule)
    assert (await store.strikes())[1] == [rule]


async def test_hold_moves_a_claim_aside_where_no_claim_sees_it(store: Store) -> None:
    tokens = await claimed(store, "a", "b")
    version, _ = await store.strikes()
    assert await store.hold([("a", tokens["a"])], version) == [True]
    total, held = await store.held_tasks(10)
    assert total == 1
    assert [(task.key, task.payload) for task in held] == [("a", b"payload-a")]
    snapshot = await store.snapshot(10)
    assert [task.key for task in snapshot.running] == ["b"]
    assert snapshot.scheduled_total == 0
    assert (await store.claim("w2", 10, LEASE, 0)).claims == []
    # The held task's lease is gone: its token finishes nothing any more.
    assert await store.extend([("a", tokens["a"])], LEASE) == [False]


async def test_hold_refuses_everything_when_the_rules_changed_since_the_decision(
    store: Store,
) -> None:
    tokens = await claimed(store, "a")
    version = await store.add_strike(b"rule")
    await store.add_strike(b"another")
    assert await store.hold([("a", tokens["a"])], version) == [False]
    assert (await store.held_tasks(10))[0] == 0
    assert [task.key for task in (await store.snapshot(10)).running] == ["a"]


async def test_hold_refuses_a_token_that_no_longer_holds_the_lease(store: Store) -> None:
    await claimed(store, "a")
    assert await store.hold([("a", "w/999")], 0) == [False]
    assert await store.hold([], 0) == []
    assert (await store.held_tasks(10))[0] == 0


async def test_removing_a_strike_puts_every_held_task_back_at_its_due_time(store: Store) -> None:
    tokens = await claimed(store, "a", "b", "c")
    version = await store.add_strike(b"rule")
    assert await store.hold([(k, tokens[k]) for k in ("a", "b")], version) == [True, True]
    _, held = await store.held_tasks(10)
    held_dues = {task.key: task.due for task in held}
    assert await store.remove_strike(b"rule") == (version + 1, 2)
    assert await store.held_tasks(10) == (0, [])
    snapshot = await store.snapshot(10)
    assert {task.key: task.due for task in snapshot.scheduled} == held_dues
    assert [task.payload for task in snapshot.scheduled] == [b"payload-a", b"payload-b"]
    again = await store.claim("w2", 10, LEASE, 0)
    assert sorted(claim.key for claim in again.claims) == ["a", "b"]


async def test_a_key_scheduled_again_while_held_keeps_its_newer_schedule(store: Store) -> None:
    tokens = await claimed(store, "a")
    version, _ = await store.strikes()
    await store.hold([("a", tokens["a"])], version)
    newer = Entry("a", await store.now() + 30_000_000, b"newer")
    assert await store.schedule([newer], replace=False) == [True]
    assert await store.remove_strike(b"whatever") == (version + 1, 0)
    snapshot = await store.snapshot(10)
    assert [(t.key, t.due, t.payload) for t in snapshot.scheduled] == [("a", newer.due, b"newer")]
    assert await store.held_tasks(10) == (0, [])


async def test_held_tasks_lists_the_earliest_first_up_to_the_limit(store: Store) -> None:
    tokens = await claimed(store, "x", "y", "z")
    version, _ = await store.strikes()
    await store.hold([(k, tokens[k]) for k in ("z", "x", "y")], version)
    total, held = await store.held_tasks(2)
    assert total == 3
    assert [task.key for task in held] == ["x", "y"]
    assert (await store.held_tasks(0)) == (3, [])


async def test_restoring_wakes_sleeping_workers(store: Store) -> None:
    tokens = await claimed(store, "a")
    version, _ = await store.strikes()
    await store.hold([("a", tokens["a"])], version)
    notices = store.notifications()
    assert await anext(notices) == Wake(0)
    try:
        await store.remove_strike(b"rule")
        notice = await asyncio.wait_for(anext(notices), timeout=5)
        assert isinstance(notice, Wake) and notice.due > 0
    finally:
        await notices.aclose()  # type: ignore[attr-defined]


async def test_destroy_forgets_rules_and_held_tasks(store: Store) -> None:
    tokens = await claimed(store, "a")
    version = await store.add_strike(b"rule")
    await store.hold([("a", tokens["a"])], version)
    await store.destroy()
    assert await store.strikes() == (0, [])
    assert await store.held_tasks(10) == (0, [])


async def test_cancelling_a_held_task_removes_it_for_good(store: Store) -> None:
    tokens = await claimed(store, "a", "b")
    version, _ = await store.strikes()
    await store.hold([(k, tokens[k]) for k in ("a", "b")], version)
    assert await store.cancel(["a"]) == 1
    assert [task.key for task in (await store.held_tasks(10))[1]] == ["b"]
    assert await store.remove_strike(b"rule") == (version + 1, 1)
    assert [task.key for task in (await store.snapshot(10)).scheduled] == ["b"]


async def test_task_state_shows_a_held_task_with_its_due_time_and_payload(store: Store) -> None:
    tokens = await claimed(store, "a")
    version, _ = await store.strikes()
    assert await store.hold([("a", tokens["a"])], version) == [True]
    state = await store.task_state("a")
    assert state.scheduled is None and state.running is None
    assert state.held is not None
    assert (state.held.key, state.held.payload) == ("a", b"payload-a")
    [listed] = (await store.held_tasks(10))[1]
    assert state.held.due == listed.due
    assert (await store.task_state("other")).held is None

    await store.remove_strike(b"any")
    state = await store.task_state("a")
    assert state.held is None
    assert state.scheduled is not None and state.scheduled.due == listed.due
