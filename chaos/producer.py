"""One chaos producer process: ``python -m chaos.producer URL DOCKET OUT SEED INDEX TASKS
SECONDS``.

It schedules ``TASKS`` tasks over about ``SECONDS`` seconds in a seeded mix of single adds,
`add_many` batches and `Agenda` scatters, each task under a unique key. A write that fails
(Redis is down, or restarting) is retried with the same keys until it succeeds: keys make the
retry idempotent. Only once a write succeeded are its keys appended to ``OUT`` as
``key due_micros kind retries``; a key the driver finds there must run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import IO

from strew import Agenda, Disposition, Docket, Execution, StoreError, TaskCall
from strew.task.clock import to_micros, utc_now

from .tasks import chaos_hang, chaos_task

GIVE_UP_AFTER = 120.0
"""A write still failing after this long means the store is not coming back: stop loudly."""


@dataclass
class Task:
    key: str
    kind: str
    seconds: float


@dataclass
class Batch:
    form: str  # "add", "add_many" or "scatter"
    tasks: list[Task]
    lead: float  # seconds from the first attempt to the first due time
    spread: float  # seconds the batch is spread over
    seed: int  # the scatter's seed, and the add_many offsets: the same on every retry


def plan(rng: random.Random, index: int, total: int, lease: float) -> list[Batch]:
    batches: list[Batch] = []
    made = 0
    while made < total:
        roll = rng.random()
        if roll < 0.25:
            form, size = "add", 1
        elif roll < 0.6:
            form, size = "add_many", rng.randint(20, 150)
        else:
            form, size = "scatter", rng.randint(100, 500)
        size = min(size, total - made)
        tasks = []
        for _ in range(size):
            key = f"p{index}-{made:06d}"
            made += 1
            pick = rng.random()
            if pick < 0.02:
                tasks.append(Task(key, "raise", 0.0))
            elif pick < 0.025:
                # Longer than the lease: only a renewing worker keeps it from running twice.
                tasks.append(Task(key, "slow", rng.uniform(lease + 1, lease + 4)))
            elif pick < 0.03:
                # Never returns by itself: its Timeout cancels it, and its Retry runs it again.
                tasks.append(Task(key, "hang", 0.0))
            else:
                tasks.append(Task(key, "ok", rng.uniform(0.0, 0.3)))
        spread = rng.uniform(2.0, 15.0)
        batches.append(Batch(form, tasks, rng.uniform(0.5, 3.0), spread, rng.randrange(2**32)))
    return batches


async def write(docket: Docket, batch: Batch, start: datetime) -> list[Execution]:
    """One attempt at writing a batch; raises StoreError if the store is unreachable.

    Every attempt asks for the same times (``start`` is fixed by the first attempt), so a
    retry of a write whose reply was lost finds its keys scheduled where it would put them.
    """
    if batch.form == "add":
        [task] = batch.tasks
        if task.kind == "hang":
            execution = await docket.add(chaos_hang, when=start, key=task.key)(task.key)
        else:
            execution = await docket.add(chaos_task, when=start, key=task.key)(
                task.key, task.kind, task.seconds
            )
        return [execution]
    if batch.form == "add_many":
        calls: list[TaskCall] = []
        offsets = random.Random(batch.seed)
        for task in batch.tasks:
            when = start + timedelta(seconds=offsets.uniform(0, batch.spread))
            if task.kind == "hang":
                calls.append(docket.call(chaos_hang, when=when, key=task.key)(task.key))
            else:
                calls.append(
                    docket.call(chaos_task, when=when, key=task.key)(
                        task.key, task.kind, task.seconds
                    )
                )
        executions = await docket.add_many(calls, chunk_size=50)
        failed = [e for e in executions if e.disposition is Disposition.FAILED]
        if failed:
            raise StoreError(f"{len(failed)} of {len(executions)} calls failed: {failed[0]!r}")
        return executions
    agenda = Agenda()
    for task in batch.tasks:
        if task.kind == "hang":
            agenda.add(chaos_hang, key=task.key)(task.key)
        else:
            agenda.add(chaos_task, key=task.key)(task.key, task.kind, task.seconds)
    return await agenda.scatter(
        docket,
        over=timedelta(seconds=batch.spread),
        start=start,
        jitter=timedelta(milliseconds=200),
        seed=batch.seed,
        chunk_size=100,
    )


async def produce(
    url: str, name: str, out: IO[str], seed: int, index: int, total: int, seconds: float
) -> None:
    rng = random.Random(seed * 1000 + index)
    batches = plan(rng, index, total, lease=2.0)
    began = time.monotonic()
    async with Docket(name, url) as docket:
        docket.register(chaos_task)
        docket.register(chaos_hang)
        for number, batch in enumerate(batches):
            # Paced so the batches spread over the whole run, while the chaos goes on.
            pause = began + seconds * number / len(batches) - time.monotonic()
            if pause > 0:
                await asyncio.sleep(pause)
            start = utc_now() + timedelta(seconds=batch.lead)
            retries = 0
            first_failure = 0.0
            while True:
                try:
                    executions = await write(docket, batch, start)
                    break
                except StoreError as error:
                    retries += 1
                    first_failure = first_failure or time.monotonic()
                    if time.monotonic() - first_failure > GIVE_UP_AFTER:
                        raise RuntimeError(
                            f"producer {index}: batch {number} still failing after "
                            f"{GIVE_UP_AFTER:.0f}s: {error}"
                        ) from error
                    await asyncio.sleep(0.1 + rng.random() * 0.2)
            kinds = {task.key: task for task in batch.tasks}
            lines = [
                f"{e.key} {to_micros(e.when)} {kinds[e.key].kind} {retries}\n" for e in executions
            ]
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())


def main() -> int:
    url, name, path, seed, index, total, seconds = sys.argv[1:8]
    logging.basicConfig(level=logging.ERROR)
    with open(path, "a", encoding="ascii") as out:
        asyncio.run(produce(url, name, out, int(seed), int(index), int(total), float(seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
