"""``Worker(dependencies=...)``: factories made around every task the worker runs, as
pydocket's worker dependencies are (a mapping of name to factory, or a list)."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest

from strew import CurrentWorker, Depends, Docket, Retry, TaskArgument, TaskKey, Worker


def bracket(events: list[str], name: str) -> Any:
    @asynccontextmanager
    async def dependency() -> AsyncIterator[None]:
        events.append(f"enter {name}")
        try:
            yield None
        finally:
            events.append(f"exit {name}")

    return dependency


async def test_worker_dependencies_bracket_every_task_in_order(docket: Docket) -> None:
    events: list[str] = []

    @contextmanager
    def plain() -> Iterator[None]:
        events.append("enter c")
        yield None
        events.append("exit c")

    async def task(n: int) -> None:
        events.append(f"task {n}")

    await docket.add(task, key="one")(1)
    dependencies = {"a": bracket(events, "a"), "b": bracket(events, "b"), "c": plain}
    async with Worker(docket, dependencies=dependencies) as worker:
        await worker.run_until_finished()
    assert events == ["enter a", "enter b", "enter c", "task 1", "exit c", "exit b", "exit a"]


async def test_the_list_form_runs_in_order_under_internal_names(docket: Docket) -> None:
    events: list[str] = []

    async def tracing() -> None:
        events.append("tracing")

    def auditing() -> None:
        events.append("auditing")

    async def task() -> None:
        events.append("task")

    await docket.add(task)()
    async with Worker(docket, dependencies=[tracing, auditing]) as worker:
        assert list(worker.dependencies) == ["__worker_dep_0__", "__worker_dep_1__"]
        await worker.run_until_finished()
    assert events == ["tracing", "auditing", "task"]


async def test_a_worker_dependency_sees_the_run_and_shares_depends_with_the_task(
    docket: Docket,
) -> None:
    seen: dict[str, Any] = {}
    made: list[object] = []

    def connection() -> object:
        made.append(object())
        return made[-1]

    async def capture(
        key: str = TaskKey(),
        name: str = TaskArgument("name"),
        worker: Worker = CurrentWorker(),
        conn: object = Depends(connection),
    ) -> None:
        seen.update(key=key, name=name, worker=worker, conn=conn)

    async def task(name: str, conn: object = Depends(connection)) -> None:
        seen["task conn"] = conn

    await docket.add(task, key="my-key")("alice")
    async with Worker(docket, dependencies={"capture": capture}) as worker:
        await worker.run_until_finished()
    assert (seen["key"], seen["name"], seen["worker"]) == ("my-key", "alice", worker)
    assert len(made) == 1 and seen["conn"] is seen["task conn"] is made[0]


async def test_a_failing_worker_dependency_fails_the_run_without_its_body(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    body: list[int] = []
    tries: list[int] = []

    def db_pool() -> None:
        tries.append(1)
        raise RuntimeError("kaboom")

    async def task(retry: Retry = Retry(attempts=2)) -> None:
        body.append(1)

    await docket.add(task)()
    with caplog.at_level(logging.ERROR, logger="strew.worker"):
        async with Worker(docket, dependencies={"db_pool": db_pool}) as worker:
            await worker.run_until_finished()
            assert (worker.stats.retried, worker.stats.failed) == (1, 2)  # every failed run
    assert body == [] and tries == [1, 1]
    assert "worker dependency 'db_pool' failed" in caplog.text


async def test_tasks_without_markers_get_the_worker_dependencies_too(docket: Docket) -> None:
    events: list[str] = []

    def sync_task() -> None:
        events.append("task")

    await docket.add(sync_task)()
    async with Worker(docket, dependencies={"b": bracket(events, "b")}) as worker:
        await worker.run_until_finished()
    assert events == ["enter b", "task", "exit b"]
