"""What a worker does with a claimed task that a strike pauses: hold it, never lose it.

The hold is one atomic store step (lease -> held tasks, payload and due time kept), taken only
if the rules the worker decided on are still the current ones; otherwise the worker reads the
rules again and decides again. So a task is never held under a strike that a `restore` has
already lifted, and every `restore` puts every held task back on the schedule.
"""

from __future__ import annotations

import logging
from typing import Any

from strew.docket.strikes import Strike
from strew.signals import metrics as instrumentation
from strew.stores.records import Claim, StoreError
from strew.task.envelope import Envelope
from strew.task.execution import TaskFunction
from strew.worker.state import WorkerState

logger = logging.getLogger("strew.worker")

HOLD_ATTEMPTS = 5
"""How many times the rules may change under one decision before the task is simply handed
back to the schedule (to be decided on by the next claim)."""


class StrikeGate:
    """Between a claim and its run: a task a strike pauses is held aside, not run."""

    def __init__(self, state: WorkerState) -> None:
        self.state = state

    async def stricken(self, claim: Claim, envelope: Envelope, function: TaskFunction) -> bool:
        """True when a strike pauses this claim: it is then held (or handed back), and the
        caller must neither run nor acknowledge it."""
        book = self.state.docket.strike_book
        for _ in range(HOLD_ATTEMPTS):
            try:
                rules = await book.current()
            except StoreError as error:
                logger.warning(
                    "worker %s could not read the strikes (task %s): %s; using the last known",
                    self.state.name,
                    claim.key,
                    error,
                )
                rules = book.rules
            rule = book.blocking(
                rules, envelope.function_name, function, envelope.args, envelope.kwargs
            )
            if rule is None:
                return False
            decided_on = book.version
            try:
                [held] = await self.state.store.hold([(claim.key, claim.token)], decided_on)
            except StoreError as error:
                # Not run, not acknowledged: its lease lapses and the next claim decides again.
                logger.warning(
                    "worker %s could not hold stricken task %s: %s; it will be redelivered",
                    self.state.name,
                    claim.key,
                    error,
                )
                return True
            if held:
                self.held(claim, envelope, rule)
                return True
            book.invalidate()
            try:
                await book.current()
            except StoreError:
                continue
            if book.version == decided_on:
                logger.warning(
                    "worker %s lost the lease on stricken task %s before holding it",
                    self.state.name,
                    claim.key,
                )
                return True
        self.state.hand_back(claim)
        return True

    def held(self, claim: Claim, envelope: Envelope, rule: Strike) -> None:
        """The one place a task becomes held: count it, log it."""
        self.state.stats.held += 1
        instrumentation.record_stricken(self.state.docket.name, envelope.function_name)
        logger.info(
            "%s held by a strike (key %s): %s",
            _call(envelope),
            claim.key,
            rule.describe(),
        )


def _call(envelope: Envelope) -> str:
    parts: list[Any] = [repr(a) for a in envelope.args]
    parts += [f"{k}={v!r}" for k, v in envelope.kwargs.items()]
    text = ", ".join(parts)
    return f"{envelope.function_name}({text if len(text) <= 120 else text[:117] + '...'})"
