"""The Store contract for admission controls: concurrency slots that live as long as their
holder's lease, waiting tasks in order, rate logs, cooldowns and debounce windows, on both
stores (and a Redis Cluster)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from strew.stores import Store, open_store
from strew.stores.memory.store import _registry
from strew.stores.records import Claim, Entry, Finish, Gate, LimitUsage

from ..conftest import raw_client

pytestmark = pytest.mark.cluster

LEASE = 60_000_000
SECOND = 1_000_000


_taken: dict[tuple[int, str], Claim] = {}
"""Claims a claim took besides the one it was made for, by (store, key), for the next ask."""


async def claim_new(store: Store, key: str, *, lease: int = LEASE) -> Claim:
    """Schedule ``key`` due now and claim it."""
    now = await store.now()
    assert await store.schedule([Entry(key, now - 1, f"payload-{key}".encode())], replace=False)
    return await claim_key(store, key, lease=lease)


async def claim_key(store: Store, key: str, *, lease: int = LEASE) -> Claim:
    """The claim of ``key``: taken now, or by an earlier claim that took it along."""
    result = await store.claim("w", 100, lease, 0)
    for claim in result.claims:
        _taken[(id(store), claim.key)] = claim
    found = _taken.pop((id(store), key), None)
    assert found is not None, f"{key} was not claimable"
    return found


async def due_of(store: Store, key: str) -> int | None:
    state = await store.task_state(key)
    return None if state.scheduled is None else state.scheduled.due


ONE_SLOT = [Gate("concurrency", "customer:1", limit=1)]


async def test_a_free_slot_lets_the_task_run_and_a_full_one_parks_it(store: Store) -> None:
    first = await claim_new(store, "a")
    assert (await store.admit("a", first.token, ONE_SLOT, LEASE)).verdict == "run"
    second = await claim_new(store, "b")
    before = await store.now()
    admission = await store.admit("b", second.token, ONE_SLOT, LEASE)
    assert admission.verdict == "wait" and admission.gate == 0
    # Back on the schedule, at the latest when the holder's lease could lapse.
    assert admission.until >= before + LEASE - SECOND
    assert await due_of(store, "b") == admission.until
    assert (await store.task_state("b")).running is None
    assert await store.limits(10) == [LimitUsage("customer:1", None, 1, 1)]


async def test_freeing_a_slot_brings_the_first_waiting_task_forward(store: Store) -> None:
    first = await claim_new(store, "a")
    await store.admit("a", first.token, ONE_SLOT, LEASE)
    second = await claim_new(store, "b")
    await store.admit("b", second.token, ONE_SLOT, LEASE)
    assert await store.release_slots("a", ONE_SLOT) == 1
    now = await store.now()
    due = await due_of(store, "b")
    assert due is not None and due <= now
    again = await claim_key(store, "b")
    assert (await store.admit("b", again.token, ONE_SLOT, LEASE)).verdict == "run"
    assert await store.limits(10) == [LimitUsage("customer:1", None, 1, 0)]
    await store.release_slots("b", ONE_SLOT)
    assert await store.limits(10) == []


async def test_a_slot_lives_only_as_long_as_its_holders_lease(store: Store) -> None:
    now = await store.now()
    await store.schedule([Entry("a", now - 2, b"a"), Entry("b", now - 1, b"b")], replace=False)
    # a's worker "dies": its 50 ms lease is never renewed.
    (holder,) = (await store.claim("w", 1, 50_000, 0)).claims
    assert (await store.admit("a", holder.token, ONE_SLOT, LEASE)).verdict == "run"
    (other,) = (await store.claim("w", 1, LEASE, 0)).claims
    await asyncio.sleep(0.1)
    assert (await store.admit("b", other.token, ONE_SLOT, LEASE)).verdict == "run"


async def test_a_redelivered_holder_keeps_its_own_slot(store: Store) -> None:
    first = await claim_new(store, "a", lease=50_000)
    await store.admit("a", first.token, ONE_SLOT, LEASE)
    await asyncio.sleep(0.1)
    again = await claim_key(store, "a")  # the lease expired: redelivered under a new token
    assert again.redelivered
    assert (await store.admit("a", again.token, ONE_SLOT, LEASE)).verdict == "run"


async def test_waiting_tasks_keep_their_order_and_newcomers_queue_behind(store: Store) -> None:
    two = [Gate("concurrency", "api", limit=2)]
    for key in ("h1", "h2"):
        claim = await claim_new(store, key)
        assert (await store.admit(key, claim.token, two, LEASE)).verdict == "run"
    for key in ("w1", "w2", "w3"):
        claim = await claim_new(store, key)
        assert (await store.admit(key, claim.token, two, LEASE)).verdict == "wait"
    assert await store.release_slots("h1", two) == 1
    assert await due_of(store, "w1") <= await store.now()  # type: ignore[operator]
    assert (await due_of(store, "w2") or 0) > await store.now()
    # A newcomer finds the freed slot owed to w1: it waits behind w2 and w3.
    newcomer = await claim_new(store, "n")
    assert (await store.admit("n", newcomer.token, two, LEASE)).verdict == "wait"
    w1 = await claim_key(store, "w1")
    assert (await store.admit("w1", w1.token, two, LEASE)).verdict == "run"
    assert await store.limits(10) == [LimitUsage("api", None, 2, 3)]


async def test_a_cancelled_waiting_task_gives_up_its_place(store: Store) -> None:
    first = await claim_new(store, "a")
    await store.admit("a", first.token, ONE_SLOT, LEASE)
    for key in ("b", "c"):
        claim = await claim_new(store, key)
        await store.admit(key, claim.token, ONE_SLOT, LEASE)
    assert await store.cancel(["b"]) == 1
    assert await store.release_slots("a", ONE_SLOT) == 1
    assert (await due_of(store, "c") or 0) <= await store.now()


async def test_a_task_scheduled_again_while_it_ran_is_not_overwritten_by_a_wait(
    store: Store,
) -> None:
    first = await claim_new(store, "a")
    await store.admit("a", first.token, ONE_SLOT, LEASE)
    second = await claim_new(store, "b")
    later = await store.now() + 3600 * SECOND
    await store.schedule([Entry("b", later, b"newer")], replace=True)
    assert (await store.admit("b", second.token, ONE_SLOT, LEASE)).verdict == "wait"
    state = await store.task_state("b")
    assert state.scheduled is not None and state.scheduled.payload == b"newer"
    assert state.scheduled.due == later


async def test_a_rate_limit_defers_the_start_past_its_window(store: Store) -> None:
    rate = [Gate("rate", "sync", limit=2, window=10 * SECOND)]
    started = []
    for key in ("a", "b"):
        claim = await claim_new(store, key)
        started.append(await store.now())
        assert (await store.admit(key, claim.token, rate, LEASE)).verdict == "run"
    third = await claim_new(store, "c")
    admission = await store.admit("c", third.token, rate, LEASE)
    assert admission.verdict == "defer"
    assert started[0] + 10 * SECOND - SECOND < admission.until <= started[1] + 10 * SECOND
    assert await due_of(store, "c") == admission.until


async def test_a_rate_limit_with_drop_leaves_the_claim_for_its_worker(store: Store) -> None:
    rate = [Gate("rate", "hook", limit=1, window=10 * SECOND, drop=True)]
    first = await claim_new(store, "a")
    assert (await store.admit("a", first.token, rate, LEASE)).verdict == "run"
    second = await claim_new(store, "b")
    assert (await store.admit("b", second.token, rate, LEASE)).verdict == "drop"
    assert (await store.task_state("b")).running is not None


async def test_a_redelivery_counts_once_against_a_rate_limit(store: Store) -> None:
    rate = [Gate("rate", "sync", limit=1, window=10 * SECOND)]
    first = await claim_new(store, "a", lease=50_000)
    assert (await store.admit("a", first.token, rate, LEASE)).verdict == "run"
    await asyncio.sleep(0.1)
    again = await claim_key(store, "a")
    assert (await store.admit("a", again.token, rate, LEASE)).verdict == "run"


async def test_a_cooldown_drops_other_tasks_within_its_window(store: Store) -> None:
    cool = [Gate("cooldown", "hooks", window=10 * SECOND)]
    first = await claim_new(store, "a", lease=50_000)
    assert (await store.admit("a", first.token, cool, LEASE)).verdict == "run"
    second = await claim_new(store, "b")
    assert (await store.admit("b", second.token, cool, LEASE)).verdict == "drop"
    await asyncio.sleep(0.1)
    again = await claim_key(store, "a")  # its own redelivery is not its own cooldown
    assert (await store.admit("a", again.token, cool, LEASE)).verdict == "run"


async def test_every_cooldown_must_pass_and_one_that_blocks_records_nothing(
    store: Store,
) -> None:
    customer = Gate("cooldown", "customer:1", window=10 * SECOND)
    region = Gate("cooldown", "region:us", window=10 * SECOND)
    first = await claim_new(store, "a")
    assert (await store.admit("a", first.token, [customer], LEASE)).verdict == "run"
    second = await claim_new(store, "b")
    admission = await store.admit("b", second.token, [region, customer], LEASE)
    assert (admission.verdict, admission.gate) == ("drop", 1)
    third = await claim_new(store, "c")
    assert (await store.admit("c", third.token, [region], LEASE)).verdict == "run"


async def test_debounce_runs_the_first_task_once_the_burst_is_quiet(store: Store) -> None:
    window = 200_000  # 200 ms
    debounce = [Gate("debounce", "hooks", window=window)]
    first = await claim_new(store, "a")
    admission = await store.admit("a", first.token, debounce, LEASE)
    assert admission.verdict == "defer" and admission.until == await due_of(store, "a")
    second = await claim_new(store, "b")
    assert (await store.admit("b", second.token, debounce, LEASE)).verdict == "drop"
    # The winner, claimed once the burst has been quiet for the window, runs.
    await asyncio.sleep((window + 50_000) / SECOND)
    winner = await claim_key(store, "a")
    assert (await store.admit("a", winner.token, debounce, LEASE)).verdict == "run"
    # The state is gone: the next burst starts afresh.
    third = await claim_new(store, "c")
    assert (await store.admit("c", third.token, debounce, LEASE)).verdict == "defer"


async def test_a_claim_whose_lease_moved_on_is_lost_and_changes_nothing(store: Store) -> None:
    first = await claim_new(store, "a")
    assert (await store.admit("a", "not-the-token", ONE_SLOT, LEASE)).verdict == "lost"
    assert await store.limits(10) == []
    assert (await store.admit("a", first.token, ONE_SLOT, LEASE)).verdict == "run"


@pytest.fixture
async def neighbour(store_url: str, docket_name: str) -> AsyncIterator[Store]:
    other = open_store(store_url, docket_name + "-n")
    yield other
    await other.destroy()
    await other.close()
    _registry.pop((store_url, docket_name + "-n"), None)


async def test_a_scope_is_one_limit_for_the_dockets_that_share_it(
    store: Store, neighbour: Store, store_kind: str, store_url: str, docket_name: str
) -> None:
    if store_kind == "cluster":
        pytest.skip("on a Redis Cluster a scope is shared within one docket (docs/admission.md)")
    scope = f"shared-{docket_name}"
    scoped = [Gate("concurrency", "tenant", limit=1, scope=scope)]
    try:
        first = await claim_new(store, "a")
        assert (await store.admit("a", first.token, scoped, LEASE)).verdict == "run"
        other = await claim_new(neighbour, "b")
        assert (await neighbour.admit("b", other.token, scoped, LEASE)).verdict == "wait"
        # Freed in one docket, the task waiting in the other is brought forward.
        assert await store.release_slots("a", scoped) == 1
        assert (await due_of(neighbour, "b") or 0) <= await neighbour.now()
    finally:
        # A scope's keys belong to no docket, so destroying both leaves them (they expire
        # in days): the test removes its own, as it removes its dockets.
        if store_kind != "memory":
            client = raw_client(store_url)
            try:
                for key in [k async for k in client.scan_iter(match=f"strew:scope:{{{scope}}}:*")]:
                    await client.delete(key)
            finally:
                await client.aclose()


async def test_freeing_two_slots_past_a_cancelled_waiter_brings_two_tasks_forward(
    store: Store,
) -> None:
    two = [Gate("concurrency", "api", limit=2)]
    now = await store.now()
    await store.schedule([Entry("h1", now - 2, b"h1"), Entry("h2", now - 1, b"h2")], replace=False)
    (h1,) = (await store.claim("w", 1, LEASE, 0)).claims
    (h2,) = (await store.claim("w", 1, 50_000, 0)).claims  # its worker dies: 50 ms lease
    for claim in (h1, h2):
        assert (await store.admit(claim.key, claim.token, two, LEASE)).verdict == "run"
    for key in ("w1", "w2", "w3"):
        claim = await claim_new(store, key)
        assert (await store.admit(key, claim.token, two, LEASE)).verdict == "wait"
    await store.cancel(["w1"])
    await asyncio.sleep(0.1)
    assert await store.release_slots("h1", two) == 2
    now = await store.now()
    assert [(await due_of(store, key) or now + 1) <= now for key in ("w2", "w3")] == [True, True]


async def test_a_cancelled_debounce_winner_is_replaced_by_the_next_claim(store: Store) -> None:
    debounce = [Gate("debounce", "hooks", window=10 * SECOND)]
    first = await claim_new(store, "a")
    assert (await store.admit("a", first.token, debounce, LEASE)).verdict == "defer"
    assert await store.cancel(["a"]) == 1
    second = await claim_new(store, "b")
    admission = await store.admit("b", second.token, debounce, LEASE)
    assert admission.verdict == "defer" and await due_of(store, "b") == admission.until
    third = await claim_new(store, "c")  # b is the winner now: c is one of its burst
    assert (await store.admit("c", third.token, debounce, LEASE)).verdict == "drop"


async def test_a_cooldown_holds_back_a_later_run_of_the_same_key(store: Store) -> None:
    cool = [Gate("cooldown", "hooks", window=10 * SECOND)]
    first = await claim_new(store, "a")
    assert (await store.admit("a", first.token, cool, LEASE)).verdict == "run"
    assert await store.finish([Finish("a", first.token)]) == [True]
    again = await claim_new(store, "a")
    assert (await store.admit("a", again.token, cool, LEASE)).verdict == "drop"


async def test_a_waiting_task_another_gate_drops_hands_its_turn_to_the_next(store: Store) -> None:
    quota = Gate("rate", "quota", limit=2, window=10 * SECOND, drop=True)
    gates = [quota, *ONE_SLOT]
    first = await claim_new(store, "a")
    assert (await store.admit("a", first.token, gates, LEASE)).verdict == "run"
    for key in ("b", "c"):
        claim = await claim_new(store, key)
        assert (await store.admit(key, claim.token, gates, LEASE)).verdict == "wait"
    # Another task under the same quota (no slot needed) takes its last start.
    other = await claim_new(store, "x")
    assert (await store.admit("x", other.token, [quota], LEASE)).verdict == "run"
    assert await store.release_slots("a", gates) == 1  # b's turn
    b = await claim_key(store, "b")
    # b is over the quota: dropped, it leaves the line, and c, behind it, is brought forward.
    assert (await store.admit("b", b.token, gates, LEASE)).verdict == "drop"
    assert (await due_of(store, "c") or 0) <= await store.now()
