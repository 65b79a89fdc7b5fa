"""Retry and ExponentialRetry: how many runs a task gets, and how far apart."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from strew.dependencies.base import Dependency, RunContext, check_duration
from strew.task.checks import check_when


class RetryRequested(Exception):
    """Raised by `Retry.after` / `Retry.at`; the worker catches it and schedules the retry."""

    def __init__(self, delay: timedelta | None = None, when: datetime | None = None) -> None:
        super().__init__(f"retry requested ({delay if when is None else when})")
        self.delay = delay
        self.when = when


class Retry(Dependency):
    """Run a failing task again. ``attempts`` counts every run, the first included
    (``attempts=4``: at most four runs); None means no limit. Inside the task, the marker's
    value is this run's copy: ``retry.attempt`` is the run's number, and ``retry.after(d)`` /
    ``retry.at(when)`` ask for another run even without a failure."""

    single = True

    def __init__(self, attempts: int | None = 1, delay: timedelta = timedelta(0)) -> None:
        self.attempts = attempts
        self.delay = delay
        self.attempt = 1

    @classmethod
    def forever(cls, delay: timedelta = timedelta(0)) -> Retry:
        return cls(attempts=None, delay=delay)

    def problem(self) -> str | None:
        attempts = self.attempts
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            return f"attempts must be a positive integer or None, got {attempts!r}"
        return check_duration("delay", self.delay, zero_ok=True)

    def _copy(self, attempt: int) -> Retry:
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        copy.attempt = attempt
        return copy

    async def resolve(self, context: RunContext, parameter: str) -> Retry:
        return self._copy(context.execution.attempt)

    def delay_after(self, attempt: int) -> timedelta:
        """How long to wait after run number ``attempt`` failed."""
        return self.delay

    def exhausted(self, attempt: int) -> bool:
        """True when run number ``attempt`` was the last one allowed."""
        return self.attempts is not None and attempt >= self.attempts

    def after(self, delay: timedelta) -> None:
        """Stop this run and run the task again ``delay`` from now (counts as an attempt)."""
        problem = check_duration("delay", delay, zero_ok=True)
        if problem:
            raise ValueError(problem)
        raise RetryRequested(delay=delay)

    def in_(self, delay: timedelta) -> None:
        """pydocket's spelling of `after`."""
        self.after(delay)

    def at(self, when: datetime) -> None:
        """Stop this run and run the task again at ``when`` (counts as an attempt)."""
        raise RetryRequested(when=check_when(when))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(attempts={self.attempts!r}, delay={self.delay!r})"


class ExponentialRetry(Retry):
    """`Retry` whose delay doubles after each failure: ``minimum_delay`` after the first,
    then twice that, and so on, never more than ``maximum_delay``.

    With ``jitter=True`` each delay is drawn at random between zero and that value ("full
    jitter", as Celery's ``retry_jitter``, BullMQ and Sidekiq do), so tasks that failed
    together (an API that was down) do not all come back at the same moment. ``rng`` is
    the random generator the draws come from (for reproducible tests)."""

    def __init__(
        self,
        attempts: int | None = 1,
        minimum_delay: timedelta = timedelta(seconds=1),
        maximum_delay: timedelta = timedelta(seconds=64),
        *,
        jitter: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(attempts, minimum_delay)
        self.minimum_delay = minimum_delay
        self.maximum_delay = maximum_delay
        self.jitter = jitter
        self.rng = rng

    @classmethod
    def forever(
        cls,
        delay: timedelta | None = None,
        maximum_delay: timedelta = timedelta(seconds=64),
        *,
        minimum_delay: timedelta | None = None,
        jitter: bool = False,
        rng: random.Random | None = None,
    ) -> ExponentialRetry:
        """Retry without limit, waiting ``delay`` (the first, minimum delay; 1 s by default)
        and doubling up to ``maximum_delay``. ``delay`` is the name `Retry.forever` uses;
        ``minimum_delay``, the constructor's, is accepted too (not both)."""
        if delay is not None and minimum_delay is not None:
            raise TypeError(
                f"give delay or minimum_delay, not both (got delay={delay!r}, "
                f"minimum_delay={minimum_delay!r})"
            )
        first = delay if delay is not None else minimum_delay
        return cls(
            None,
            timedelta(seconds=1) if first is None else first,
            maximum_delay,
            jitter=jitter,
            rng=rng,
        )

    def problem(self) -> str | None:
        attempts = self.attempts
        if attempts is not None and (
            isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
        ):
            return f"attempts must be a positive integer or None, got {attempts!r}"
        jitter: object = self.jitter  # callers without a type checker pass anything
        if not isinstance(jitter, bool):
            return f"jitter must be True or False, got {jitter!r}"
        rng: object = self.rng
        if rng is not None and not isinstance(rng, random.Random):
            return f"rng must be a random.Random, got {rng!r}"
        found = check_duration("minimum_delay", self.minimum_delay, zero_ok=True)
        found = found or check_duration("maximum_delay", self.maximum_delay, zero_ok=True)
        if found is None and self.maximum_delay < self.minimum_delay:
            found = (
                f"maximum_delay must be at least minimum_delay ({self.minimum_delay}), "
                f"got {self.maximum_delay}"
            )
        return found

    def delay_after(self, attempt: int) -> timedelta:
        # Doubling stops at the cap, so a forever-retrying task never overflows timedelta.
        delay = self.minimum_delay
        for _ in range(max(attempt - 1, 0)):
            if delay >= self.maximum_delay:
                break
            delay *= 2
        delay = min(delay, self.maximum_delay)
        if self.jitter:
            draw = (self.rng or random).random()
            delay = timedelta(microseconds=round(draw * (delay / timedelta(microseconds=1))))
        return delay

    def __repr__(self) -> str:
        return (
            f"ExponentialRetry(attempts={self.attempts!r}, minimum_delay={self.minimum_delay!r}, "
            f"maximum_delay={self.maximum_delay!r}" + (", jitter=True)" if self.jitter else ")")
        )
