"""The acker: sends the acknowledgements and hand-backs the runners queue, in batches — one
round trip for whatever piled up while the last batch was in flight."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace

from strew.stores.records import Finish, StoreError, StoreUnavailable
from strew.task.results import refused_record
from strew.worker.state import WorkerState, cancelling

logger = logging.getLogger("strew.worker")


class Acker:
    def __init__(self, state: WorkerState) -> None:
        self.state = state

    async def loop(self, forever: bool) -> None:
        """Flush whenever something is queued; back off while the store is down."""
        state = self.state
        backoff = 0.05
        while not cancelling():
            await state.acks_waiting.wait()
            state.acks_waiting.clear()
            try:
                await self.flush()
            except StoreError as error:
                logger.warning("worker %s could not acknowledge tasks: %s", state.name, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, state.reconnection_delay.total_seconds())
                state.acks_waiting.set()
                continue
            backoff = 0.05
            if not forever:
                state.wake.set()  # a draining worker looks again: that may have been the last

    async def flush(self) -> None:
        """One batch: every queued acknowledgement, then every queued hand-back."""
        # Entries leave the lists only once the store has them: a batch interrupted half-way
        # is sent again, which is harmless (a token finishes once; the second time is a no-op).
        state = self.state
        finishes = state.finished[:]
        if finishes:
            try:
                results = await state.store.finish(finishes)
            except StoreUnavailable:
                raise
            except StoreError as refusal:
                results = await self.finish_apart(finishes, refusal)
            else:
                del state.finished[: len(finishes)]
            lost = results.count(False)
            if lost:
                state.stats.lost_leases += lost
                logger.warning(
                    "worker %s finished %d task(s) whose lease had already passed to another "
                    "worker (they may have run twice)",
                    state.name,
                    lost,
                )
        releases = state.released[:]
        if releases:
            await state.store.release(releases)
            del state.released[: len(releases)]
            state.stats.released += len(releases)

    async def finish_apart(self, finishes: list[Finish], refusal: StoreError) -> list[bool]:
        """The store refused ``finishes`` (it answers, so not an outage): sending them again
        would be refused again, forever, and the tasks would run again each time their leases
        lapsed. One at a time instead: one the store refuses keeps a small failed record
        saying why instead of its own (a result too large for it; see `refused_record`).
        Each leaves the queue once the store has it."""
        state = self.state
        logger.warning("worker %s: the store refused acknowledgements: %s", state.name, refusal)
        results: list[bool] = []
        for item in finishes:
            try:
                [done] = await state.store.finish([item])
            except StoreUnavailable:
                raise
            except StoreError as error:
                if item.record is None:
                    raise
                logger.error(
                    "task %s: the store refused its result (%d bytes); it is kept as a "
                    "failure instead: %s",
                    item.key,
                    len(item.record.data),
                    error,
                )
                smaller = replace(item, record=refused_record(item.record, str(error)))
                [done] = await state.store.finish([smaller])
            results.append(done)
            state.finished[:] = [queued for queued in state.finished if queued is not item]
        return results

    async def flush_final(self) -> None:
        """As the worker stops: flush until nothing is left, or the store stayed down for a
        reconnection delay (the tasks are then redelivered when their leases lapse)."""
        state = self.state
        delay = 0.05
        deadline = time.monotonic() + max(state.reconnection_delay.total_seconds(), 1.0)
        while state.finished or state.released:
            try:
                await self.flush()
            except StoreError as error:
                if time.monotonic() > deadline:
                    logger.error(
                        "worker %s stopped with %d unacknowledged task(s): %s; they will be "
                        "redelivered after %s",
                        state.name,
                        len(state.finished) + len(state.released),
                        error,
                        state.redelivery_timeout,
                    )
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
