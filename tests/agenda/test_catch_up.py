"""Catch-up after an outage: the policies, their validation, and the outage itself."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import timedelta

import pytest

from strew import Agenda, CatchUp, Docket, Worker
from strew.agenda.catch_up import META_KEY, CatchUpKeeper, catch_up_meta, plan_from_meta
from strew.stores.records import Claim, Finish
from strew.stores.redis.store import RedisStore
from strew.task.clock import from_micros
from strew.testing import free_port

from ..outage import run_outage

# -- the policy and its validation -----------------------------------------------------------


def test_each_policy_reads_back_as_it_was_built() -> None:
    assert CatchUp.run_late().kind == "run_late"
    respread = CatchUp.respread(after=timedelta(seconds=2), every=timedelta(milliseconds=5))
    assert (respread.kind, respread.limit, respread.every) == (
        "respread",
        timedelta(seconds=2),
        timedelta(milliseconds=5),
    )
    assert CatchUp.respread().limit == timedelta(seconds=1)
    assert CatchUp.skip(older_than=timedelta(minutes=1)).limit == timedelta(minutes=1)
    assert repr(CatchUp.skip(timedelta(seconds=3))) == (
        "CatchUp.skip(older_than=datetime.timedelta(seconds=3))"
    )


@pytest.mark.parametrize(
    ("build", "error", "words"),
    [
        (lambda: CatchUp.respread(after=timedelta(0)), ValueError, "after must be a positive"),
        (
            lambda: CatchUp.respread(after=5),  # type: ignore[arg-type]
            TypeError,
            "after must be a timedelta, got 5",
        ),
        (
            lambda: CatchUp.respread(every=timedelta(seconds=-1)),
            ValueError,
            "every must be a positive duration, got -1 day",
        ),
        (
            lambda: CatchUp.skip(older_than=timedelta(seconds=-3)),
            ValueError,
            "older_than must be a positive duration",
        ),
        (
            lambda: CatchUp.skip(older_than=None),  # type: ignore[arg-type]
            TypeError,
            "older_than must be a timedelta",
        ),
        (lambda: CatchUp.respread(speed=0), ValueError, "speed must be a positive, finite"),
        (
            lambda: CatchUp.respread(speed=float("nan")),
            ValueError,
            "speed must be a positive, finite number, got nan",
        ),
        (
            lambda: CatchUp.respread(speed=1e300),
            ValueError,
            "speed must be at most 1000 (times the planned rate; for no limit at all use "
            "CatchUp.run_late()), got 1e+300",
        ),
        (
            lambda: CatchUp.respread(speed="fast"),  # type: ignore[arg-type]
            TypeError,
            "speed must be a number, got 'fast'",
        ),
        (
            lambda: CatchUp("skip", timedelta(seconds=1), speed=2.0),
            ValueError,
            "speed only applies to CatchUp.respread",
        ),
        (
            lambda: CatchUp("sometimes"),  # type: ignore[arg-type]
            ValueError,
            "kind must be 'run_late', 'respread' or",
        ),
        (
            lambda: CatchUp("skip", timedelta(seconds=1), timedelta(seconds=1)),
            ValueError,
            "every only applies to CatchUp.respread",
        ),
        (
            lambda: CatchUp("run_late", timedelta(seconds=1)),
            ValueError,
            "run_late() takes no limit",
        ),
    ],
)
def test_a_bad_policy_is_refused_with_its_argument_named(
    build: object, error: type[Exception], words: str
) -> None:
    assert callable(build)
    with pytest.raises(error, match=re.escape(words)):
        build()


async def test_scatter_refuses_a_catch_up_that_is_not_a_policy_and_writes_nothing(
    docket: Docket,
) -> None:
    agenda = Agenda()
    agenda.add("nothing")()
    with pytest.raises(TypeError, match=re.escape("catch_up must be CatchUp.run_late()")):
        await agenda.scatter(docket, over=timedelta(seconds=1), catch_up="respread")  # type: ignore[arg-type]
    assert (await docket.snapshot()).total_tasks == 0


async def noop(i: int) -> None:
    pass


async def test_only_a_non_default_policy_travels_in_the_meta(docket: Docket) -> None:
    agenda = Agenda()
    for i in range(11):
        agenda.add(noop)(i)
    plain = await agenda.scatter(docket, over=timedelta(seconds=10))
    late = await agenda.scatter(docket, over=timedelta(seconds=10), catch_up=CatchUp.run_late())
    spread = await agenda.scatter(
        docket, over=timedelta(seconds=10), catch_up=CatchUp.respread(timedelta(seconds=2))
    )
    pinned = await agenda.scatter(
        docket,
        over=timedelta(seconds=10),
        catch_up=CatchUp.respread(every=timedelta(milliseconds=250)),
    )
    faster = await agenda.scatter(
        docket, over=timedelta(seconds=10), catch_up=CatchUp.respread(speed=1.6)
    )
    skip = await agenda.scatter(
        docket, over=timedelta(seconds=10), catch_up=CatchUp.skip(timedelta(seconds=30))
    )
    assert META_KEY not in plain[0].meta and META_KEY not in late[0].meta
    # The planned spacing is the window over the gaps between the 11 tasks: one second.
    assert spread[0].meta[META_KEY] == ("respread", 2_000_000, 1_000_000)
    assert pinned[0].meta[META_KEY] == ("respread", 1_000_000, 250_000)
    assert faster[0].meta[META_KEY] == ("respread", 1_000_000, 625_000)
    assert skip[5].meta[META_KEY] == ("skip", 30_000_000)
    assert await docket.store.cancel_batch(spread.scatter_id or "") == 11


def test_a_fast_respread_of_a_dense_scatter_keeps_a_spacing_of_at_least_a_microsecond() -> None:
    # A million tasks over a second are planned 1 us apart; at the fastest speed allowed the
    # spacing would round to nothing, which would start the whole backlog at once.
    fastest = catch_up_meta(CatchUp.respread(speed=1000), 1_000_001, 1_000_000)
    assert fastest[META_KEY] == ("respread", 1_000_000, 1)
    assert CatchUp.respread(speed=1000).speed == 1000


def test_an_unreadable_policy_in_the_meta_runs_late_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert plan_from_meta({META_KEY: ("respread", "soon", 3)}) is None
    assert plan_from_meta({}) is None
    assert "unreadable catch-up policy" in caplog.text


# -- skip ------------------------------------------------------------------------------------


async def test_skip_acknowledges_tasks_older_than_the_limit_without_running_them(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[int] = []

    async def record(i: int) -> None:
        ran.append(i)

    agenda = Agenda()
    for i in range(2):
        agenda.add(record, key=f"skip-{i}")(i)
    # The first task is 10 s overdue, the second 0.5 s: only the first is past the limit.
    start = from_micros(await docket.store.now()) - timedelta(seconds=10)
    await agenda.scatter(
        docket,
        over=timedelta(seconds=9.5),
        start=start,
        catch_up=CatchUp.skip(older_than=timedelta(seconds=5)),
    )
    caplog.set_level(logging.WARNING, logger="strew.worker")
    worker = Worker(docket)
    await worker.run_until_finished()
    assert ran == [1]
    assert worker.stats.skipped == 1
    assert "skipped task skip-0" in caplog.text
    assert (await docket.snapshot()).total_tasks == 0


# -- respread, on a small scale --------------------------------------------------------------


async def test_respread_spaces_an_overdue_scatter_at_its_planned_rate(docket: Docket) -> None:
    starts: list[float] = []

    async def record(i: int) -> None:
        starts.append(time.monotonic())

    agenda = Agenda()
    for i in range(41):
        agenda.add(record, key=f"small-{i}")(i)
    # Planned 25 ms apart; the whole scatter is already 5 s overdue when the worker starts.
    start = from_micros(await docket.store.now()) - timedelta(seconds=6)
    scattered = await agenda.scatter(
        docket,
        over=timedelta(seconds=1),
        start=start,
        catch_up=CatchUp.respread(after=timedelta(seconds=1)),
    )
    worker = Worker(docket, concurrency=1)
    await worker.run_until_finished()
    assert len(starts) == 41
    # The first claimed goes back in with the rest: all 41 run 25 ms apart, none at once.
    assert starts[-1] - starts[0] >= 0.9
    assert (worker.catch_up.retimed, worker.catch_up.handed_back) == (41, 1)
    assert await Agenda.cancel(docket, scattered.scatter_id or "") == 0


# -- the worker's side: hand-backs, coalescing and failures ----------------------------------


async def test_a_workers_late_claims_of_one_scatter_go_back_in_one_request(
    docket: Docket,
) -> None:
    agenda = Agenda()
    for i in range(20):
        agenda.add(noop, key=f"co-{i}")(i)
    now = await docket.store.now()
    scattered = await agenda.scatter(
        docket,
        over=timedelta(seconds=1),
        start=from_micros(now) - timedelta(seconds=5),
        catch_up=CatchUp.respread(after=timedelta(seconds=1)),
    )
    meta = scattered[0].meta
    claims = (await docket.store.claim("w", 5, 60_000_000, 0)).claims
    keeper = CatchUpKeeper(docket.store, "w", lambda: now)
    # The runners of one claim round reach their decision together: one request takes all
    # five back and re-times them with the other fifteen.
    decisions = await asyncio.gather(*(keeper.decide(claim, meta, now) for claim in claims))
    assert decisions == ["handed back"] * 5
    assert (keeper.requests, keeper.handed_back, keeper.retimed) == (1, 5, 20)
    assert (await docket.snapshot()).running == []
    # A claim of the new times is on time, and runs.
    [again] = (await docket.store.claim("w", 1, 60_000_000, 3_600_000_000)).claims
    assert await keeper.decide(again, meta, again.due) == "run"
    assert keeper.requests == 1
    assert await Agenda.cancel(docket, scattered.scatter_id or "") == 19


async def test_a_late_claim_the_store_does_not_take_back_runs(docket: Docket) -> None:
    agenda = Agenda()
    agenda.add(noop, key="kept")(0)
    now = await docket.store.now()
    scattered = await agenda.scatter(
        docket,
        over=timedelta(seconds=1),
        start=from_micros(now) - timedelta(seconds=5),
        catch_up=CatchUp.respread(after=timedelta(seconds=1)),
    )
    [claim] = (await docket.store.claim("w", 1, 60_000_000, 0)).claims
    keeper = CatchUpKeeper(docket.store, "w", lambda: now)
    # A token that no longer holds the lease (as if it had passed to another worker).
    stale = Claim(claim.key, claim.token + "0", claim.payload, claim.due, False)
    assert await keeper.decide(stale, scattered[0].meta, now) == "run"
    assert (keeper.requests, keeper.handed_back) == (1, 0)
    assert [task.execution.key for task in (await docket.snapshot()).running] == ["kept"]
    assert await docket.store.finish([Finish(claim.key, claim.token)]) == [True]


def late_claim(key: str, due: int) -> Claim:
    return Claim(key, "w/1", b"", due, False)


async def test_a_respread_the_store_cannot_do_is_logged_and_the_task_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", "nowhere", connect_timeout=0.5)
    try:
        keeper = CatchUpKeeper(store, "w", lambda: 10_000_000)
        meta = {"scatter": "s", META_KEY: ("respread", 1_000_000, 10_000)}
        assert await keeper.decide(late_claim("k", 0), meta, 10_000_000) == "run"
    finally:
        await store.close()
    assert "could not re-spread scatter s" in caplog.text
    assert keeper.retimed == 0


# -- the outage (issue #6) ------------------------------------------------------------------


@pytest.mark.timeout(150)
async def test_after_an_outage_respread_keeps_starts_within_twice_the_planned_rate(
    docket: Docket,
) -> None:
    # The outage, with four workers of 50 coming back at once: 200 claimed at once
    # on top of the planned 100/s would be three times the rate, if they just ran.
    run = await run_outage(
        docket, CatchUp.respread(after=timedelta(seconds=1)), workers=4, concurrency=50
    )
    assert run.started == 3000, "every task ran"
    assert run.skipped == 0 and run.duplicates == 0
    assert run.peak_after_recovery() <= 2 * run.planned_rate, run.per_second()
    # The overdue third went back on the time line, pushing the tail back by about the outage;
    # the workers' first claims went back with it instead of running at once.
    assert run.retimed > 900
    assert run.handed_back >= 4
    assert run.last_start > 35


@pytest.mark.timeout(60)
@pytest.mark.parametrize("concurrency", [10, 50])
async def test_after_a_shorter_outage_several_workers_leave_room_for_what_they_ran(
    docket: Docket, concurrency: int
) -> None:
    # Scaled down for time: 6 s at 20/s, down from second 2 to 4, four workers. At recovery
    # they claim the whole 2 s backlog: the half more than `after` late goes back into the
    # re-spread, the other half (less than 1 s late) runs at once, and the re-spread leaves
    # room for it instead of starting its own stream on top (that would be 2x, and with
    # plain running late 3x).
    run = await run_outage(
        docket,
        CatchUp.respread(after=timedelta(seconds=1)),
        tasks=121,
        seconds=6.0,
        down=(2.0, 4.0),
        workers=4,
        concurrency=concurrency,
    )
    assert run.started == 121 and run.duplicates == 0
    first_second = run.per_second()[4]
    assert first_second <= 1.5 * run.planned_rate, run.per_second()
    assert run.peak_after_recovery() <= 2 * run.planned_rate, run.per_second()
    assert run.handed_back >= 4


@pytest.mark.timeout(150)
async def test_after_an_outage_running_late_floods_the_first_second(docket: Docket) -> None:
    run = await run_outage(docket, None)
    assert run.started == 3000
    # About a third of the scatter starts within a second or so of recovery: the flood that
    # re-spreading prevents (and proof that the assertion above can fail).
    assert run.peak_after_recovery() > 2 * run.planned_rate, run.per_second()
    assert run.retimed == 0
