"""The Redis store's re-spread of a batch (`Store.respread_batch`), in bounded steps.

A re-spread reads every member of the batch, a million for a million-task scatter: as one
script it blocked Redis for 3 to 7 s (issue 18 asks for no step over 50 ms). So it runs as a
sequence of scripts, each reading or moving at most `RESPREAD_STEP` members:
``respread_batch.lua`` checks the offered claims and opens the run (or answers at once when
nothing can be overdue), then each ``respread_step.lua`` does one step of the run: *read*
the list (what the plan starts after, and whether the live members are in due order), then
*move* them in due order, page by page, each page timed from where the previous one left
off. A list in due order (a scatter not re-spread yet) is walked again for the move; any
other is read once more into a sorted set by due time, which the move takes from its head.
The run's state lives in Redis beside the batch, so a step needs nothing from the one before
but the run's id::

    strew:{emails}:batch:ID:respread:run      hash    phase, cursor, start, previous...
    strew:{emails}:batch:ID:respread:live     zset    live members by due time (index)
    strew:{emails}:batch:ID:respread:ran      hash    members that ran without it
    strew:{emails}:batch:ID:respread:offers   hash    claims offered back

Between two steps other clients run: each member is checked again in the step that moves
it (see respread_step.lua), and a cancelled batch ends the run.
All four expire `RESPREAD_RUN_TTL_MS` after the last step, so a run whose driver died stops
holding the batch; the next re-spread starts over (what the dead one moved stays moved and
spaced). One run per batch at a time: a second request waits for the first to end, then
runs (and finds the batch re-spread, so only its own claims and what they displace move).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any, Protocol

from strew.stores.records import Respread, StoreError
from strew.stores.redis.common import _flags

RESPREAD_STEP = 2_000
"""Members one step reads or moves at most: 3 to 6 ms of Redis a step, 15 ms at the longest
on the test machine (see bench/README.md, "A re-spread in bounded steps"). At 5,000, moving
steps took 30 ms and reached 50 under load."""
RESPREAD_RUN_TTL_MS = 10_000
"""How long a run's state outlives its last step: after that, a run whose driver died is
abandoned and another may begin."""
BUSY_WAIT = 0.01
"""Seconds between two looks at a run of the same batch that another request is driving."""

RESPREAD_SCRIPTS = ("respread_batch", "respread_step")


class RespreadCore(Protocol):
    """What a run uses of `RedisStore`."""

    docket: str
    schedule_key: str
    payloads_key: str
    leases_key: str
    running_key: str
    tokens_key: str
    dues_key: str
    wake_channel: str
    respread_step: int

    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...
    def _members_key(self, batch: str) -> str: ...
    def _about_key(self, batch: str) -> str: ...


class RespreadRun:
    """One re-spread of ``batch``, a step per call of `step` (the while lives outside, in
    `drive`; tests step it by hand to act between steps)."""

    def __init__(
        self,
        store: RespreadCore,
        batch: str,
        start: int,
        spacing: int,
        overdue: int,
        claims: Sequence[tuple[str, str]] = (),
        *,
        step: int = RESPREAD_STEP,
    ) -> None:
        if step < 1:
            raise ValueError(f"step must be a positive number of members, got {step!r}")
        self._store = store
        self._args = [str(start), str(spacing), str(overdue)]
        self._claims = [part for claim in claims for part in claim]
        self._step = step
        self._id = uuid.uuid4().hex
        self._begun = False
        self._moved = 0
        self._flags = [False] * len(claims)
        prefix = f"{store._members_key(batch)}:respread:"
        self._keys = [
            store.schedule_key,
            store._members_key(batch),
            store.payloads_key,
            store.leases_key,
            store.running_key,
            store.tokens_key,
            store.dues_key,
            store._about_key(batch),
            *(prefix + part for part in ("run", "live", "ran", "offers")),
        ]

    async def step(self) -> Respread | None:
        """One bounded step: the outcome when the run is over, None while steps remain (or
        while another request's run of the batch is under way, after a short wait)."""
        store = self._store
        if not self._begun:
            args = [*self._args, store.wake_channel, self._id, RESPREAD_RUN_TTL_MS]
            reply = await store._script(
                "respread_batch", "re-spread a batch", self._keys, [*args, *self._claims]
            )
            status = _status(reply)
            if status == "busy":
                await asyncio.sleep(BUSY_WAIT)
                return None
            if status == "run":
                self._begun = True
                return None
        else:
            args = [self._id, self._step, RESPREAD_RUN_TTL_MS, store.wake_channel]
            reply = await store._script("respread_step", "re-spread a batch", self._keys, args)
            status = _status(reply)
            if status == "lost":  # abandoned (see RESPREAD_RUN_TTL_MS): what it did stands
                return Respread(self._moved, self._flags)
        self._moved, self._flags = int(reply[1]), _flags(reply[2])
        return Respread(self._moved, self._flags) if status == "done" else None

    def so_far(self) -> Respread:
        """What the steps that answered did."""
        return Respread(self._moved, self._flags)


async def drive(run: RespreadRun) -> Respread:
    """Step ``run`` to its end. A `StoreError` once some claims went back is not raised: the
    caller would run tasks that are on the schedule again (so twice); it gets what the steps
    that answered did instead, and its claims not yet handed back run late, as they would
    after an error. The rest of the batch stays as those steps left it until the next
    re-spread (which waits out the run's keys, `RESPREAD_RUN_TTL_MS`)."""
    while True:
        try:
            done = await run.step()
        except StoreError:
            if not any(run.so_far().handed_back):
                raise
            return run.so_far()
        if done is not None:
            return done


def _status(reply: list[Any]) -> str:
    first = reply[0]
    return first.decode() if isinstance(first, bytes) else str(first)
