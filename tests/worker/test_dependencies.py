"""Injected context, Depends and Shared, and the checks `register` makes on markers."""

# Dependency markers are calls in defaults by design (pydocket's spelling); B008 would flag
# every one. (pyproject could list them under flake8-bugbear extend-immutable-calls instead.)

from __future__ import annotations

import asyncio
import importlib.util
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from strew import (
    CurrentDocket,
    CurrentExecution,
    CurrentWorker,
    Depends,
    Docket,
    Execution,
    ExponentialRetry,
    Retry,
    Shared,
    TaskArgument,
    TaskKey,
    TaskLogger,
    Timeout,
    Worker,
)


def logged_resource(events: list[str]) -> Callable[[], AsyncIterator[str]]:
    """A dependency that logs "open" as it is entered and "close" however the task ends."""

    async def resource() -> AsyncIterator[str]:
        events.append("open")
        try:
            yield "r"
        finally:
            events.append("close")

    return resource


async def test_context_markers_are_filled_in_by_the_worker(docket: Docket) -> None:
    seen: dict[str, Any] = {}

    async def task(
        n: int,
        d: Docket = CurrentDocket(),
        w: Worker = CurrentWorker(),
        e: Execution = CurrentExecution(),
        key: str = TaskKey(),
        again: int = TaskArgument("n"),
    ) -> None:
        seen.update(n=n, d=d, w=w, e=e, key=key, again=again)

    await docket.add(task, key="k1")(7)
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert seen["d"] is docket and seen["w"] is worker
    assert seen["key"] == "k1" and seen["e"].key == "k1" and seen["e"].attempt == 1
    assert seen["n"] == 7 and seen["again"] == 7


async def test_a_value_the_caller_passed_is_kept(docket: Docket) -> None:
    keys: list[str] = []

    async def task(key: str = TaskKey()) -> None:
        keys.append(key)

    await docket.add(task, key="real")("given")
    await docket.add(task, key="other")()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert sorted(keys) == ["given", "other"]


async def test_an_optional_task_argument_that_was_not_passed_is_none(docket: Docket) -> None:
    seen: list[Any] = []

    def region_of(region: str | None = TaskArgument(optional=True)) -> str:
        return region or "default"

    async def task(n: int, region: str | None = None, r: str = Depends(region_of)) -> None:
        seen.append(r)

    await docket.add(task)(1)
    await docket.add(task)(2, "eu")
    async with Worker(docket, concurrency=1) as worker:
        await worker.run_until_finished()
    assert sorted(seen) == ["default", "eu"]


