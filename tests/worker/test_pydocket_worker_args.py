"""Every argument of pydocket's ``Worker.__init__`` is accepted, checked and kept; the ones
that mean something in strew do it (``schedule_automatic_tasks``)."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from strew import Docket, Perpetual, Worker

from ..helpers import wait_until

HOUR = timedelta(hours=1)


async def fallback(*args: Any, **kwargs: Any) -> None:
    pass


def setup() -> None:
    pass


async def test_every_pydocket_argument_is_accepted_by_keyword_and_kept(docket: Docket) -> None:
    worker = Worker(
        docket,
        name="w1",
        concurrency=3,
        redelivery_timeout=timedelta(minutes=1),
        reconnection_delay=timedelta(seconds=1),
        minimum_check_interval=timedelta(milliseconds=5),
        scheduling_resolution=timedelta(milliseconds=5),
        schedule_automatic_tasks=False,
        enable_internal_instrumentation=True,
        fallback_task=fallback,
        dependencies={"setup": setup},
        message_batch=50,
    )
    assert worker.minimum_check_interval == timedelta(milliseconds=5)
    assert worker.scheduling_resolution == timedelta(milliseconds=5)
    assert worker.schedule_automatic_tasks is False
    assert worker.enable_internal_instrumentation is True
    assert worker.fallback_task is fallback
    assert worker.dependencies == {"setup": setup}
    assert worker.message_batch == 50


async def test_pydocket_arguments_keep_their_positions(docket: Docket) -> None:
    ms = timedelta(milliseconds=7)
    worker = Worker(docket, "w2", 4, HOUR, ms, ms, ms, False, True, fallback, [setup], 9)
    assert (worker.name, worker.concurrency, worker.redelivery_timeout) == ("w2", 4, HOUR)
    assert worker.reconnection_delay == worker.minimum_check_interval == ms
    assert worker.scheduling_resolution == ms
    assert worker.schedule_automatic_tasks is False
    assert worker.enable_internal_instrumentation is True
    assert worker.fallback_task is fallback
    assert worker.dependencies == {"__worker_dep_0__": setup}
    assert worker.message_batch == 9


async def test_the_defaults_are_pydockets(docket: Docket) -> None:
    worker = Worker(docket)
    assert worker.minimum_check_interval == timedelta(milliseconds=250)
    assert worker.scheduling_resolution == timedelta(milliseconds=250)
    assert worker.schedule_automatic_tasks is True
    assert worker.enable_internal_instrumentation is False
    assert worker.fallback_task is None
    assert worker.dependencies == {}
    assert worker.message_batch == 1000


@pytest.mark.parametrize(
    ("argument", "value", "error", "message"),
    [
        ("minimum_check_interval", 0.25, TypeError, "minimum_check_interval must be a timedelta"),
        ("minimum_check_interval", timedelta(0), ValueError, "minimum_check_interval must be"),
        ("scheduling_resolution", -HOUR, ValueError, "scheduling_resolution must be"),
        ("schedule_automatic_tasks", "no", TypeError, "schedule_automatic_tasks must be True"),
        ("enable_internal_instrumentation", 1, TypeError, "enable_internal_instrumentation"),
        ("fallback_task", "module:function", TypeError, "fallback_task must be a task"),
        ("dependencies", "setup", TypeError, "dependencies must be a mapping"),
        ("dependencies", {"db": "not a function"}, TypeError, "'db' must be a callable"),
        ("dependencies", {"__db": setup}, ValueError, "'__db' is reserved"),
        ("dependencies", {"": setup}, TypeError, "a name must be a non-empty string"),
        ("message_batch", 0, ValueError, "message_batch must be a positive integer, got 0"),
        ("message_batch", True, ValueError, "message_batch must be a positive integer"),
    ],
)
async def test_a_bad_pydocket_argument_is_refused_naming_it_and_its_value(
    docket: Docket, argument: str, value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Worker(docket, **dict[str, Any]({argument: value}))


async def test_a_fallback_task_with_a_bad_marker_is_refused_at_construction(
    docket: Docket,
) -> None:
    from strew import Retry, Timeout

    async def two_retries(
        a: Retry = Retry(attempts=2), b: Retry = Retry(attempts=3), t: Timeout = Timeout(HOUR)
    ) -> None:
        pass

    with pytest.raises(ValueError, match="second Retry"):
        Worker(docket, fallback_task=two_retries)


async def test_without_schedule_automatic_tasks_a_draining_worker_starts_no_chain(
    docket: Docket,
) -> None:
    runs: list[int] = []

    async def canary(perpetual: Perpetual = Perpetual(every=HOUR, automatic=True)) -> None:
        runs.append(1)

    docket.register(canary)
    async with Worker(docket, schedule_automatic_tasks=False) as worker:
        await worker.run_until_finished()
    assert runs == []
    assert (await docket.snapshot()).total_tasks == 0
    # The same docket, a worker that does start them:
    async with Worker(docket) as worker:
        await worker.run_at_most({"canary": 1})
    assert runs == [1]


async def test_without_schedule_automatic_tasks_a_running_worker_keeps_no_chain(
    docket: Docket,
) -> None:
    async def canary(perpetual: Perpetual = Perpetual(every=HOUR, automatic=True)) -> None:
        pass

    probed: list[int] = []

    async def probe() -> None:
        probed.append(1)

    docket.register(canary)
    worker = Worker(docket, schedule_automatic_tasks=False, poll_ceiling=timedelta(milliseconds=20))
    running = asyncio.create_task(worker.run_forever())
    try:
        await docket.add(probe)()
        await wait_until(lambda: bool(probed), message="the probe's run")
        helpers = {task.get_name() for task in asyncio.all_tasks()}
        assert f"strew {worker.name} heartbeat" in helpers
        assert f"strew {worker.name} automatic" not in helpers
        assert (await docket.store.task_state("canary")).scheduled is None
    finally:
        worker.stop()
        await running
