"""Automatic perpetual tasks: every worker starts their chains, and puts back lost ones.

Each automatic `Perpetual` (and `Cron`) task of the docket has one chain, keyed by the name
the task is registered under. A worker puts every such chain back when it starts and again
every ``docket.heartbeat_interval`` while it runs, with `Store.restore_chains`: one atomic
step that skips a key that is scheduled, running or held by a strike, so a chain that exists
(or that a strike pauses) is left exactly as it is, and one that was lost (cancelled by hand,
dropped by a `clear`, gone with a Redis that lost its data) is back within one interval. Two
chains of one task cannot exist at once in the store: there is one key.

Three things are not "lost", and the periodic check leaves them alone:

* a chain that **ended itself** (``perpetual.cancel()``) since this worker started: the store
  remembers the end with the acknowledgement. A worker that starts afterwards starts it again,
  as pydocket's workers do at start-up;
* a chain **held** by a strike: it runs again after ``restore``, and is not re-added (and
  re-held) every interval;
* a chain whose run **this worker is executing**: if the store lost that run's lease (a Redis
  restart without its data), adding the chain would start a second copy beside the run still
  going here. It is put back once the run ends (its acknowledgement then finds no lease and
  writes nothing). Another worker cannot know about the run, so with several workers such a
  copy can still start: see docs/perpetual-and-cron.md.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from strew.dependencies.perpetual import perpetual_of, perpetual_payload
from strew.stores.records import Entry, StoreError
from strew.task.codec import Codec
from strew.task.execution import TaskFunction
from strew.worker.state import WorkerState, cancelling

logger = logging.getLogger("strew.worker")


def automatic_entries(tasks: Mapping[str, TaskFunction], codec: Codec, now: int) -> list[Entry]:
    """The first step of every automatic chain among ``tasks`` (a docket's registry), started
    at ``now``."""
    entries: list[Entry] = []
    for name, function in tasks.items():
        marker = perpetual_of(function)
        if marker is not None and marker.automatic:
            due = marker.first_due(now)
            entries.append(Entry(name, due, perpetual_payload(codec, name, due)))
    return entries


async def add_automatic(
    state: WorkerState, now: int | None = None, since: int | None = None
) -> int:
    """Put back the automatic chains that are gone; returns how many were added.

    ``now`` (store time) is when new chains start (read from the store when None); chains
    that ended themselves at or after ``since`` stay ended (None: ``now``, which is what a
    starting worker wants: it starts every chain). A chain whose run this worker is
    executing is left out. A store that cannot be reached is logged, not raised: the next
    round tries again."""
    try:
        if now is None:
            now = await state.store.now()
        going = {running.claim.key for running in state.running.values()}
        entries = [
            e
            for e in automatic_entries(state.docket.tasks, state.docket.codec, now)
            if e.key not in going
        ]
        if not entries:
            return 0
        written = await state.store.restore_chains(entries, now if since is None else since)
    except StoreError as error:
        logger.warning("worker %s could not start automatic tasks: %s", state.name, error)
        return 0
    for entry, added in zip(entries, written, strict=True):
        if added:
            logger.info("worker %s started the automatic task %s", state.name, entry.key)
    return written.count(True)


async def keep_automatic(state: WorkerState, since: int) -> None:
    """Put lost chains back, every heartbeat interval, for as long as the worker runs;
    ``since`` is when it started (chains that ended themselves after that stay ended)."""
    interval = state.docket.heartbeat_interval.total_seconds()
    while not cancelling():
        await asyncio.sleep(interval)
        await add_automatic(state, state.store_now(), since)


async def start_automatic(
    state: WorkerState, group: asyncio.TaskGroup, forever: bool
) -> list[asyncio.Task[None]]:
    """Called as the worker starts: add the chains now (before the first claim, so a
    draining worker sees them), and, for a worker that runs until stopped, keep them.
    Returns the task to cancel when the worker stops."""
    if not any(
        (marker := perpetual_of(function)) is not None and marker.automatic
        for function in state.docket.tasks.values()
    ):
        return []
    try:
        started = await state.store.now()
    except StoreError:
        started = state.store_now()  # add_automatic logs the outage and tries again later
    await add_automatic(state, started)
    if not forever:
        return []
    keeper = keep_automatic(state, started)
    return [group.create_task(keeper, name=f"strew {state.name} automatic")]
