"""Writing a planned scatter to the store: all-or-nothing (staged, then committed in one
step) or streamed chunk by chunk, with Python building the next chunk while the store writes
the last one.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

from strew.agenda.build import Planned
from strew.stores.protocol import Store
from strew.stores.records import Entry, StoreError
from strew.task.execution import Disposition, Execution

STREAMED_STEP = 1_000
"""Entries one write of a streamed scatter carries at most, whatever its ``chunk_size``: each
write is one script on the live schedule, and every other client's command waits for the one
running. 1,000 entries take about 5 ms with a million tasks scheduled (5,000 took up to
60 ms, `bench/redis_steps.py`), so a worker's claims and acknowledgements keep their pace
while a big scatter is written (`bench/busy.py`). Staged chunks of an atomic scatter are only
appended to the stage, so they keep ``chunk_size``."""

Progress = Callable[[int, int], object]
"""``on_progress(done, total)``: called after each chunk; may return an awaitable."""


class ScatterError(StoreError):
    """A streamed scatter (``atomic=False``) stopped part-way.

    ``scheduled`` holds the executions that were written before it stopped (they stay
    scheduled); ``executions`` holds one execution per entry, those never written marked
    ``FAILED``. The cause is chained as ``__cause__``.
    """

    def __init__(self, message: str, scatter_id: str, executions: list[Execution]) -> None:
        super().__init__(message)
        self.scatter_id = scatter_id
        self.executions = executions
        self.scheduled = [e for e in executions if e.disposition is Disposition.SCHEDULED]


async def write_atomically(
    store: Store,
    scatter_id: str,
    plan: Planned,
    members_ttl: int,
    on_progress: Progress | None,
    chunk_size: int,
    stage_ttl: int,
    descriptor: bytes = b"",
) -> list[Execution]:
    """The all-or-nothing write: stage every chunk where no worker reads it (for
    ``stage_ttl`` microseconds at most), then commit the stage in one atomic step, which
    lists the scatter under ``descriptor`` (see `Docket.scatters`)."""
    # Python builds chunk k+1 while Redis stages chunk k, and the executions while Redis
    # commits: the two sides work at the same time instead of taking turns. A staged
    # chunk is invisible, so serialising lazily keeps the batch all-or-nothing: a call
    # that cannot be serialised discards the stage and nothing was scheduled.
    total = len(plan)
    first = _first_of_each_key(plan.keys)
    everyone = all(first)
    staged = 0

    async def stage(chunk: list[Entry], expected: int, done: int) -> None:
        held = await store.stage_batch(scatter_id, chunk, stage_ttl)
        if held != expected:
            raise StoreError(
                f"scatter {scatter_id}: the stage holds {held} of {expected} tasks "
                "(expired or cancelled while it was written); nothing was scheduled"
            )
        await _report(on_progress, done, total)

    writing: asyncio.Future[Any] | None = None
    try:
        for low in range(0, total, chunk_size):
            high = min(low + chunk_size, total)
            chunk = plan.entries(low, high)
            if not everyone:
                chunk = [entry for entry, keep in zip(chunk, first[low:high], strict=True) if keep]
            if writing is not None:
                await writing
            staged += len(chunk)
            writing = asyncio.ensure_future(stage(chunk, staged, high))
            await asyncio.sleep(0)  # let it reach the socket before the next chunk
        if writing is not None:
            await writing
        writing = asyncio.ensure_future(
            store.commit_batch(scatter_id, staged, members_ttl, descriptor)
        )
        executions: list[Execution] = []
        for low in range(0, total, chunk_size):
            await asyncio.sleep(0)
            executions += plan.executions(low, min(low + chunk_size, total))
        skipped = set(await writing)
    except BaseException:
        if writing is not None and not writing.done():
            writing.cancel()
        # Best effort: the stage's TTL is the backstop when the store is unreachable.
        with suppress(Exception):
            await store.discard_batch(scatter_id)
        raise
    for execution, is_first in zip(executions, first, strict=True):
        written = is_first and execution.key not in skipped
        execution.disposition = Disposition.SCHEDULED if written else Disposition.ALREADY_SCHEDULED
    return executions


async def write_streamed(
    store: Store,
    scatter_id: str,
    plan: Planned,
    members_ttl: int,
    on_progress: Progress | None,
    chunk_size: int,
    descriptor: bytes = b"",
) -> list[Execution]:
    """The streamed write (``atomic=False``): chunk by chunk, each visible once written
    (the first lists the scatter under ``descriptor``); `ScatterError` carries what was
    written if one fails."""
    # Everything is serialised before the first write (a streamed chunk is visible at
    # once); the executions of a chunk are built while Redis writes its first step.
    total = len(plan)
    entries = plan.entries(0, total)
    executions: list[Execution] = []
    writing: asyncio.Future[list[bool]] | None = None
    for low in range(0, total, chunk_size):
        high = min(low + chunk_size, total)
        try:
            for part in range(low, high, STREAMED_STEP):
                end = min(part + STREAMED_STEP, high)
                writing = asyncio.ensure_future(
                    store.schedule_batch(scatter_id, entries[part:end], members_ttl, descriptor)
                )
                if part == low:
                    await asyncio.sleep(0)
                    executions += plan.executions(low, high)
                written = await writing
                for execution, flag in zip(executions[part:end], written, strict=True):
                    execution.disposition = (
                        Disposition.SCHEDULED if flag else Disposition.ALREADY_SCHEDULED
                    )
            await _report(on_progress, high, total)
        except Exception as error:
            if writing is not None and not writing.done():
                writing.cancel()
            executions += plan.executions(len(executions), total)
            for execution in executions:
                if execution.disposition is Disposition.LOADED:
                    execution.disposition = Disposition.FAILED
                    execution.schedule_exception = error
            done = sum(e.disposition is Disposition.SCHEDULED for e in executions)
            raise ScatterError(
                f"scatter {scatter_id} stopped after scheduling {done} of "
                f"{len(executions)} tasks: {error}",
                scatter_id,
                executions,
            ) from error
    return executions


def _first_of_each_key(keys: Sequence[str]) -> list[bool]:
    # A key twice in one agenda behaves as two adds would: the first wins.
    if len(set(keys)) == len(keys):
        return [True] * len(keys)
    seen: set[str] = set()
    first: list[bool] = []
    for key in keys:
        first.append(key not in seen)
        seen.add(key)
    return first


async def _report(on_progress: Progress | None, done: int, total: int) -> None:
    if on_progress is None:
        return
    result = on_progress(done, total)
    if inspect.isawaitable(result):
        await result
