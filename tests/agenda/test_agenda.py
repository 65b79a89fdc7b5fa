"""Scattering an agenda onto a docket, on both stores."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest

from strew import (
    Agenda,
    AgendaEntry,
    Disposition,
    Docket,
    ScatterError,
    StoreError,
    Worker,
)

from ..helpers import wait_until

SECOND = timedelta(seconds=1)


async def greet(name: str, greeting: str = "hello") -> None:
    pass


async def other(n: int) -> None:
    pass


async def scheduled(docket: Docket) -> list[tuple[str, int, bytes]]:
    """Everything on the schedule, exactly: what a failed call must leave untouched."""
    snapshot = await docket.store.snapshot(1_000_000)
    return sorted((t.key, t.due, t.payload) for t in snapshot.scheduled)


def later(seconds: float = 60) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


# -- recording -------------------------------------------------------------------------------


def test_an_agenda_records_calls_in_order_as_named_tuples() -> None:
    agenda = Agenda()
    agenda.add(greet)("Ann")
    agenda.add("greet", key="b")("Bob", key="not-the-task-key")
    assert len(agenda) == 2
    entries = list(agenda)
    assert entries[0] == AgendaEntry(greet, ("Ann",), {}, None)
    function, args, kwargs, key = entries[1]
    assert (function, args, kwargs, key) == ("greet", ("Bob",), {"key": "not-the-task-key"}, "b")
    agenda.clear()
    assert len(agenda) == 0 and list(agenda) == []


def test_bad_entries_are_refused_when_added() -> None:
    with pytest.raises(TypeError, match="function must be a callable or a task name, got 42"):
        Agenda().add(42)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="key must not be empty"):
        Agenda().add(greet, key="")


# -- scattering ------------------------------------------------------------------------------


async def test_scatter_spreads_entries_evenly_and_returns_them_in_order(docket: Docket) -> None:
    agenda = Agenda()
    for name in "abcde":
        agenda.add(greet, key=name)(name)
    start = later()
    executions = await agenda.scatter(docket, over=4 * SECOND, start=start)
    assert [e.key for e in executions] == list("abcde")
    assert [e.when for e in executions] == [start + i * SECOND for i in range(5)]
    assert all(e.disposition is Disposition.SCHEDULED for e in executions)
    assert all(e.scatter_id == executions.scatter_id is not None for e in executions)
    snapshot = await docket.snapshot()
    assert [(e.key, e.when, e.args) for e in snapshot.future] == [
        (e.key, e.when, e.args) for e in executions
    ]
    assert {e.scatter_id for e in snapshot.future} == {executions.scatter_id}


async def test_a_single_entry_lands_in_the_middle(docket: Docket) -> None:
    agenda = Agenda()
    agenda.add(greet)("solo")
    start = later()
    [execution] = await agenda.scatter(docket, timedelta(minutes=10), start)
    assert execution.when == start + timedelta(minutes=5)


async def test_an_empty_agenda_never_touches_the_store() -> None:
    unreachable = Docket(name="nowhere", url="redis://127.0.0.1:1/0")
    assert await Agenda().scatter(unreachable, over=SECOND) == []
    with pytest.raises(
        ValueError, match="'over' parameter must be a positive duration, got -1 day"
    ):
        await Agenda().scatter(unreachable, over=-SECOND)


@pytest.mark.parametrize("atomic", [True, False])
async def test_explicit_keys_make_a_rescatter_idempotent(docket: Docket, atomic: bool) -> None:
    agenda = Agenda()
    for name in ("x", "y"):
        agenda.add(greet, key=name)(name)
    first = await agenda.scatter(docket, over=SECOND, start=later(60), atomic=atomic)
    before = await scheduled(docket)
    again = await agenda.scatter(docket, over=SECOND, start=later(120), atomic=atomic)
    assert [e.disposition for e in first] == [Disposition.SCHEDULED] * 2
    assert [e.disposition for e in again] == [Disposition.ALREADY_SCHEDULED] * 2
    assert await scheduled(docket) == before  # the earlier schedule is kept


async def test_entries_without_keys_get_fresh_ids_so_scattering_twice_schedules_twice(
    docket: Docket,
) -> None:
    agenda = Agenda()
    for i in range(3):
        agenda.add(other)(i)
    first = await agenda.scatter(docket, over=SECOND, start=later())
    second = await agenda.scatter(docket, over=SECOND, start=later())
    keys = [e.key for e in [*first, *second]]
    assert len(set(keys)) == 6
    assert (await docket.snapshot()).total_tasks == 6
    assert first.scatter_id != second.scatter_id


@pytest.mark.parametrize("atomic", [True, False])
async def test_a_key_twice_in_one_agenda_behaves_like_two_adds(
    docket: Docket, atomic: bool
) -> None:
    agenda = Agenda()
    agenda.add(greet, key="dup")("first")
    agenda.add(greet, key="dup")("second")
    executions = await agenda.scatter(docket, over=SECOND, start=later(), atomic=atomic)
    assert [e.disposition for e in executions] == [
        Disposition.SCHEDULED,
        Disposition.ALREADY_SCHEDULED,
    ]
    [task] = (await docket.snapshot()).future
    assert task.args == ("first",)


async def test_unknown_task_names_fail_before_anything_is_written(docket: Docket) -> None:
    agenda = Agenda()
    agenda.add(other)(1)
    agenda.add("nope")(2)
    with pytest.raises(KeyError, match="agenda entry 1: unknown task name 'nope'"):
        await agenda.scatter(docket, over=SECOND)
    assert await scheduled(docket) == []
    assert "other" not in docket.tasks  # nothing registered either


async def test_unregistered_functions_are_registered(docket: Docket) -> None:
    agenda = Agenda()
    agenda.add(other)(1)
    agenda.add("other")(2)  # a name the entry before it registers
    executions = await agenda.scatter(docket, over=SECOND, start=later())
    assert docket.tasks["other"] is other
    assert [e.function for e in executions] == [other, other]


async def test_an_argument_that_cannot_be_serialised_fails_before_any_write(
    docket: Docket,
) -> None:
    agenda = Agenda()
    agenda.add(other, key="fine")(1)
    agenda.add(other)(threading.Lock())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cannot be serialised"):
        await agenda.scatter(docket, over=SECOND)
    assert await scheduled(docket) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"over": timedelta(0)},
            ValueError,
            "'over' parameter must be a positive duration, got 0:00:00",
        ),
        ({}, TypeError, "missing the required argument 'over' \\(or give rate= or every=\\)"),
        ({"over": SECOND, "start": datetime(2030, 1, 1)}, ValueError, "start must be timezone"),
        ({"over": SECOND, "jitter": -SECOND}, ValueError, "jitter must be a non-negative"),
        ({"over": SECOND, "chunk_size": 0}, ValueError, "chunk_size must be a positive .* got 0"),
        ({"over": SECOND, "on_progress": 3}, TypeError, "on_progress must be callable"),
        ({"over": SECOND, "atomic": "yes"}, TypeError, "atomic must be True or False"),
        ({"rate": -2}, ValueError, "rate must be a positive, finite number .* got -2"),
        ({"every": SECOND, "over": SECOND}, ValueError, "got over, every"),
    ],
)
async def test_bad_scatter_arguments_are_named_and_leave_the_store_unchanged(
    docket: Docket, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    await docket.add(other, when=later(), key="existing")(0)
    before = await scheduled(docket)
    agenda = Agenda()
    agenda.add(other, key="existing")(1)
    agenda.add(other)(2)
    with pytest.raises(error, match=message):
        await agenda.scatter(docket, **kwargs)  # type: ignore[arg-type]
    assert await scheduled(docket) == before


async def test_start_defaults_to_now_and_rate_sets_the_spacing(docket: Docket) -> None:
    agenda = Agenda()
    for i in range(11):
        agenda.add(other)(i)
    before = datetime.now(UTC) - SECOND
    executions = await agenda.scatter(docket, rate=10)
    assert before <= executions[0].when <= datetime.now(UTC) + SECOND
    assert executions[-1].when - executions[0].when == SECOND


async def test_a_seeded_scatter_follows_its_plan(docket: Docket) -> None:
    agenda = Agenda()
    for i in range(20):
        agenda.add(other)(i)
    start = later()
    args = {"over": 10 * SECOND, "start": start, "jitter": 3 * SECOND, "seed": 42}
    planned = agenda.plan(**args)  # type: ignore[arg-type]
    executions = await agenda.scatter(docket, **args)  # type: ignore[arg-type]
    assert [e.when for e in executions] == planned
    assert all(start <= when <= start + 10 * SECOND for when in planned)


@pytest.mark.parametrize("atomic", [True, False])
async def test_progress_is_reported_after_each_chunk(docket: Docket, atomic: bool) -> None:
    agenda = Agenda()
    for i in range(25):
        agenda.add(other)(i)
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    await agenda.scatter(
        docket, over=SECOND, start=later(), chunk_size=10, on_progress=progress, atomic=atomic
    )
    assert seen == [(10, 25), (20, 25), (25, 25)]


async def test_a_worker_runs_a_scatter_and_sees_its_id(docket: Docket) -> None:
    ran: list[tuple[int, str | None]] = []
    agenda = Agenda()

    async def record(n: int) -> None:
        ran.append((n, None))

    for i in range(10):
        agenda.add(record)(i)
    executions = await agenda.scatter(docket, over=timedelta(milliseconds=200))
    snapshot = await docket.snapshot()
    assert {e.scatter_id for e in snapshot.future} == {executions.scatter_id}
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert sorted(n for n, _ in ran) == list(range(10))


# -- all or nothing --------------------------------------------------------------------------


async def test_a_stage_that_expires_mid_scatter_schedules_nothing(docket: Docket) -> None:
    await docket.add(other, when=later(), key="kept")(0)
    before = await scheduled(docket)
    agenda = Agenda()
    agenda.stage_ttl = timedelta(milliseconds=5)
    agenda.add(other, key="kept")(1)
    for i in range(30):
        agenda.add(other)(i)

    async def stall(done: int, total: int) -> None:
        # Nothing of a staged scatter is visible, and a stage left alone past its TTL is
        # gone: the rest must then be refused rather than written as a partial batch.
        assert (await docket.store.snapshot(0)).scheduled_total == 1
        await asyncio.sleep(0.05)

    with pytest.raises(StoreError, match="nothing was scheduled"):
        await agenda.scatter(docket, over=SECOND, start=later(), chunk_size=10, on_progress=stall)
    assert await scheduled(docket) == before


async def test_a_failing_progress_callback_undoes_an_atomic_scatter(docket: Docket) -> None:
    await docket.add(other, when=later(), key="kept")(0)
    before = await scheduled(docket)
    agenda = Agenda()
    agenda.add(other, key="kept")(1)
    for i in range(30):
        agenda.add(other)(i)

    def explode(done: int, total: int) -> None:
        if done == 30:
            raise RuntimeError("operator pressed stop")

    with pytest.raises(RuntimeError, match="operator pressed stop"):
        await agenda.scatter(docket, over=SECOND, chunk_size=10, on_progress=explode)
    assert await scheduled(docket) == before
    assert (await docket.store.snapshot(0)).scheduled_total == 1


async def test_a_streamed_scatter_that_stops_says_what_it_scheduled(docket: Docket) -> None:
    agenda = Agenda()
    for i in range(30):
        agenda.add(other)(i)

    def explode(done: int, total: int) -> None:
        if done == 20:
            raise RuntimeError("stop")

    with pytest.raises(ScatterError) as caught:
        await agenda.scatter(
            docket, over=SECOND, start=later(), chunk_size=10, on_progress=explode, atomic=False
        )
    error = caught.value
    assert isinstance(error.__cause__, RuntimeError)
    assert len(error.scheduled) == 20 and len(error.executions) == 30
    assert [e.disposition for e in error.executions[20:]] == [Disposition.FAILED] * 10
    assert sorted(k for k, _, _ in await scheduled(docket)) == sorted(
        e.key for e in error.scheduled
    )


# -- levelling and cancelling ----------------------------------------------------------------


async def test_a_levelled_scatter_fills_the_valleys_around_a_burst(docket: Docket) -> None:
    start = later(600)
    window = timedelta(minutes=10)
    burst = Agenda()
    for i in range(1000):
        burst.add(other)(i)
    await burst.scatter(docket, over=window / 10, start=start)

    agenda = Agenda()
    for i in range(9000):
        agenda.add(other)(i)
    await agenda.scatter(docket, over=window, start=start, level=True)

    for slices in (10, 50):
        load = await docket.scheduled_histogram(start, start + window + SECOND, slices)
        mean = sum(load) / slices
        assert sum(load) == 10_000
        assert max(load) <= 1.15 * mean, load


async def test_cancelling_a_scatter_removes_only_its_tasks_that_have_not_started(
    docket: Docket,
) -> None:
    ours, theirs = Agenda(), Agenda()
    for i in range(20):
        ours.add(other, key=f"ours-{i}")(i)
        theirs.add(other)(i)
    start = later()
    mine = await ours.scatter(docket, over=SECOND, start=start)
    await theirs.scatter(docket, over=SECOND, start=start)
    # Someone moves one of our keys to another time: it is no longer the scatter's.
    await docket.replace(other, when=start + timedelta(hours=1), key="ours-3")(99)

    assert mine.scatter_id is not None
    assert await Agenda.cancel(docket, mine.scatter_id) == 19
    keys = [k for k, _, _ in await scheduled(docket)]
    assert len(keys) == 21 and "ours-3" in keys
    assert not [k for k in keys if k.startswith("ours-") and k != "ours-3"]
    assert await Agenda.cancel(docket, mine.scatter_id) == 0  # the scatter is forgotten


async def test_cancelling_leaves_running_tasks_alone(docket: Docket) -> None:
    agenda = Agenda()
    for i in range(3):
        agenda.add(other, key=f"k{i}")(i)
    executions = await agenda.scatter(docket, over=timedelta(milliseconds=1))
    await wait_until(lambda: datetime.now(UTC) > executions[-1].when)
    claimed = await docket.store.claim("w", 1, 60_000_000, 0)
    assert len(claimed.claims) == 1
    assert executions.scatter_id is not None
    assert await Agenda.cancel(docket, executions.scatter_id) == 2
    snapshot = await docket.snapshot()
    assert snapshot.future == [] and len(snapshot.running) == 1


async def test_a_bad_scatter_id_is_refused(docket: Docket) -> None:
    with pytest.raises(ValueError, match=r"scatter_id must be .* got 'a\*'"):
        await Agenda.cancel(docket, "a*")


def test_scattered_results_are_plain_lists_of_executions() -> None:
    from strew import Scattered

    result = Scattered([], "id")
    assert result == [] and result.scatter_id == "id"
    assert isinstance(result, list)