async def test_task_logger_records_carry_the_task_fields(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    async def chatty(log: logging.LoggerAdapter[logging.Logger] = TaskLogger()) -> None:
        log.info("hello from the task")

    await docket.add(chatty, key="talk")()
    async with Worker(docket, name="w-log") as worker:
        await worker.run_until_finished()
    [record] = [r for r in caplog.records if r.getMessage() == "hello from the task"]
    assert record.name == "strew.task.chatty"
    assert record.__dict__["docket"] == docket.name
    assert record.__dict__["worker"] == "w-log"
    assert record.__dict__["task"] == "chatty"
    assert record.__dict__["key"] == "talk"
    assert record.__dict__["attempt"] == 1


async def test_depends_resolves_nested_factories_once_per_run_and_cleans_up(
    docket: Docket,
) -> None:
    events: list[str] = []

    def base(customer: int = TaskArgument()) -> str:
        events.append("base")
        return f"c{customer}"

    async def session(name: str = Depends(base)) -> AsyncIterator[str]:
        events.append("open")
        yield f"session({name})"
        events.append("close")

    def sync_resource() -> Iterator[int]:
        yield 5
        events.append("sync close")

    async def task(
        customer: int,
        s: str = Depends(session),
        again: str = Depends(base),
        number: int = Depends(sync_resource),
    ) -> None:
        events.append(f"run {s} {again} {number}")

    await docket.add(task)(3)
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert events == [
        "base",
        "open",
        "run session(c3) c3 5",
        "sync close",
        "close",
    ]


async def test_a_factory_returning_a_context_manager_is_entered_and_exited(
    docket: Docket,
) -> None:
    events: list[str] = []

    class Client:
        async def __aenter__(self) -> Client:
            events.append("enter")
            return self

        async def __aexit__(self, *exc: object) -> None:
            events.append("exit")

    class Lock:
        def __enter__(self) -> str:
            events.append("lock")
            return "locked"

        def __exit__(self, *exc: object) -> None:
            events.append("unlock")

    async def task(client: Client = Depends(Client), lock: str = Depends(Lock)) -> None:
        events.append(f"run {type(client).__name__} {lock}")

    await docket.add(task)()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert events == ["enter", "lock", "run Client locked", "unlock", "exit"]


async def test_depends_cleanup_runs_when_the_task_fails(docket: Docket) -> None:
    events: list[str] = []

    resource = logged_resource(events)

    async def task(r: str = Depends(resource)) -> None:
        events.append("run")
        raise RuntimeError("boom")

    await docket.add(task)()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert events == ["open", "run", "close"]
    assert worker.stats.failed == 1


async def test_depends_cleanup_runs_when_the_task_times_out(docket: Docket) -> None:
    events: list[str] = []

    resource = logged_resource(events)

    async def stuck(
        r: str = Depends(resource), timeout: Timeout = Timeout(timedelta(milliseconds=20))
    ) -> None:
        events.append("run")
        await asyncio.Event().wait()  # only the timeout ends this

    await docket.add(stuck)()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert events == ["open", "run", "close"]
    assert worker.stats.failed == 1


async def test_depends_cleanup_runs_when_the_task_is_cancelled(docket: Docket) -> None:
    events: list[str] = []
    started = asyncio.Event()

    class Connection:
        async def __aenter__(self) -> Connection:
            events.append("connect")
            return self

        async def __aexit__(self, *exc: object) -> None:
            events.append("disconnect")

    resource = logged_resource(events)

    async def endless(r: str = Depends(resource), c: Connection = Depends(Connection)) -> None:
        events.append("run")
        started.set()
        await asyncio.Event().wait()

    await docket.add(endless, key="endless")()
    async with Worker(docket) as worker:
        run = asyncio.create_task(worker.run_until_finished())
        await asyncio.wait_for(started.wait(), timeout=10)
        await docket.cancel("endless")
        await asyncio.wait_for(run, timeout=10)
    assert events == ["open", "connect", "run", "disconnect", "close"]
    assert worker.stats.cancelled == 1 and worker.stats.failed == 0


async def test_shared_is_made_once_for_many_tasks_and_closed_when_the_worker_stops(
    docket: Docket,
) -> None:
    events: list[str] = []

    async def pool(d: Docket = CurrentDocket()) -> AsyncIterator[str]:
        events.append("open")
        yield f"pool of {d.name}"
        events.append("close")

    used: list[str] = []

    async def task(p: str = Shared(pool)) -> None:
        used.append(p)

    for _ in range(20):
        await docket.add(task)()
    async with Worker(docket, concurrency=5) as worker:
        await worker.run_until_finished()
    assert events == ["open", "close"]
    assert used == [f"pool of {docket.name}"] * 20


async def test_a_shared_value_may_use_another_shared_value(docket: Docket) -> None:
    made: list[str] = []

    def settings() -> dict[str, str]:
        made.append("settings")
        return {"dsn": "db://x"}

    async def pool(config: dict[str, str] = Shared(settings)) -> str:
        made.append("pool")
        return f"pool({config['dsn']})"

    used: list[str] = []

    async def task(p: str = Shared(pool), config: dict[str, str] = Shared(settings)) -> None:
        used.append(f"{p} {config['dsn']}")

    for _ in range(5):
        await docket.add(task)()
    async with Worker(docket, concurrency=5) as worker:
        await worker.run_until_finished()
    assert made == ["settings", "pool"]
    assert used == ["pool(db://x) db://x"] * 5


# -- checks at register time ----------------------------------------------------------------


def bad_docket() -> Docket:
    return Docket(name="never-used", url="memory://never-used")


def test_two_retries_are_refused_at_register_time() -> None:
    async def task(a: Retry = Retry(attempts=2), b: Retry = ExponentialRetry()) -> None: ...

    with pytest.raises(ValueError, match=r"task .*task: parameter 'b' is a second Retry"):
        bad_docket().register(task)


def test_two_timeouts_are_refused_at_register_time() -> None:
    t = timedelta(seconds=1)

    async def task(a: Timeout = Timeout(t), b: Timeout = Timeout(t)) -> None: ...

    with pytest.raises(ValueError, match=r"parameter 'b' is a second Timeout"):
        bad_docket().register(task)


def test_a_task_argument_naming_no_parameter_is_refused() -> None:
    async def task(n: int, m: int = TaskArgument("missing")) -> None: ...

    with pytest.raises(ValueError, match=r"parameter 'm' .*names 'missing'"):
        bad_docket().register(task)


def test_a_task_argument_inside_a_factory_is_checked_against_the_task() -> None:
    def factory(customer_id: int = TaskArgument()) -> int:
        return customer_id

    async def task(customer: int, c: int = Depends(factory)) -> None: ...

    with pytest.raises(ValueError, match=r"parameter 'c.customer_id' .*names 'customer_id'"):
        bad_docket().register(task)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (Retry(attempts=0), r"attempts must be a positive integer or None, got 0"),
        (Retry(delay=timedelta(seconds=-1)), r"delay must be a duration of zero or more"),
        (
            ExponentialRetry(minimum_delay=timedelta(seconds=-1)),
            r"minimum_delay must be a duration of zero or more, got -1 day",
        ),
        (
            ExponentialRetry(maximum_delay=timedelta(seconds=-1)),
            r"maximum_delay must be a duration of zero or more, got -1 day, 23:59:59",
        ),
        (
            ExponentialRetry(
                minimum_delay=timedelta(seconds=10), maximum_delay=timedelta(seconds=5)
            ),
            r"maximum_delay must be at least minimum_delay \(0:00:10\), got 0:00:05",
        ),
        (Timeout(timedelta(0)), r"limit must be a positive duration, got 0:00:00"),
        (Timeout(timedelta(seconds=-3)), r"limit must be a positive duration"),
    ],
)
def test_bad_settings_are_refused_naming_function_parameter_and_value(
    marker: Any, message: str
) -> None:
    async def task(x: Any = marker) -> None: ...

    with pytest.raises(ValueError, match=r"task .*task: parameter 'x' \(.*\): " + message):
        bad_docket().register(task)


