"""The tasks the chaos workers run: they write down every start and finish outside Redis.

Each worker process appends to its own file, one line per event, flushed and fsynced before
the task goes on: a start that is on disk happened, even if the worker is SIGKILLed a moment
later. Lines are ``S key attempt pid micros`` and ``F key attempt pid micros outcome``, the
attempt being the run's `Execution.attempt`: the checker tells a retry after a failure
(attempt one higher) from a redelivery (the same attempt again) by it.

Every kind of task is expected to end in one successful run of its last attempt:

- ``ok`` sleeps 0-300 ms; ``slow`` sleeps longer than the lease (only the renewal keeps it
  from running twice): one attempt, outcome ``ok``.
- ``raise`` raises on attempt 1 (outcome ``raised``) and its `Retry` runs it again; attempt
  2 succeeds.
- ``hang`` (a separate function, `chaos_hang`) never returns on attempt 1: only its
  `Timeout` ends it (outcome ``timedout``), a failure its `Retry` runs again; attempt 2
  returns at once.

A run cut short (its worker killed, or stopped and the run handed back) writes no ``F``.
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import IO

from strew import CurrentExecution, Execution, Retry, Timeout

LOG_DIR_VARIABLE = "CHAOS_LOG_DIR"

HANG_LIMIT = timedelta(seconds=3)
"""How long a hanging task runs before its `Timeout` cancels it: longer than the 2 s lease,
so a hang's lease must be renewed too, and short enough that hangs time out amid the faults."""

LAST_ATTEMPT = {"ok": 1, "slow": 1, "raise": 2, "hang": 2}
"""The attempt whose successful run completes a task of each kind."""

_retry_once = Retry(attempts=2, delay=timedelta(milliseconds=200))

_journal: IO[str] | None = None


class ChaosFailure(Exception):
    """Raised on purpose by tasks of kind ``raise``: a failure is still an execution."""


def _write(line: str) -> None:
    global _journal
    if _journal is None:
        directory = Path(os.environ[LOG_DIR_VARIABLE])
        _journal = open(directory / f"worker-{os.getpid()}.log", "a", encoding="ascii")  # noqa: SIM115
    _journal.write(line + "\n")
    _journal.flush()
    os.fsync(_journal.fileno())


def _event(mark: str, key: str, attempt: int, outcome: str = "") -> None:
    _write(f"{mark} {key} {attempt} {os.getpid()} {time.time_ns() // 1000} {outcome}".rstrip())


async def chaos_task(
    key: str,
    kind: str,
    seconds: float,
    execution: Execution = CurrentExecution(),
    retry: Retry = _retry_once,
) -> None:
    """``kind`` is ``ok`` or ``slow`` (sleep ``seconds``), or ``raise`` (fail once)."""
    attempt = execution.attempt
    _event("S", key, attempt)
    if kind == "raise" and attempt == 1:
        _event("F", key, attempt, "raised")
        raise ChaosFailure(f"task {key} fails on purpose")
    await asyncio.sleep(seconds if kind != "raise" else 0.0)
    _event("F", key, attempt, "ok")


async def chaos_hang(
    key: str,
    execution: Execution = CurrentExecution(),
    retry: Retry = _retry_once,
    timeout: Timeout = Timeout(HANG_LIMIT),
) -> None:
    """Hang on attempt 1 until the `Timeout` cancels the run; return at once on attempt 2."""
    attempt = execution.attempt
    _event("S", key, attempt)
    if attempt == 1:
        try:
            await asyncio.Future()  # never done: only a cancellation ends it
        except asyncio.CancelledError:
            # The timeout's cancellation, not a shutdown's hand-back (which comes before the
            # deadline): only that one is an outcome of the run.
            if timeout.remaining() <= timedelta(0):
                _event("F", key, attempt, "timedout")
            raise
    _event("F", key, attempt, "ok")
