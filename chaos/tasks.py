"""The task the chaos workers run: it writes down every start and finish outside Redis.

Each worker process appends to its own file, one line per event, flushed and fsynced before
the task goes on: a start that is on disk happened, even if the worker is SIGKILLed a moment
later. Lines are ``S key pid micros`` and ``F key pid micros outcome``.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import IO

LOG_DIR_VARIABLE = "CHAOS_LOG_DIR"

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


def _now() -> int:
    return time.time_ns() // 1000


async def chaos_task(key: str, kind: str, seconds: float) -> None:
    """``kind`` is ``ok`` (sleep ``seconds``), ``raise`` or ``hang`` (sleep ``seconds``, which
    the producer makes longer than the lease so a killed worker's hang is redelivered)."""
    _write(f"S {key} {os.getpid()} {_now()}")
    if kind == "raise":
        _write(f"F {key} {os.getpid()} {_now()} raised")
        raise ChaosFailure(f"task {key} fails on purpose")
    await asyncio.sleep(seconds)
    _write(f"F {key} {os.getpid()} {_now()} {kind}")
