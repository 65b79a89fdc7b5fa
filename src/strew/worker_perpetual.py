"""Automatic perpetual tasks: every worker starts their chains, and puts back lost ones.

Each automatic `Perpetual` (and `Cron`) task of the docket has one chain, keyed by the name
the task is registered under. A worker adds every such chain when it starts and again every
``docket.heartbeat_interval`` while it runs, always *without* replace: the store skips a key
that is scheduled or running, so a chain that exists is left exactly as it is, and one that
was lost (cancelled by hand, dropped by a `clear`, gone with a Redis that lost its data) is
back within one interval. Two chains of one task cannot exist at once: there is one key.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .dependencies.perpetual import perpetual_of, perpetual_payload
from .stores.base import Entry, StoreError
from .worker_loops import cancelling

if TYPE_CHECKING:
    from .worker import Worker

logger = logging.getLogger("strew.worker")


def automatic_entries(worker: Worker, now: int) -> list[Entry]:
    """The first step of every automatic chain of the worker's docket, started at ``now``."""
    entries: list[Entry] = []
    for name, function in worker.docket.tasks.items():
        marker = perpetual_of(function)
        if marker is not None and marker.automatic:
            due = marker.first_due(now)
            entries.append(Entry(name, due, perpetual_payload(name, due)))
    return entries


async def add_automatic(worker: Worker, now: int | None = None) -> int:
    """Add the automatic chains that do not exist; returns how many were added. A store that
    cannot be reached is logged, not raised: the next round tries again."""
    try:
        if now is None:
            now = await worker.docket.store.now()
        entries = automatic_entries(worker, now)
        if not entries:
            return 0
        written = await worker.docket.store.schedule(entries, replace=False)
    except StoreError as error:
        logger.warning("worker %s could not start automatic tasks: %s", worker.name, error)
        return 0
    for entry, added in zip(entries, written, strict=True):
        if added:
            logger.info("worker %s started the automatic task %s", worker.name, entry.key)
    return written.count(True)


async def keep_automatic(worker: Worker) -> None:
    """Put lost chains back, every heartbeat interval, for as long as the worker runs."""
    interval = worker.docket.heartbeat_interval.total_seconds()
    while not cancelling():
        await asyncio.sleep(interval)
        await add_automatic(worker, worker._store_now())


async def start_automatic(
    worker: Worker, group: asyncio.TaskGroup, forever: bool
) -> list[asyncio.Task[None]]:
    """Called as the worker starts: add the chains now (before the first claim, so a
    draining worker sees them), and, for a worker that runs until stopped, keep them.
    Returns the task to cancel when the worker stops."""
    if not any(
        (marker := perpetual_of(function)) is not None and marker.automatic
        for function in worker.docket.tasks.values()
    ):
        return []
    await add_automatic(worker)
    if not forever:
        return []
    return [group.create_task(keep_automatic(worker), name=f"strew {worker.name} automatic")]
