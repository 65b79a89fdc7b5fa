"""Retrying without limit, pydocket's way (``attempts=None``) and strew's (``forever``)."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

from datetime import timedelta

import pytest

from strew import CurrentExecution, Docket, Execution, ExponentialRetry, Worker

MS = timedelta(milliseconds=1)
FAILURES = 12
"""More failures than any default gives: only an unlimited retry reaches the success."""


@pytest.mark.parametrize(
    "marker",
    [
        ExponentialRetry(attempts=None, minimum_delay=MS, maximum_delay=2 * MS),
        ExponentialRetry.forever(delay=MS, maximum_delay=2 * MS),
        ExponentialRetry.forever(minimum_delay=MS, maximum_delay=2 * MS),
    ],
    ids=["attempts=None", "forever(delay=)", "forever(minimum_delay=)"],
)
async def test_an_unlimited_exponential_retry_runs_until_the_task_succeeds(
    docket: Docket, marker: ExponentialRetry
) -> None:
    attempts: list[int] = []

    async def flaky(
        retry: ExponentialRetry = marker, execution: Execution = CurrentExecution()
    ) -> None:
        attempts.append(execution.attempt)
        if execution.attempt <= FAILURES:
            raise RuntimeError(f"failure {execution.attempt}")

    await docket.add(flaky, key="flaky")()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert attempts == list(range(1, FAILURES + 2))
    assert worker.stats.failed == FAILURES and worker.stats.succeeded == 1


def test_forever_takes_the_delay_under_either_name_and_caps_the_doubling() -> None:
    retry = ExponentialRetry.forever(delay=timedelta(seconds=2), maximum_delay=timedelta(seconds=5))
    assert (retry.attempts, retry.minimum_delay, retry.maximum_delay) == (
        None,
        timedelta(seconds=2),
        timedelta(seconds=5),
    )
    assert [retry.delay_after(n) for n in (1, 2, 3, 50)] == [
        timedelta(seconds=s) for s in (2, 4, 5, 5)
    ]
    assert ExponentialRetry.forever().minimum_delay == timedelta(seconds=1)
    assert ExponentialRetry.forever(minimum_delay=MS).minimum_delay == MS
    assert ExponentialRetry.forever(MS).minimum_delay == MS


def test_forever_refuses_both_spellings_of_the_delay_at_once() -> None:
    with pytest.raises(TypeError, match="delay or minimum_delay, not both"):
        ExponentialRetry.forever(delay=MS, minimum_delay=MS)


async def test_a_bad_forever_delay_is_refused_when_the_task_is_registered(docket: Docket) -> None:
    async def task(retry: ExponentialRetry = ExponentialRetry.forever(delay=-MS)) -> None: ...

    with pytest.raises(ValueError, match="minimum_delay must be a duration of zero or more"):
        docket.register(task)
    assert docket.tasks == {}
