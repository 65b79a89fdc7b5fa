"""Catch-up after an outage: what a scatter's overdue tasks do when workers come back.

A scatter spreads its tasks at a planned rate. If every worker is down for a while, the tasks
planned for that while pile up; when workers return, running them all at once is the very
flood the scatter was meant to prevent. Each scatter chooses its policy:

* `CatchUp.run_late()` (the default): overdue tasks run as soon as a worker can take them.
* `CatchUp.respread(after=...)`: the first worker that starts one of the scatter's tasks more
  than ``after`` late re-times what is left of the scatter in one atomic store step
  (`Store.respread_batch`): the overdue part is spread again at the planned rate from now,
  and the tail is pushed back only as much as that needs.
* `CatchUp.skip(older_than=...)`: a task that would start more than ``older_than`` late is
  acknowledged without running, counted and logged.

The policy travels in the task's envelope ``meta`` as a short tuple, and only for scatters
that ask for something other than the default.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from .stores.base import Claim, Store, StoreError
from .timing import check_positive, micros

logger = logging.getLogger("strew.worker")

META_KEY = "catch_up"
"""The envelope ``meta`` entry holding a scatter's catch-up policy."""

Kind = Literal["run_late", "respread", "skip"]


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
    spacing = round(spacing / policy.speed)
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


class CatchUpKeeper:
    """One worker's side of catch-up: decides, just before a task starts, whether it runs,
    and asks the store to re-spread a scatter that fell behind.

    Re-spreads are coalesced: while one is in flight for a scatter, the worker's other late
    tasks of that scatter wait for it instead of asking again, and after one returns the
    worker does not ask again for that scatter within ``after``. The store itself does nothing
    unless something is overdue, so workers that ask at the same moment are harmless.
    """

    def __init__(self, store: Store, worker: str) -> None:
        self._store = store
        self._worker = worker
        self._in_flight: dict[str, asyncio.Future[int]] = {}
        self._asked: dict[str, float] = {}  # batch -> monotonic time the last re-spread ended
        self.retimed = 0
        """How many tasks this worker's re-spread requests moved."""

    async def should_skip(self, claim: Claim, meta: Mapping[str, Any], now: int) -> bool:
        """True when ``claim`` must be acknowledged without running (the skip policy).

        ``now`` is the store's clock as the worker estimates it. May re-spread the task's
        scatter first (the respread policy); a store error there is logged and the task runs.
        """
        plan = plan_from_meta(meta)
        if plan is None:
            return False
        late = now - claim.due
        if late <= plan.limit:
            return False
        if plan.kind == "skip":
            logger.warning(
                "skipped task %s: it would start %.3fs late, past its scatter's catch-up limit "
                "of %.3fs",
                claim.key,
                late / 1e6,
                plan.limit / 1e6,
            )
            return True
        batch = meta.get("scatter")
        if isinstance(batch, str):
            await self._respread(batch, now, plan)
        return False

    async def _respread(self, batch: str, now: int, plan: Plan) -> None:
        pending = self._in_flight.get(batch)
        if pending is not None:
            await asyncio.shield(pending)
            return
        asked = self._asked.get(batch)
        if asked is not None and time.monotonic() - asked < plan.limit / 1e6:
            return
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._in_flight[batch] = future
        moved = 0
        try:
            moved = await self._store.respread_batch(batch, now, plan.spacing, plan.limit)
        except StoreError as error:
            logger.warning(
                "worker %s could not re-spread scatter %s: %s; its late tasks run late",
                self._worker,
                batch,
                error,
            )
        finally:
            del self._in_flight[batch]
            self._remember(batch)
            future.set_result(moved)
        if moved:
            self.retimed += moved
            logger.info(
                "worker %s re-spread scatter %s: %d overdue or crowded tasks re-timed %.3fs apart",
                self._worker,
                batch,
                moved,
                plan.spacing / 1e6,
            )

    def _remember(self, batch: str) -> None:
        now = time.monotonic()
        self._asked[batch] = now
        if len(self._asked) > 1000:  # forget scatters not seen for a while
            for old in [b for b, at in self._asked.items() if now - at > 3600]:
                del self._asked[old]
