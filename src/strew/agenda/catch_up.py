"""Catch-up after an outage: what a scatter's overdue tasks do when workers come back.

A scatter spreads its tasks at a planned rate. If every worker is down for a while, the tasks
planned for that while pile up; when workers return, running them all at once is the very
flood the scatter was meant to prevent. Each scatter chooses its policy:

* `CatchUp.run_late()` (the default): overdue tasks run as soon as a worker can take them.
* `CatchUp.respread(after=...)`: a worker about to start one of the scatter's tasks more
  than ``after`` late hands its late claims of the scatter back and re-times what is left of
  the scatter, in one store request (`Store.respread_batch`): the overdue part is spread
  again at the planned rate from now, and the tail is pushed back only as much as that
  needs. Every returning worker does the same with its own late claims, so no late task
  starts at a time the re-spread did not give it.
* `CatchUp.skip(older_than=...)`: a task that would start more than ``older_than`` late is
  acknowledged without running, counted and logged.

The policy travels in the task's envelope ``meta`` as a short tuple, and only for scatters
that ask for something other than the default.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from strew.stores.protocol import Store
from strew.stores.records import Claim, StoreError
from strew.task.clock import check_positive, micros

logger = logging.getLogger("strew.worker")

META_KEY = "catch_up"
"""The envelope ``meta`` entry holding a scatter's catch-up policy."""

Kind = Literal["run_late", "respread", "skip"]

MAX_SPEED = 1000.0
"""The fastest a re-spread may drain a backlog, as a multiple of the planned rate. Beyond
this a re-spread is a flood by another name (use `CatchUp.run_late`), and a spacing divided
by more rounds to nothing."""


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What a scatter's tasks do when workers start them late (after an outage).

    Build one with `CatchUp.run_late()`, `CatchUp.respread(...)` or `CatchUp.skip(...)` and
    pass it as ``Agenda.scatter(..., catch_up=...)``.
    """

    kind: Kind
    limit: timedelta | None = None
    """``after`` for respread, ``older_than`` for skip, None for run_late."""
    every: timedelta | None = None
    """The spacing of a re-spread; None means the scatter's own planned spacing."""
    speed: float = 1.0
    """A re-spread starts tasks this many times faster than ``every`` (or the plan)."""

    def __post_init__(self) -> None:
        if self.kind not in ("run_late", "respread", "skip"):
            raise ValueError(f"kind must be 'run_late', 'respread' or 'skip', got {self.kind!r}")
        speed = self.speed
        if isinstance(speed, bool) or not isinstance(speed, int | float):
            raise TypeError(f"speed must be a number, got {speed!r}")
        if not math.isfinite(speed) or speed <= 0:
            raise ValueError(f"speed must be a positive, finite number, got {speed!r}")
        if speed > MAX_SPEED:
            raise ValueError(
                f"speed must be at most {MAX_SPEED:g} (times the planned rate; for no limit "
                f"at all use CatchUp.run_late()), got {speed!r}"
            )
        if speed != 1.0 and self.kind != "respread":
            raise ValueError(f"speed only applies to CatchUp.respread, got speed={speed!r}")
        if self.kind == "run_late":
            if self.limit is not None or self.every is not None:
                raise ValueError("CatchUp.run_late() takes no limit or spacing")
            return
        check_positive(self.limit, "after" if self.kind == "respread" else "older_than")
        if self.every is not None:
            if self.kind != "respread":
                raise ValueError(f"every only applies to CatchUp.respread, got every={self.every}")
            check_positive(self.every, "every")

    @classmethod
    def run_late(cls) -> CatchUp:
        """Overdue tasks run as soon as workers can take them (the default)."""
        return cls("run_late")

    @classmethod
    def respread(
        cls,
        after: timedelta = timedelta(seconds=1),
        every: timedelta | None = None,
        speed: float = 1.0,
    ) -> CatchUp:
        """Re-spread what is left of the scatter when one of its tasks starts more than
        ``after`` late: overdue tasks one ``every`` apart from then on (default: the
        scatter's planned spacing), later tasks pushed back only as far as that needs.

        ``speed`` above 1 lets the backlog drain faster than planned (1.5: at one and a
        half times the rate): the re-spread then catches up with the plan after about
        ``speed / (speed - 1)`` times the outage, and only that stretch moves. At 1 (the
        default) starts never exceed the planned rate and everything after the backlog
        moves back by about the length of the outage."""
        return cls("respread", after, every, speed)

    @classmethod
    def skip(cls, older_than: timedelta) -> CatchUp:
        """Acknowledge without running any task of the scatter that would start more than
        ``older_than`` late; each one is counted (``worker.stats.skipped``) and logged."""
        return cls("skip", older_than)

    def __repr__(self) -> str:
        if self.kind == "run_late":
            return "CatchUp.run_late()"
        if self.kind == "skip":
            return f"CatchUp.skip(older_than={self.limit!r})"
        every = "" if self.every is None else f", every={self.every!r}"
        speed = "" if self.speed == 1.0 else f", speed={self.speed!r}"
        return f"CatchUp.respread(after={self.limit!r}{every}{speed})"


