"""pydocket's hook classes (`Runtime`, `FailureHandler`, `CompletionHandler`), written as a
pydocket program writes them, run by the worker as pydocket's worker runs them, on both
stores."""

# Dependency markers are calls in defaults by design (pydocket's spelling); the hook
# classes defined here are too.
# ruff: noqa: B008

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from strew import (
    CompletionHandler,
    Docket,
    Execution,
    ExecutionState,
    FailureHandler,
    Perpetual,
    Retry,
    Runtime,
    TaskOutcome,
    Timeout,
    Worker,
)
from strew.dependencies import (
    CompletionHandler as CompletionHandlerToo,
)
from strew.dependencies import (
    FailureHandler as FailureHandlerToo,
)
from strew.dependencies import (
    Runtime as RuntimeToo,
)
from strew.dependencies import (
    TaskOutcome as TaskOutcomeToo,
)

seen: list[tuple[str, Any]] = []


class Swallow(FailureHandler["Swallow"]):
    """Takes every failure over (as a Retry scheduling its own retry would)."""

    async def __aenter__(self) -> Swallow:
        seen.append(("enter", None))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        seen.append(("exit", None))

    async def handle_failure(self, execution: Execution, outcome: TaskOutcome) -> bool:
        seen.append(("failure", outcome.exception))
        assert outcome.duration >= timedelta(0)
        return True


class Watch(FailureHandler["Watch"]):
    """Looks, then lets the worker go on as it would have."""

    async def __aenter__(self) -> Watch:
        return self

    async def handle_failure(self, execution: Execution, outcome: TaskOutcome) -> bool:
        seen.append(("watched", execution.key))
        return False


class Done(CompletionHandler["Done"]):
    def __init__(self, takes_over: bool = False) -> None:
        self.takes_over = takes_over

    async def __aenter__(self) -> Done:
        return self

    async def on_complete(self, execution: Execution, outcome: TaskOutcome) -> bool:
        seen.append(("complete", outcome.exception or outcome.result))
        return self.takes_over


class Twice(Runtime["Twice"]):
    """Calls the task twice and returns both results."""

    async def __aenter__(self) -> Twice:
        return self

    async def run(
        self,
        execution: Execution,
        function: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        return [await function(*args, **kwargs), await function(*args, **kwargs)]


@pytest.fixture(autouse=True)
def clean_seen() -> None:
    seen.clear()


def test_the_hook_classes_have_pydockets_names_in_both_places() -> None:
    assert (CompletionHandler, FailureHandler, Runtime, TaskOutcome) == (
        CompletionHandlerToo,
        FailureHandlerToo,
        RuntimeToo,
        TaskOutcomeToo,
    )


async def test_a_failure_handler_that_takes_over_leaves_nothing_failed_or_retried(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    error = RuntimeError("boom")

    async def the_task(handler: Swallow = Swallow()) -> None:
        raise error

    await docket.add(the_task, key="swallowed")()
    with caplog.at_level(logging.INFO, logger="strew.worker"):
        async with Worker(docket) as worker:
            await worker.run_until_finished()
    assert seen == [("enter", None), ("failure", error), ("exit", None)]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert (await docket.snapshot()).total_tasks == 0


async def test_a_failure_handler_that_declines_lets_the_run_fail_and_completes_it(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    async def the_task(handler: Watch = Watch(), done: Done = Done()) -> None:
        raise ValueError("nope")

    execution = await docket.add(the_task, key="declined")()
    with caplog.at_level(logging.ERROR, logger="strew.worker"):
        async with Worker(docket) as worker:
            await worker.run_until_finished()
    assert seen[0] == ("watched", "declined")
    assert seen[1][0] == "complete" and isinstance(seen[1][1], ValueError)
    assert any("the_task failed (key declined)" in r.getMessage() for r in caplog.records)
    assert await execution.sync() == ExecutionState.FAILED


async def test_a_completion_handler_is_told_of_the_result_and_may_do_its_own_logging(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    async def quiet(done: Done = Done(takes_over=True)) -> int:
        return 42

    async def loud(done: Done = Done()) -> int:
        return 7

    await docket.add(quiet, key="quiet")()
    await docket.add(loud, key="loud")()
    with caplog.at_level(logging.INFO, logger="strew.worker"):
        async with Worker(docket) as worker:
            await worker.run_until_finished()
    assert sorted(seen) == [("complete", 7), ("complete", 42)]
    messages = [r.getMessage() for r in caplog.records]
    assert any("loud finished (key loud)" in m for m in messages)
    assert not any("quiet finished" in m for m in messages)


async def test_a_completion_handler_hears_of_a_failure_only_once_retries_are_spent(
    docket: Docket,
) -> None:
    runs: list[int] = []

    async def the_task(retry: Retry = Retry(attempts=3), done: Done = Done()) -> None:
        runs.append(retry.attempt)
        raise ValueError(f"attempt {retry.attempt}")

    await docket.add(the_task, key="spent")()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert runs == [1, 2, 3]
    assert [(kind, str(value)) for kind, value in seen] == [("complete", "attempt 3")]


async def test_a_runtime_calls_the_task_itself_with_its_dependencies(docket: Docket) -> None:
    calls: list[int] = []

    async def the_task(n: int, runtime: Twice = Twice(), done: Done = Done()) -> int:
        assert isinstance(runtime, Twice)
        calls.append(n)
        return n * len(calls)

    def sync_task(runtime: Twice = Twice()) -> str:
        calls.append(0)
        return "sync"

    await docket.add(the_task, key="twice")(5)
    await docket.add(sync_task, key="sync")()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert sorted(calls) == [0, 0, 5, 5]
    assert ("complete", [5, 10]) in seen or ("complete", [10, 20]) in seen


async def test_a_failure_a_handler_took_over_does_not_continue_a_perpetual_chain(
    docket: Docket,
) -> None:
    async def the_task(
        handler: Swallow = Swallow(), perpetual: Perpetual = Perpetual(timedelta(hours=1))
    ) -> None:
        raise RuntimeError("taken over")

    await docket.add(the_task, key="chain")()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert [kind for kind, _ in seen] == ["enter", "failure", "exit"]
    assert (await docket.snapshot()).total_tasks == 0


async def two_runtimes(
    timeout: Timeout = Timeout(timedelta(seconds=1)), runtime: Twice = Twice()
) -> None: ...  # pragma: no cover


async def two_failure_handlers(
    retry: Retry = Retry(attempts=2), handler: Watch = Watch()
) -> None: ...  # pragma: no cover


async def two_completion_handlers(
    perpetual: Perpetual = Perpetual(), done: Done = Done()
) -> None: ...  # pragma: no cover


@pytest.mark.parametrize(
    ("function", "message"),
    [
        (two_runtimes, r"parameter 'runtime' \(.*Twice.*\) is a second Runtime; parameter "),
        (two_failure_handlers, r"'handler' .* is a second FailureHandler; parameter 'retry' "),
        (two_completion_handlers, r"'done' .* second CompletionHandler; parameter 'perpetual'"),
    ],
)
async def test_a_task_may_have_one_hook_of_each_family_as_in_pydocket(
    docket: Docket, function: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        docket.register(function)
    assert docket.tasks == {}
