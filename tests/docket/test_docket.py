"""What a docket does for its callers, on both stores."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from strew import Disposition, Docket, Execution, Worker
from strew.docket.settings import DEFAULT_URL

from ..helpers import wait_until

LATER = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)


async def greet(name: str, greeting: str = "hello") -> None:
    """A task the scheduling tests never run."""


async def test_a_function_can_be_registered_under_several_names(docket: Docket) -> None:
    ran: list[str] = []

    def shout(word: str) -> None:
        ran.append(word.upper())

    docket.register(shout, names=["shout", "legacy.shout"])
    assert docket.tasks == {"shout": shout, "legacy.shout": shout}
    await docket.add("legacy.shout")("old")
    await docket.add("shout")("new")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert sorted(ran) == ["NEW", "OLD"]


async def test_adding_an_unregistered_function_registers_it_by_name(docket: Docket) -> None:
    assert docket.tasks == {}
    execution = await docket.add(greet, when=LATER)("Ada")
    assert docket.tasks == {"greet": greet}
    assert execution.function_name == "greet" and execution.function is greet
    by_name = await docket.add("greet", when=LATER)("Grace")
    assert by_name.function is greet
    await docket.clear()


async def test_an_execution_carries_what_was_asked_for(docket: Docket) -> None:
    execution = await docket.add(greet, when=LATER, key="ada")("Ada", greeting="hi")
    assert (execution.function_name, execution.args, execution.kwargs) == (
        "greet",
        ("Ada",),
        {"greeting": "hi"},
    )
    assert (execution.key, execution.when, execution.attempt) == ("ada", LATER, 1)
    assert execution.disposition is Disposition.SCHEDULED
    [stored] = (await docket.snapshot()).future
    assert (stored.function_name, stored.args, stored.kwargs, stored.key, stored.when) == (
        "greet",
        ("Ada",),
        {"greeting": "hi"},
        "ada",
        LATER,
    )
    assert stored.attempt == 1 and stored.disposition is Disposition.LOADED
    await docket.clear()


async def test_a_worker_sees_the_same_execution_fields(docket: Docket) -> None:
    seen: list[tuple[Any, ...]] = []

    async def capture(a: int, *, b: str) -> None:
        seen.append((a, b))

    when = datetime.now(UTC) - timedelta(seconds=1)
    added = await docket.add(capture, when=when, key="cap")(1, b="two")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert seen == [(1, "two")]
    assert added.key == "cap" and added.when == when


async def test_add_many_reports_new_and_existing_keys(docket: Docket) -> None:
    await docket.add(greet, when=LATER, key="k1")("first")
    calls = [
        docket.call(greet, when=LATER, key="k0")("zero"),
        docket.call(greet, when=LATER, key="k1")("again"),
        docket.call(greet, when=LATER, key="k2")("two"),
        docket.call(greet, when=LATER, key="k2")("two again"),
        docket.call(greet, when=LATER)("no key"),
    ]
    executions = await docket.add_many(calls, chunk_size=2)
    assert [e.disposition for e in executions] == [
        Disposition.SCHEDULED,
        Disposition.ALREADY_SCHEDULED,
        Disposition.SCHEDULED,
        Disposition.ALREADY_SCHEDULED,
        Disposition.SCHEDULED,
    ]
    snapshot = await docket.snapshot()
    kept = {e.key: e.args for e in snapshot.future}
    assert kept["k1"] == ("first",) and kept["k2"] == ("two",)
    assert len(kept) == 4
    assert await docket.clear() == 4


async def test_replace_many_supersedes_every_key(docket: Docket) -> None:
    await docket.add(greet, when=LATER, key="k1")("first")
    later = LATER + timedelta(hours=1)
    calls = [
        docket.call(greet, when=later, key="k1")("second"),
        docket.call(greet, when=later, key="k2")("new"),
    ]
    executions = await docket.replace_many(calls)
    assert {e.disposition for e in executions} == {Disposition.SCHEDULED}
    snapshot = await docket.snapshot()
    assert [(e.key, e.args, e.when) for e in snapshot.future] == [
        ("k1", ("second",), later),
        ("k2", ("new",), later),
    ]
    assert await docket.clear() == 2


async def test_clear_counts_what_it_dropped_and_spares_running_tasks(docket: Docket) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        started.set()
        await release.wait()

    await docket.add(hold, key="running")()
    for i in range(3):
        await docket.add(greet, when=LATER, key=f"later{i}")(str(i))
    async with Worker(docket) as worker:
        run = asyncio.create_task(worker.run_until_finished())
        await started.wait()
        assert await docket.clear() == 3
        assert await docket.clear() == 0
        release.set()
        await asyncio.wait_for(run, timeout=10)
    assert worker.stats.succeeded == 1
    assert (await docket.snapshot()).total_tasks == 0


async def test_a_snapshot_shows_future_running_and_live_workers(docket: Docket) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def hold(n: int) -> None:
        started.set()
        await release.wait()

    await docket.add(hold, key="busy")(1)
    await docket.add(greet, when=LATER, key="later")("Ada")
    worker = Worker(docket, name="snapper")
    run = asyncio.create_task(worker.run_forever())
    await started.wait()
    await wait_until(
        lambda: _has_worker(docket, "snapper"), message="the worker's heartbeat to show"
    )
    snapshot = await docket.snapshot()
    assert snapshot.total_tasks == 2
    assert [(e.key, e.function_name, e.args) for e in snapshot.future] == [
        ("later", "greet", ("Ada",))
    ]
    [running] = snapshot.running
    assert (running.execution.key, running.execution.args, running.worker) == (
        "busy",
        (1,),
        "snapper",
    )
    assert running.lease_deadline > snapshot.taken
    [info] = snapshot.workers
    assert info.name == "snapper" and info.tasks == frozenset({"busy"})
    release.set()
    await wait_until(lambda: worker.stats.succeeded == 1)
    worker.stop()
    await asyncio.wait_for(run, timeout=10)
    after = await docket.snapshot()
    assert after.running == [] and after.workers == []
    assert [e.key for e in after.future] == ["later"]
    await docket.clear()


async def _has_worker(docket: Docket, name: str) -> bool:
    return any(w.name == name for w in (await docket.snapshot()).workers)


async def test_plain_and_async_functions_both_run(docket: Docket) -> None:
    ran: list[str] = []

    def plain(x: int) -> None:
        ran.append(f"plain {x}")

    async def coroutine(x: int) -> None:
        await asyncio.sleep(0)
        ran.append(f"async {x}")

    await docket.add(plain)(1)
    await docket.add(coroutine)(2)
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert sorted(ran) == ["async 2", "plain 1"]
    assert worker.stats.succeeded == 2


async def test_run_at_most_bounds_a_task_that_reschedules_itself(docket: Docket) -> None:
    ran: list[int] = []

    async def tick(n: int) -> None:
        ran.append(n)
        await docket.replace(tick, key="tick")(n + 1)

    await docket.add(tick, key="tick")(0)
    async with Worker(docket) as worker:
        await asyncio.wait_for(worker.run_at_most({"tick": 3}), timeout=10)
    assert ran == [0, 1, 2]
    assert (await docket.snapshot()).total_tasks == 0


async def test_arguments_that_need_cloudpickle_reach_the_worker(docket: Docket) -> None:
    class Point:
        def __init__(self, x: int, y: int) -> None:
            self.x, self.y = x, y

    results: list[Any] = []

    async def use(transform: Any, point: Point) -> None:
        results.append((transform(point.x), type(point).__name__, point.y))

    await docket.add(use)(lambda v: v * 10, Point(4, 5))
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert results == [(40, "Point", 5)]


async def test_an_execution_repr_names_the_call(docket: Docket) -> None:
    execution = await docket.add(greet, when=LATER, key="r")("Ada", greeting="hi")
    text = repr(execution)
    # Arguments as a log line shows them (only Logged ones: greet marks none), since a repr
    # ends up in logs and tracebacks too; call_repr(all_arguments=True) shows them all.
    assert "greet(..., greeting=...)" in text and "key='r'" in text
    assert "Ada" not in text
    assert execution.call_repr(all_arguments=True) == "greet('Ada', greeting='hi')"
    assert isinstance(execution, Execution)
    await docket.clear()


def test_the_url_defaults_to_strew_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREW_URL", "memory://from-the-environment")
    assert Docket("env-default").url == "memory://from-the-environment"
    assert Docket("env-default", url="memory://explicit").url == "memory://explicit"
    monkeypatch.setenv("STREW_URL", "")
    assert Docket("env-default").url == DEFAULT_URL
    monkeypatch.delenv("STREW_URL")
    assert Docket("env-default").url == DEFAULT_URL == "redis://localhost:6379/0"


async def test_cancelling_a_task_claimed_early_keeps_it_from_ever_running(
    docket: Docket,
) -> None:
    ran: list[str] = []

    async def soon() -> None:
        ran.append("ran")

    # A long prefetch: the worker claims the task now and waits locally for its due time.
    await docket.add(soon, when=datetime.now(UTC) + timedelta(seconds=3), key="soon")()
    async with Worker(docket, prefetch=timedelta(seconds=30)) as worker:
        run = asyncio.create_task(worker.run_until_finished())
        await wait_until(lambda: bool(worker.state.runs_of("soon")), message="the early claim")
        await docket.cancel("soon")
        await asyncio.wait_for(run, timeout=10)
    assert ran == []
    assert worker.stats.cancelled == 1
    assert (await docket.snapshot()).total_tasks == 0
