"""The admission gate: a due task with admission controls (`ConcurrencyLimit`, `RateLimit`,
`Cooldown`, `Debounce`) asks the store whether it may start, and gives up its concurrency
slots when its run ends.

The store decides and, for a task that must wait or come back later, moves it back onto the
schedule in the same atomic step (`AdmissionStore.admit`); what is left here is to say why in
the log, count it, and acknowledge a dropped task.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from strew.signals import metrics as instrumentation
from strew.stores.records import Claim, Gate, StoreError
from strew.task.clock import micros
from strew.task.execution import Execution
from strew.worker.state import WorkerState

logger = logging.getLogger("strew.worker")

_CONTROL = {
    "concurrency": "concurrency limit",
    "rate": "rate limit",
    "cooldown": "cooldown",
    "debounce": "debounce",
}


def describe(gate: Gate) -> str:
    """``concurrency limit customer_id:1001 (2 at once)``: a gate, as a log line names it."""
    where = f"{gate.name}" if gate.scope is None else f"{gate.scope}/{gate.name}"
    if gate.kind == "concurrency":
        detail = f"{gate.limit} at once"
    elif gate.kind == "rate":
        detail = f"{gate.limit} per {gate.window / 1_000_000:g}s"
    else:
        detail = f"{gate.window / 1_000_000:g}s"
    return f"{_CONTROL[gate.kind]} {where} ({detail})"


def _at(when: int) -> str:
    return datetime.fromtimestamp(when / 1_000_000, UTC).isoformat(timespec="milliseconds")


class AdmissionGate:
    def __init__(self, state: WorkerState) -> None:
        self.state = state

    async def admitted(self, claim: Claim, execution: Execution, gates: Sequence[Gate]) -> bool:
        """True when the task may run now; otherwise it has been settled (waiting, put back
        for later, dropped, or handed back when the store could not be asked)."""
        state = self.state
        try:
            admission = await state.store.admit(
                claim.key, claim.token, gates, micros(state.redelivery_timeout)
            )
        except StoreError as failure:
            # Undecided: back on the schedule at its due time, to be decided again.
            logger.warning(
                "task %s: could not check its admission controls: %s", claim.key, failure
            )
            state.hand_back(claim)
            return False
        verdict = admission.verdict
        if verdict == "run":
            return True
        name = execution.function_name
        fields = {"task": name, "key": claim.key, "attempt": execution.attempt}
        if verdict == "lost":
            state.stats.lost_leases += 1
            logger.warning("task %s: its lease passed to another worker first", claim.key)
            return False
        gate = describe(gates[admission.gate])
        if verdict == "drop":
            state.stats.dropped += 1
            instrumentation.record_admission(state.docket.name, name, "dropped")
            logger.info(
                "%s dropped (key %s) by its %s",
                name,
                claim.key,
                gate,
                extra={**fields, "outcome": "dropped"},
            )
            state.done(claim, record=state.cancelled(name))
        elif verdict == "wait":
            state.stats.waited += 1
            instrumentation.record_admission(state.docket.name, name, "waited")
            logger.info(
                "%s waits (key %s) for a slot of its %s; it starts when one frees (at the "
                "latest it looks again at %s)",
                name,
                claim.key,
                gate,
                _at(admission.until),
                extra={**fields, "outcome": "waiting"},
            )
        else:
            state.stats.deferred += 1
            instrumentation.record_admission(state.docket.name, name, "deferred")
            logger.info(
                "%s put back (key %s) by its %s until %s",
                name,
                claim.key,
                gate,
                _at(admission.until),
                extra={**fields, "outcome": "deferred"},
            )
        return False

    async def release(self, claim: Claim, gates: Sequence[Gate]) -> None:
        """Give up the run's concurrency slots, waking the tasks they belong to. A failure
        only delays them: a slot lives no longer than the run's lease."""
        if not any(gate.kind == "concurrency" for gate in gates):
            return
        try:
            await self.state.store.release_slots(claim.key, gates)
        except (StoreError, asyncio.CancelledError) as failure:
            logger.warning(
                "task %s: could not give up its concurrency slots (%s); they free when its "
                "lease ends",
                claim.key,
                failure or type(failure).__name__,
            )
            if isinstance(failure, asyncio.CancelledError):
                raise
