"""Retry and ExponentialRetry: attempts counted, retries rescheduled atomically, on both
stores."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from strew import CurrentExecution, Docket, Execution, ExponentialRetry, Retry, Worker
from strew.task.clock import to_micros

MS = timedelta(milliseconds=1)


async def test_a_task_failing_three_times_then_succeeding_runs_exactly_four_times(
    docket: Docket,
) -> None:
    attempts: list[int] = []

    async def flaky(
        retry: Retry = Retry(attempts=4, delay=MS),
        execution: Execution = CurrentExecution(),
    ) -> None:
        attempts.append(execution.attempt)
        assert retry.attempt == execution.attempt
        if execution.attempt < 4:
            raise RuntimeError(f"failure {execution.attempt}")

    await docket.add(flaky, key="flaky")()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert attempts == [1, 2, 3, 4]
    assert worker.stats.failed == 3 and worker.stats.retried == 3
    assert worker.stats.succeeded == 1


async def test_exhausted_attempts_stop_and_are_logged(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[int] = []

    async def doomed(
        retry: ExponentialRetry = ExponentialRetry(attempts=3, minimum_delay=MS, maximum_delay=MS),
        execution: Execution = CurrentExecution(),
    ) -> None:
        attempts.append(execution.attempt)
        raise RuntimeError("always")

    await docket.add(doomed, key="doomed")()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert attempts == [1, 2, 3]
    assert (await docket.snapshot()).total_tasks == 0
    assert any(
        "doomed failed (key doomed)" in r.getMessage()
        and "attempt 3 of 3, none left" in r.getMessage()
        for r in caplog.records
    )


async def test_a_task_without_retry_runs_once(docket: Docket) -> None:
    runs: list[int] = []

    async def once(execution: Execution = CurrentExecution()) -> None:
        runs.append(execution.attempt)
        raise RuntimeError("no")

    await docket.add(once)()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert runs == [1]


async def test_retry_after_asks_for_another_run_without_a_failure(docket: Docket) -> None:
    attempts: list[int] = []

    async def polling(retry: Retry = Retry.forever()) -> None:
        attempts.append(retry.attempt)
        if retry.attempt < 3:
            retry.after(MS)

    await docket.add(polling, key="poll")()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert attempts == [1, 2, 3]
    assert worker.stats.failed == 0 and worker.stats.retried == 2


async def test_retry_at_reschedules_for_the_given_moment(docket: Docket) -> None:
    seen: list[tuple[int, datetime]] = []

    async def later(
        retry: Retry = Retry(attempts=2), execution: Execution = CurrentExecution()
    ) -> None:
        seen.append((retry.attempt, execution.when))
        if retry.attempt == 1:
            retry.at(target)

    target = datetime.now(UTC) + timedelta(milliseconds=20)
    await docket.add(later)()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert [attempt for attempt, _ in seen] == [1, 2]
    assert seen[1][1] == target


async def test_an_explicit_retry_beyond_the_attempts_is_not_run(docket: Docket) -> None:
    attempts: list[int] = []

    async def greedy(retry: Retry = Retry(attempts=2)) -> None:
        attempts.append(retry.attempt)
        retry.after(MS)

    await docket.add(greedy)()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert attempts == [1, 2]


async def test_exponential_retries_are_scheduled_doubling_gaps_apart_on_a_worker(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
) -> None:
    whens: list[datetime] = []

    async def flaky(
        retry: ExponentialRetry = ExponentialRetry(
            attempts=6, minimum_delay=10 * MS, maximum_delay=80 * MS
        ),
        execution: Execution = CurrentExecution(),
    ) -> None:
        whens.append(execution.when)
        raise RuntimeError(f"failure {execution.attempt}")

    worker = Worker(docket)
    # The worker's clock, as far as scheduling retries goes, reads each run's own due time:
    # every run fails the instant it was due, so the gaps between the scheduled times are
    # exactly the delays (and no wall-clock time is measured).
    real_clock = worker.state.store_now

    def clock() -> int:
        return to_micros(whens[-1]) if whens else real_clock()

    monkeypatch.setattr(worker.state, "store_now", clock)
    await docket.add(flaky, key="flaky")()
    await worker.run_until_finished()
    gaps = [later - earlier for earlier, later in itertools.pairwise(whens)]
    assert gaps == [MS * ms for ms in (10, 20, 40, 80, 80)]
    assert worker.stats.retried == 5 and worker.stats.failed == 6


def test_exponential_delays_double_from_the_minimum_up_to_the_maximum() -> None:
    retry = ExponentialRetry(
        attempts=None, minimum_delay=timedelta(seconds=1), maximum_delay=timedelta(seconds=10)
    )
    delays = [retry.delay_after(attempt) for attempt in range(1, 7)]
    assert delays == [timedelta(seconds=s) for s in (1, 2, 4, 8, 10, 10)]
    assert retry.delay_after(10_000) == timedelta(seconds=10)


def test_retry_limits() -> None:
    assert Retry(attempts=4).exhausted(4) and not Retry(attempts=4).exhausted(3)
    assert not Retry.forever().exhausted(10**6)
    assert ExponentialRetry.forever().attempts is None
    with pytest.raises(ValueError, match="delay must be a duration of zero or more"):
        Retry().after(timedelta(seconds=-1))


async def test_the_retry_example_runs_as_documented(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .test_dependencies import load_example

    monkeypatch.setenv("STREW_URL", store_url)
    demo = load_example("retry_demo")
    assert await demo.main() == [
        "flaky_call attempt 1",
        "flaky_call attempt 2",
        "flaky_call attempt 3",
        "slow_call attempt 1",
        "slow_call attempt 2",
    ]