def test_a_marker_on_a_positional_only_parameter_is_refused() -> None:
    async def task(n: int, retry: Retry = Retry(attempts=2), /) -> None: ...

    with pytest.raises(
        ValueError,
        match=r"parameter 'retry' has a dependency default \(Retry\(attempts=2, .*\) but is "
        r"positional-only; the worker passes dependencies by name",
    ):
        bad_docket().register(task)


def test_an_unnamed_task_argument_directly_on_the_task_is_refused() -> None:
    async def task(n: int, m: int = TaskArgument()) -> None: ...

    with pytest.raises(
        ValueError, match=r"parameter 'm' is TaskArgument\(\) without a name, which would be"
    ):
        bad_docket().register(task)


def test_a_shared_factory_may_not_ask_for_something_of_one_run() -> None:
    def pool(key: str = TaskKey()) -> str:
        return key

    async def task(p: str = Shared(pool)) -> None: ...

    with pytest.raises(ValueError, match=r"parameter 'p.key' \(TaskKey\(\)\): a Shared factory"):
        bad_docket().register(task)


def test_retry_inside_a_factory_is_refused() -> None:
    def factory(retry: Retry = Retry(attempts=3)) -> int:
        return 1

    async def task(x: int = Depends(factory)) -> None: ...

    with pytest.raises(ValueError, match=r"'x.retry' .*only works as a parameter of the task"):
        bad_docket().register(task)


def test_a_factory_that_depends_on_itself_is_refused() -> None:
    def loop(x: int = 0) -> int:
        return x

    loop.__defaults__ = (Depends(loop),)

    async def task(x: int = Depends(loop)) -> None: ...

    with pytest.raises(ValueError, match=r"'x.x' .*the factory depends on itself"):
        bad_docket().register(task)


async def test_add_registers_and_so_refuses_bad_markers_before_writing() -> None:
    async def task(r: Retry = Retry(attempts=-2)) -> None: ...

    docket = bad_docket()
    with pytest.raises(ValueError, match="attempts must be"):
        docket.add(task)
    assert docket.tasks == {}
    assert (await docket.snapshot()).total_tasks == 0


async def test_the_dependencies_example_runs_as_documented(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREW_URL", store_url)
    demo = load_example("dependencies_demo")
    assert await demo.main() == [
        "pool opened",
        "session 1 opened",
        "synced 1 (customer-1)",
        "session 1 closed",
        "session 2 opened",
        "synced 2 (customer-2)",
        "session 2 closed",
        "pool closed",
    ]


def load_example(name: str) -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