def check_catch_up(value: object) -> CatchUp | None:
    if value is not None and not isinstance(value, CatchUp):
        raise TypeError(
            "catch_up must be CatchUp.run_late(), CatchUp.respread(...) or "
            f"CatchUp.skip(...), got {value!r}"
        )
    return value


def catch_up_meta(policy: CatchUp | None, count: int, window: int) -> dict[str, Any]:
    """The meta entry for a scatter of ``count`` tasks over ``window`` microseconds: nothing
    for the default policy, otherwise a tuple of a name and microsecond figures."""
    if policy is None or policy.kind == "run_late":
        return {}
    assert policy.limit is not None
    if policy.kind == "skip":
        return {META_KEY: ("skip", micros(policy.limit))}
    if policy.every is not None:
        spacing = micros(policy.every)
    else:
        spacing = window // (count - 1) if count > 1 else 0
    # At least a microsecond apart: a dense scatter re-spread faster must not round to a
    # spacing of nothing, which would start the whole backlog at once.
    spacing = max(1, round(spacing / policy.speed)) if spacing else 0
    return {META_KEY: ("respread", micros(policy.limit), spacing)}


@dataclass(frozen=True, slots=True)
class Plan:
    """A policy as a worker reads it back from a task's meta."""

    kind: Kind
    limit: int
    spacing: int = 0


def plan_from_meta(meta: Mapping[str, Any]) -> Plan | None:
    """The catch-up plan in ``meta``, None for the default (or an entry this version cannot
    read, which then runs late as it always did)."""
    value = meta.get(META_KEY)
    if value is None:
        return None
    if isinstance(value, tuple) and all(isinstance(figure, int) for figure in value[1:]):
        if len(value) == 2 and value[0] == "skip":
            return Plan("skip", value[1])
        if len(value) == 3 and value[0] == "respread":
            return Plan("respread", value[1], value[2])
    logger.warning("unreadable catch-up policy %r in a task's meta; it runs late", value)
    return None


Decision = Literal["run", "skip", "handed back"]
"""What a worker does with a claim it is about to start (see `CatchUpKeeper.decide`)."""


