"""The Redis re-spread in bounded steps (strew.stores.redis.respread): a batch larger than one
step ends exactly as a one-step re-spread would leave it, and what other clients do between
two steps (claims, cancels, a schedule replaced, a lease that ran out, another re-spread)
leaves a result a one-step re-spread of the changed batch would give."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest

from strew.stores import Store, open_store
from strew.stores.records import Entry, Finish, Respread, StoreError
from strew.stores.redis.respread import RESPREAD_STEP, RespreadRun, drive
from strew.stores.redis.store import RedisStore

from ..conftest import raw_client
from ..helpers import wait_until
from .test_catch_up_store import LEASE, MS, TTL, S, offers, running_of, scatter, schedule_of

pytestmark = pytest.mark.parametrize("store_kind", ["redis", "cluster"])

AFTER = 900 * MS
"""An ``overdue`` the pauses these tests make between steps never reach (a run that reads for
longer starts its plan later: see the last test), and that holds no member of their batches,
planned whole seconds before ``start``."""


def redis_of(store: Store) -> RedisStore:
    assert isinstance(store, RedisStore)
    return store


async def drain(run: RespreadRun) -> Respread:
    while (done := await run.step()) is None:
        pass
    return done


async def outage(store: Store, now: int, tidy: bool) -> tuple[object, ...]:
    """Two re-spreads of a batch, with claims handed back, claims that ran, claims taken
    early and a key listed twice; what they return and leave behind. A tidy batch's list is
    in due order (read twice, no index), an untidy one's is not. Seconds apart, so that
    nothing depends on how long the test takes."""
    await scatter(store, "s", [now - 20 * S + i * S for i in range(20)], prefix="late")
    if tidy:  # one key cancelled on its own and written again at its time: listed twice
        assert await store.cancel(["late19"]) == 1
        await store.schedule_batch("s", [Entry("late19", now - S, b"again")], TTL)
        await scatter(store, "s", [now - 9 * S + i * S for i in range(10)], prefix="newer")
        await store.schedule_batch("s", [Entry(k, now - S // 2, b"tie") for k in "abc"], TTL)
    else:  # a later chunk holds earlier times, and ties come in no order
        await scatter(store, "s", [now - 40 * S + i * S for i in range(10)], prefix="early")
        await store.schedule_batch("s", [Entry(k, now - 30 * S, b"tie") for k in "cab"], TTL)
        assert await store.cancel(["late05"]) == 1
        await store.schedule_batch("s", [Entry("late05", now - 15 * S, b"again")], TTL)
    # A tail planned tighter than the re-spreads' spacing.
    await scatter(store, "s", [now + 60 * S + i * 300 * MS for i in range(30)], prefix="tail")
    # w1 holds the 15 earliest; w2 the 18 others overdue, of which the two latest ran.
    held = (await store.claim("w1", 15, LEASE, 0)).claims
    theirs = (await store.claim("w2", 33, LEASE, 0)).claims
    assert await store.finish([Finish(c.key, c.token) for c in theirs[-2:]]) == [True, True]
    first = await store.respread_batch("s", now, 2 * S, 3 * S, offers(held))
    # Prefetched early on the new times; then w2 comes back and hands its claims back.
    early = (await store.claim("w3", 3, LEASE, 3600 * S)).claims
    second = await store.respread_batch("s", now + 5 * S, S, 3 * S, offers(theirs[:-2]))
    return (
        first,
        second,
        await schedule_of(store),
        set(await running_of(store)),
        [(c.key, c.due) for c in early],
        await store.cancel_batch("s"),
    )


@pytest.mark.parametrize("tidy", [True, False], ids=["in-due-order", "in-no-order"])
async def test_a_batch_larger_than_one_step_is_respread_as_one_step_would_be(
    store: Store, store_url: str, docket_name: str, tidy: bool
) -> None:
    assert RESPREAD_STEP > 150  # the whole batch below is one step by default
    whole = open_store(store_url, docket_name + "-whole")
    reference = open_store(f"memory://{docket_name}-memory", docket_name)
    try:
        now = await store.now()
        redis_of(store).respread_step = 4
        stepped = await outage(store, now, tidy)
        assert stepped == await outage(whole, now, tidy)
        assert stepped == await outage(reference, now, tidy)  # and as the memory store does
        # Both re-spreads moved tasks and took claims back.
        assert stepped[:2] == (Respread(44, [True] * 15), Respread(28, [True] * 16))
    finally:
        for other in (whole, reference):
            await other.destroy()
            await other.close()


async def test_members_claimed_cancelled_or_replaced_between_steps_take_no_slot(
    store: Store,
) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 10 * S + i * S for i in range(10)])
    run = RespreadRun(redis_of(store), "s", now, S, AFTER, step=2)
    assert await run.step() is None  # begins
    assert await run.step() is None  # indexes b00 and b01
    # Between two steps of the index: b00 (indexed) is claimed, b05 (not yet) cancelled,
    # b07 scheduled again at another time.
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    assert claim.key == "b00"
    assert await store.cancel(["b05"]) == 1
    await store.schedule([Entry("b07", now + 500 * S, b"replaced")], replace=True)
    assert await drain(run) == Respread(7, [])
    kept = ["b01", "b02", "b03", "b04", "b06", "b08", "b09"]
    after = await schedule_of(store)
    assert after == {"b07": now + 500 * S} | {k: now + (i + 1) * S for i, k in enumerate(kept)}
    assert await running_of(store) == {"b00": claim.token}
    assert await store.cancel_batch("s") == 7


async def test_a_member_claimed_while_the_run_moves_leaves_no_hole(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 10 * S + i * S for i in range(10)])
    run = RespreadRun(redis_of(store), "s", now, S, AFTER, step=2)
    for _ in range(1 + 5 + 4):  # begin, index ten, move eight
        assert await run.step() is None
    # Only b08 and b09 are still overdue: a worker takes b08 before the last step.
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    assert claim.key == "b08"
    assert await drain(run) == Respread(9, [])
    after = await schedule_of(store)
    order = [f"b{i:02d}" for i in (0, 1, 2, 3, 4, 5, 6, 7, 9)]
    assert [after[key] for key in order] == [now + (i + 1) * S for i in range(9)]
    assert await running_of(store) == {"b08": claim.token}


async def test_an_offered_claim_whose_lease_ran_out_between_steps_stays_with_its_new_holder(
    store: Store,
) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 10 * S, now - 5 * S])
    first = await store.claim("w1", 1, 1, 0)  # a lease of 1 us: over at once
    [stale] = first.claims
    run = RespreadRun(redis_of(store), "s", now, S, AFTER, [(stale.key, stale.token)], step=1)
    assert await run.step() is None  # begins: the token still held it when offered

    async def lease_over() -> bool:
        return await store.now() > first.now + 1

    await wait_until(lease_over, message="the 1 us lease to run out")
    [fresh] = (await store.claim("w2", 1, LEASE, 0)).claims
    assert (fresh.key, fresh.redelivered) == (stale.key, True)
    assert await drain(run) == Respread(1, [False])
    assert await running_of(store) == {fresh.key: fresh.token}
    assert await schedule_of(store) == {"b01": now + S}


async def test_a_batch_cancelled_between_steps_ends_the_run_and_stays_cancelled(
    store: Store,
) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 10 * S + i * S for i in range(10)])
    run = RespreadRun(redis_of(store), "s", now, S, AFTER, step=3)
    for _ in range(1 + 4 + 1):  # begin, index ten, move three
        assert await run.step() is None
    assert await store.cancel_batch("s") == 10
    assert await drain(run) == Respread(3, [])
    assert await schedule_of(store) == {}
    assert await store.cancel_batch("s") == 0  # the run wrote no member list back


async def test_a_second_respread_waits_for_the_run_under_way_then_hands_its_claims_back(
    store: Store,
) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 10 * S + i * S for i in range(10)])
    held = (await store.claim("w2", 2, LEASE, 0)).claims  # b00, b01
    run = RespreadRun(redis_of(store), "s", now, S, AFTER, step=3)
    assert await run.step() is None  # begins
    second = asyncio.create_task(store.respread_batch("s", now, S, AFTER, offers(held)))
    assert await drain(run) == Respread(8, [])
    # The claims go in at their planned place, and the rest moves on by two slots.
    assert await second == Respread(10, [True, True])
    after = await schedule_of(store)
    assert [after[f"b{i:02d}"] for i in range(10)] == [now + (i + 1) * S for i in range(10)]


async def test_a_plan_starts_as_much_later_as_reading_a_large_batch_took(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 10 * S + i * S for i in range(10)])
    run = RespreadRun(redis_of(store), "s", now, MS, 0, step=2)
    assert await run.step() is None  # begins
    begun = await store.now()
    assert await run.step() is None  # reads two members of ten

    async def later() -> bool:
        return await store.now() > begun + 20 * MS

    await wait_until(later, message="the store's clock to pass start + 20 ms")
    assert await drain(run) == Respread(10, [])
    # Timed from `start`, the first tasks would be 20 ms late, more than the 0 allowed, the
    # moment they are written: the plan starts when the reading ended instead.
    after = sorted((await schedule_of(store)).values())
    assert after[0] > now + 20 * MS + MS
    assert [b - a for a, b in pairwise(after)] == [MS] * 9


async def test_a_crowded_stretch_late_in_a_long_list_is_spaced_as_the_rest(
    store: Store, docket_name: str
) -> None:
    now = await store.now()
    # Overdue, then a stretch already far enough apart (it keeps its times), then a crowded
    # one at the very end of the list, all in the last step of the read: the move may not
    # stop at the stretch.
    dues = [now - 5 * S + i * S for i in range(5)]
    dues += [now + 100 * S + i * 10 * S for i in range(10)]
    dues += [now + 300 * S + i * 100 * MS for i in range(3)]
    reference = open_store(f"memory://{docket_name}-memory", docket_name)
    try:
        redis_of(store).respread_step = 4
        for each in (store, reference):
            await scatter(each, "s", dues)
            assert await each.respread_batch("s", now, S, AFTER) == Respread(7, [])
        assert await schedule_of(store) == await schedule_of(reference)
        after = await schedule_of(store)
        assert [after[f"b{i:02d}"] for i in range(15, 18)] == [
            now + (300 + i) * S for i in range(3)
        ]
    finally:
        await reference.destroy()
        await reference.close()


async def test_a_step_that_fails_after_claims_went_back_reports_them_handed_back(
    store: Store, store_url: str
) -> None:
    now = await store.now()
    # Out of due order (so the move takes the index), the two earliest claimed and offered.
    await scatter(store, "s", [now - 5 * S + i * S for i in range(5)], prefix="late")
    await scatter(store, "s", [now - 10 * S + i * S for i in range(5)], prefix="early")
    held = (await store.claim("w", 2, LEASE, 0)).claims
    run = RespreadRun(redis_of(store), "s", now, S, AFTER, offers(held), step=3)
    while run.so_far().handed_back != [True, True]:
        assert await run.step() is None
    # Redis refuses the next step (its index is no longer a sorted set).
    client = raw_client(store_url)
    try:
        await client.set(f"strew:{{{redis_of(store).docket}}}:batch:s:respread:live", "x")
    finally:
        await client.aclose()
    with pytest.raises(StoreError):
        await run.step()
    # The worker is told what went back, not an error after which it would run them too.
    assert await drive(run) == Respread(3, [True, True])
    assert await running_of(store) == {}


async def test_a_claim_of_a_worker_whose_name_has_spaces_goes_back_too(store: Store) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 10 * S + i * S for i in range(6)])
    held = (await store.claim("worker one", 2, LEASE, 0)).claims
    redis_of(store).respread_step = 2
    assert await store.respread_batch("s", now, S, AFTER, offers(held)) == Respread(6, [True] * 2)
    assert await running_of(store) == {}


async def test_a_run_whose_keys_expired_ends_with_what_it_did(store: Store, store_url: str) -> None:
    now = await store.now()
    await scatter(store, "s", [now - 10 * S + i * S for i in range(10)])
    run = RespreadRun(redis_of(store), "s", now, S, AFTER, step=2)
    for _ in range(1 + 5 + 2):  # begin, read ten, move four
        assert await run.step() is None
    # Its driver stalled past RESPREAD_RUN_TTL_MS: the run's keys are gone.
    client = raw_client(store_url)
    try:
        await client.delete(f"strew:{{{redis_of(store).docket}}}:batch:s:respread:run")
    finally:
        await client.aclose()
    assert await drain(run) == Respread(4, [])
    # The next re-spread starts over, in due order: the six still overdue first.
    assert await store.respread_batch("s", now, S, AFTER) == Respread(10, [])
    after = await schedule_of(store)
    order = [f"b{i:02d}" for i in (4, 5, 6, 7, 8, 9, 0, 1, 2, 3)]
    assert [after[key] for key in order] == [now + (i + 1) * S for i in range(10)]
