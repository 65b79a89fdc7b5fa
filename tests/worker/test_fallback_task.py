"""``Worker(fallback_task=fn)``: what runs for a claimed task whose name this worker does not
know, as in pydocket: the task's own arguments, the fallback's markers filled in, and the
task ends as the fallback's run does."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

from datetime import timedelta
from typing import Any

from strew import CurrentExecution, Depends, Docket, Execution, Retry, Worker

MS = timedelta(milliseconds=1)


async def test_the_fallback_gets_the_arguments_and_the_name_of_the_unknown_task(
    docket: Docket,
) -> None:
    seen: list[tuple[tuple[Any, ...], dict[str, Any], str]] = []

    async def fallback(
        *args: Any, execution: Execution = CurrentExecution(), **kwargs: Any
    ) -> None:
        seen.append((args, kwargs, execution.function_name))

    async def original(x: int, y: str, z: bool = True) -> None:
        raise AssertionError("not registered on this worker: never runs")

    await docket.add(original, key="o")(42, "hello", z=False)
    docket.tasks.pop("original")
    async with Worker(docket, fallback_task=fallback) as worker:
        await worker.run_until_finished()
        assert worker.stats.succeeded == 1
    assert seen == [((42, "hello"), {"z": False}, "original")]
    assert (await docket.snapshot()).total_tasks == 0


async def test_the_fallback_gets_its_dependencies_and_its_retry_applies(docket: Docket) -> None:
    calls: list[str] = []

    def request_id() -> str:
        return "req-1"

    async def fallback(
        *args: Any,
        rid: str = Depends(request_id),
        retry: Retry = Retry(attempts=3, delay=MS),
        **kwargs: Any,
    ) -> str:
        calls.append(rid)
        if len(calls) < 3:
            raise RuntimeError("not yet")
        return "handled"

    async def gone() -> None:
        raise AssertionError("never runs")

    execution = await docket.add(gone, key="g")()
    docket.tasks.pop("gone")
    async with Worker(docket, fallback_task=fallback) as worker:
        await worker.run_until_finished()
        assert (worker.stats.retried, worker.stats.succeeded) == (2, 1)
    assert calls == ["req-1", "req-1", "req-1"]
    assert await execution.get_result() == "handled"


async def test_a_failing_fallback_fails_the_task(docket: Docket) -> None:
    def fallback(*args: Any, **kwargs: Any) -> None:  # a plain function works too
        raise LookupError("no such task here")

    async def gone() -> None:
        raise AssertionError("never runs")

    await docket.add(gone, key="g")()
    docket.tasks.pop("gone")
    async with Worker(docket, fallback_task=fallback) as worker:
        await worker.run_until_finished()
        assert worker.stats.failed == 1
    assert (await docket.snapshot()).total_tasks == 0


async def test_registered_tasks_never_reach_the_fallback(docket: Docket) -> None:
    ran: list[str] = []

    async def fallback(*args: Any, **kwargs: Any) -> None:
        ran.append("fallback")

    async def known() -> None:
        ran.append("known")

    await docket.add(known)()
    async with Worker(docket, fallback_task=fallback) as worker:
        await worker.run_until_finished()
    assert ran == ["known"]