class CatchUpKeeper:
    """One worker's side of catch-up: decides, just before a task starts, whether it runs.

    A task of a re-spread scatter that is more than ``after`` late never starts without first
    being offered back: the keeper hands it to the store's re-spread (`Store.respread_batch`)
    together with the worker's other late claims of that scatter, and the store takes them
    off their leases and re-times them with the rest of the scatter, in one request. So only the
    re-spread's times decide when they run, however many workers return at once and however
    many tasks each had claimed. Requests are coalesced per scatter: claims that turn late
    while one request is in flight go together in the next one.
    """

    def __init__(self, store: Store, worker: str, clock: Callable[[], int]) -> None:
        self._store = store
        self._worker = worker
        self._clock = clock
        """The store's clock as the worker estimates it: where a re-spread starts from."""
        self._waiting: dict[str, dict[str, str]] = {}  # batch -> {key: token} to offer next
        self._requests: dict[str, asyncio.Task[dict[str, bool]]] = {}  # batch -> in flight
        self.retimed = 0
        """How many tasks this worker's re-spread requests moved."""
        self.handed_back = 0
        """How many of this worker's late claims went back into a re-spread."""
        self.requests = 0
        """How many re-spread requests this worker sent."""

    async def decide(self, claim: Claim, meta: Mapping[str, Any], now: int) -> Decision:
        """Whether ``claim`` runs now, is acknowledged without running (the skip policy), or
        went back into its scatter's re-spread (the respread policy; its lease is gone and
        the worker must drop it without acknowledging).

        ``now`` is the store's clock as the worker estimates it. A store error during the
        re-spread is logged and the task runs (late).
        """
        plan = plan_from_meta(meta)
        if plan is None:
            return "run"
        late = now - claim.due
        if late <= plan.limit:
            return "run"
        if plan.kind == "skip":
            logger.warning(
                "skipped task %s: it would start %.3fs late, past its scatter's catch-up limit "
                "of %.3fs",
                claim.key,
                late / 1e6,
                plan.limit / 1e6,
            )
            return "skip"
        batch = meta.get("scatter")
        if not isinstance(batch, str):
            return "run"
        self._waiting.setdefault(batch, {})[claim.key] = claim.token
        request = self._requests.get(batch)
        if request is None:
            request = asyncio.create_task(
                self._respread(batch, plan), name=f"strew {self._worker} re-spread {batch}"
            )
            self._requests[batch] = request
        # Shielded: a runner cancelled while it waits must not cancel the request the other
        # runners' claims ride on (the store may already have taken them back).
        handed_back = await asyncio.shield(request)
        return "handed back" if handed_back.get(claim.token, False) else "run"

    async def _respread(self, batch: str, plan: Plan) -> dict[str, bool]:
        """Offer the waiting claims of ``batch`` until none are left; by token, whether each
        was handed back."""
        outcome: dict[str, bool] = {}
        try:
            # One turn of the event loop first: the runners of one claim round reach their
            # decision together, and then go in one request instead of one each.
            await asyncio.sleep(0)
            while self._waiting.get(batch):
                offered = list(self._waiting.pop(batch).items())
                outcome.update(await self._offer(batch, plan, offered))
        finally:
            del self._requests[batch]
        return outcome

    async def _offer(
        self, batch: str, plan: Plan, offered: list[tuple[str, str]]
    ) -> dict[str, bool]:
        self.requests += 1
        try:
            done = await self._store.respread_batch(
                batch, self._clock(), plan.spacing, plan.limit, offered
            )
        except StoreError as error:
            logger.warning(
                "worker %s could not re-spread scatter %s: %s; its %d late task(s) run late",
                self._worker,
                batch,
                error,
                len(offered),
            )
            return {token: False for _, token in offered}
        back = sum(done.handed_back)
        self.retimed += done.moved
        self.handed_back += back
        if done.moved:
            logger.info(
                "worker %s re-spread scatter %s: %d overdue or crowded tasks re-timed %.3fs "
                "apart, %d of them taken back from this worker's %d late claim(s)",
                self._worker,
                batch,
                done.moved,
                plan.spacing / 1e6,
                back,
                len(offered),
            )
        return {token: flag for (_, token), flag in zip(offered, done.handed_back, strict=True)}

    async def settle(self) -> None:
        """Wait for re-spread requests still in flight (a worker stopping)."""
        while self._requests:
            await asyncio.gather(*self._requests.values(), return_exceptions=True)
