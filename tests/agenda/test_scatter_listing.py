"""What a docket tells of its scatters, workers and punctuality (`Docket.scatters`,
`Docket.scatter_progress`, `Docket.workers`, `Docket.punctuality`), on both stores."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from strew import Agenda, Docket, Worker
from strew.docket.scatters import read_descriptor
from strew.docket.workers import merge
from strew.stores.views import BatchInfo, LatenessSummary
from strew.task.clock import from_micros
from strew.worker.upkeep import PUNCTUALITY_INTERVAL, summarise

ran: list[int] = []


async def ping(n: int) -> None:
    ran.append(n)


async def pong(n: int) -> None:
    ran.append(-n)


def agenda_of(count: int) -> Agenda:
    agenda = Agenda()
    for n in range(count):
        agenda.add(ping)(n)
    return agenda


async def test_a_scatter_is_listed_with_its_task_size_window_and_mode(docket: Docket) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    done = await agenda_of(10).scatter(docket, over=timedelta(minutes=9), start=start)
    [listed] = await docket.scatters()
    assert listed.id == done.scatter_id
    assert (listed.task, listed.size, listed.written, listed.mode) == ("ping", 10, 10, "atomic")
    assert (listed.start, listed.end) == (start, start + timedelta(minutes=9))
    assert listed.cancelled is None
    assert listed.plan["level"] is False


async def test_a_scatter_of_several_tasks_names_the_most_called_first(docket: Docket) -> None:
    agenda = agenda_of(3)
    agenda.add(pong)(1)
    await agenda.scatter(docket, over=timedelta(minutes=1), atomic=False)
    [listed] = await docket.scatters()
    assert (listed.task, listed.mode) == ("ping, pong", "streamed")


async def test_progress_shows_planned_and_waiting_per_slice_until_tasks_run(
    docket: Docket,
) -> None:
    now = datetime.now(UTC)
    # Six tasks ten seconds apart from 35 seconds ago: four are due, two are not.
    done = await agenda_of(6).scatter(
        docket, over=timedelta(seconds=50), start=now - timedelta(seconds=35)
    )
    assert done.scatter_id is not None
    progress = await docket.scatter_progress(done.scatter_id, 5)
    assert progress is not None
    assert progress.planned == [1, 1, 1, 1, 2]  # the last task, at the end, in the last slice
    assert progress.waiting == progress.planned and progress.started_total == 0
    assert progress.expected_end == progress.scatter.end
    claimed = await docket.store.claim("w", 10, 60_000_000, 0)  # as a worker starts them
    assert len(claimed.claims) == 4
    progress = await docket.scatter_progress(done.scatter_id, 5)
    assert progress is not None
    assert progress.started == [1, 1, 1, 1, 0]
    assert progress.waiting == [0, 0, 0, 0, 2]
    assert progress.slice_starts[0] == progress.scatter.start


async def test_a_cancelled_scatter_says_so_and_has_nothing_waiting(docket: Docket) -> None:
    start = datetime.now(UTC) + timedelta(hours=1)
    done = await agenda_of(4).scatter(docket, over=timedelta(minutes=1), start=start)
    assert done.scatter_id is not None
    assert await Agenda.cancel(docket, done.scatter_id) == 4
    [listed] = await docket.scatters()
    assert listed.cancelled is not None
    progress = await docket.scatter_progress(done.scatter_id, 2)
    assert progress is not None and progress.waiting_total == 0
    assert progress.expected_end is None


async def test_an_unknown_scatter_has_no_progress(docket: Docket) -> None:
    assert await docket.scatter_progress("never-written", 10) is None


@pytest.mark.parametrize("slices", [0, -1, 10_001, 2.5, True])
async def test_progress_refuses_a_bad_slice_count_naming_it(docket: Docket, slices: object) -> None:
    with pytest.raises(ValueError, match="slices must be a whole number"):
        await docket.scatter_progress("x", slices)  # type: ignore[arg-type]


async def test_listing_refuses_a_limit_below_one(docket: Docket) -> None:
    with pytest.raises(ValueError, match="limit must be a positive whole number, got 0"):
        await docket.scatters(0)


def test_a_descriptor_that_cannot_be_read_lists_as_unknown() -> None:
    for garbage in (b"\x80not json", b"[]", b'{"tasks": 3}', b'{"v": 1}'):
        info = read_descriptor(BatchInfo("b", garbage, 1_000_000, 7, None))
        assert (info.id, info.task, info.written) == ("b", "<unknown>", 7)


async def test_a_worker_reports_its_host_pid_concurrency_and_work_done(docket: Docket) -> None:
    ran.clear()
    await docket.add(ping)(1)
    async with Worker(docket, name="reporter", concurrency=3) as worker:
        await worker.run_until_finished()
        await worker.upkeep.beat()
        [seen] = await docket.workers()
    assert (seen.name, seen.pid, seen.concurrency, seen.running, seen.done) == (
        "reporter",
        os.getpid(),
        3,
        0,
        1,
    )
    assert seen.host and seen.version and seen.failed == 0
    assert seen.started is not None and seen.started <= seen.last_seen


async def test_punctuality_is_sent_once_an_interval_is_over_and_read_back(docket: Docket) -> None:
    async with Worker(docket, name="late") as worker:
        upkeep = worker.upkeep
        base = 1_000 * PUNCTUALITY_INTERVAL
        for late in (10.0, 20.0, 30.0):
            worker.stats.lateness.append(late)
        assert upkeep.punctuality(base + 1) == []
        worker.stats.lateness.append(40.0)
        assert upkeep.punctuality(base + 2) == []
        [summary] = upkeep.punctuality(base + PUNCTUALITY_INTERVAL)
    assert summary == LatenessSummary(base, "late", 4, 20_000, 40_000, 40_000)
    now = await docket.store.now()
    await docket.store.record_lateness([LatenessSummary(now, "late", 4, 1, 2, 3)], 10**9)
    [point] = await docket.punctuality(from_micros(now - 1))
    assert (point.count, point.workers, point.max) == (4, 1, timedelta(microseconds=3))


def test_punctuality_merges_workers_of_one_interval() -> None:
    merged = merge(
        [
            LatenessSummary(10, "a", 1, 1_000, 1_000, 1_000),
            LatenessSummary(10, "b", 3, 5_000, 9_000, 12_000),
            LatenessSummary(20, "a", 0, 0, 0, 0),
        ]
    )
    [point] = merged
    assert (point.count, point.workers) == (4, 2)
    assert point.p50 == timedelta(microseconds=4_000)
    assert (point.p99, point.max) == (timedelta(milliseconds=9), timedelta(milliseconds=12))


def test_a_summary_takes_the_nearest_rank_percentiles() -> None:
    summary = summarise(0, "w", [float(n) for n in range(1, 101)])
    assert (summary.count, summary.p50, summary.p99, summary.max) == (100, 50_000, 99_000, 100_000)
