"""`Agenda`: collect a batch of task calls, then scatter them evenly over a window of time.

Planning (when each task goes) is a pure function of the entry count, the window, the jitter,
a seed and, for a levelled scatter, the load already scheduled; `Agenda.plan` shows it without
writing anything. Writing (agenda/write.py) goes through the store's batch operations: by
default every task is *staged* where no worker reads it and then *committed* in one atomic
step, so a scatter that raises has scheduled nothing.
"""

from __future__ import annotations

import numbers
import random
import secrets
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, ParamSpec, overload

from strew.agenda.build import Planned
from strew.agenda.catch_up import CatchUp, catch_up_meta, check_catch_up
from strew.agenda.limits import RateLimitWarning, limit_rate, overruns
from strew.agenda.plan import (
    Seed,
    check_seed,
    jitter_micros,
    level_slices,
    plan_offsets,
    window_length,
)
from strew.agenda.write import Progress, write_atomically, write_streamed
from strew.agenda.write import ScatterError as ScatterError
from strew.docket.scatters import encode_descriptor
from strew.signals import metrics as instrumentation
from strew.signals import producers
from strew.signals.tracing import trace_meta
from strew.task.checks import check_key, check_when
from strew.task.clock import LATEST, from_micros, micros, to_micros, utc_now
from strew.task.execution import Disposition, Execution, TaskFunction
from strew.task.signatures import check_call

if TYPE_CHECKING:
    from strew.docket.docket import Docket

P = ParamSpec("P")

DEFAULT_CHUNK = 5_000


class AgendaEntry(NamedTuple):
    """One call recorded on an agenda (unpacks like a 4-tuple)."""

    function: TaskFunction | str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    key: str | None


class Scattered(list[Execution]):
    """What `Agenda.scatter` returns: one execution per entry, in order, plus the scatter's
    id (None for an empty agenda, which writes nothing)."""

    def __init__(self, executions: Sequence[Execution] = (), scatter_id: str | None = None):
        super().__init__(executions)
        self.scatter_id = scatter_id


def _end(start: datetime, window: int) -> datetime:
    try:
        end = start + timedelta(microseconds=window)
    except OverflowError:
        end = None
    if end is None or end >= LATEST:
        # The window may be too long even to show as a timedelta (rate=1e-300): say it in days.
        raise ValueError(
            f"the window set by over=, rate= or every= ({window / 86_400_000_000:.6g} days "
            f"from the start, {start}) ends past "
            f"{LATEST:%Y-%m-%d}, the last due time a store keeps exactly"
        )
    return end


def check_existing(existing: object) -> list[int]:
    """The load per slice given to `Agenda.plan`: whole counts, or an error naming it."""
    if isinstance(existing, str | bytes) or not isinstance(existing, Sequence):
        raise TypeError(f"existing must be a sequence of task counts, got {existing!r}")
    for count in existing:
        if isinstance(count, bool) or not isinstance(count, numbers.Integral):
            raise TypeError(f"existing must hold whole task counts, got {count!r} in it")
    return [int(count) for count in existing]


def check_scatter_id(scatter_id: object) -> str:
    if not isinstance(scatter_id, str):
        raise TypeError(f"scatter_id must be a string, got {scatter_id!r}")
    if not scatter_id or len(scatter_id) > 200 or any(c in scatter_id for c in "{}*?[]\n\r\0"):
        raise ValueError(
            f"scatter_id must be 1 to 200 characters without braces, globs or line breaks, "
            f"got {scatter_id!r}"
        )
    return scatter_id


# -- the agenda ------------------------------------------------------------------------------


class Agenda:
    """A batch of task calls to scatter over a window of time.

    ``agenda.add(fn, key=...)(*args, **kwargs)`` records a call; ``await agenda.scatter(docket,
    over=timedelta(minutes=10))`` schedules them all, evenly spaced. An agenda can be scattered
    again (and again) and cleared; it never holds store state itself.
    """

    stage_ttl = timedelta(minutes=10)
    """How long a staged, uncommitted scatter survives after its last chunk was written."""

    members_grace = timedelta(hours=1)
    """How long after its window ends a scatter can still be cancelled by id."""

    def __init__(self) -> None:
        self._entries: list[AgendaEntry] = []

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[AgendaEntry]:
        return iter(list(self._entries))

    def __repr__(self) -> str:
        return f"Agenda({len(self._entries)} entries)"

    def clear(self) -> None:
        self._entries.clear()

    @overload
    def add(
        self,
        function: Callable[P, Awaitable[Any]] | Callable[P, Any],
        key: str | None = None,
    ) -> Callable[P, None]: ...

    @overload
    def add(self, function: str, key: str | None = None) -> Callable[..., None]: ...

    def add(self, function: TaskFunction | str, key: str | None = None) -> Callable[..., None]:
        """Record a call: ``agenda.add(fn, key="a")(*args, **kwargs)``.

        ``function`` is a task function or the name of one registered on the docket it will
        be scattered to. ``key`` makes the scheduled task idempotent; a ``key=`` passed to the
        second call is an ordinary argument of the task.
        """
        if not isinstance(function, str) and not callable(function):
            raise TypeError(f"function must be a callable or a task name, got {function!r}")
        if isinstance(function, str) and not function:
            raise ValueError("function must not be an empty task name, got ''")
        if key is not None:
            check_key(key)

        def record(*args: Any, **kwargs: Any) -> None:
            if not isinstance(function, str):  # a name is checked once it is resolved
                check_call(function, getattr(function, "__name__", repr(function)), args, kwargs)
            self._entries.append(AgendaEntry(function, args, kwargs, key))

        return record

    # -- planning ---------------------------------------------------------------------------

    def plan(
        self,
        over: timedelta | None = None,
        start: datetime | None = None,
        jitter: timedelta | None = None,
        *,
        seed: Seed = None,
        rate: float | None = None,
        every: timedelta | None = None,
        existing: Sequence[int] | None = None,
    ) -> list[datetime]:
        """When each entry would be scheduled, in entry order, without writing anything.

        The same arguments and ``seed`` give the same times as `scatter`. ``existing`` is
        the load already scheduled in equal slices of the window (what `scatter(level=True)`
        reads from the store); given it, the plan is levelled around that load.
        ``start`` defaults to now on this machine's clock.
        """
        start, window, jitter_us, seed = self._check_plan(over, start, jitter, seed, rate, every)
        if existing is not None:
            existing = check_existing(existing)
            if any(n < 0 for n in existing):
                raise ValueError(f"existing must hold non-negative counts, got {existing!r}")
        return _times(start, self._offsets(window, jitter_us, seed, existing))

    def _check_plan(
        self,
        over: object,
        start: object,
        jitter: object,
        seed: object,
        rate: object,
        every: object,
    ) -> tuple[datetime, int, int, Seed]:
        window = window_length(len(self._entries), over, rate, every)  # type: ignore[arg-type]
        jitter_us = jitter_micros(jitter)
        seed = check_seed(seed)
        begin = utc_now() if start is None else check_when(start, "start")
        _end(begin, window)
        return begin, window, jitter_us, seed

    def _offsets(
        self, window: int, jitter: int, seed: Seed, existing: Sequence[int] | None
    ) -> list[int]:
        return plan_offsets(len(self._entries), window, jitter, random.Random(seed), existing)

    # -- scattering -------------------------------------------------------------------------

    @producers.scattering
    async def scatter(
        self,
        docket: Docket,
        over: timedelta | None = None,
        start: datetime | None = None,
        jitter: timedelta | None = None,
        *,
        seed: Seed = None,
        atomic: bool = True,
        level: bool = False,
        rate: float | Literal["limit"] | None = None,
        every: timedelta | None = None,
        on_progress: Progress | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        catch_up: CatchUp | None = None,
        over_limit: Literal["warn", "refuse", "ignore"] = "warn",
    ) -> Scattered:
        """Schedule every entry on ``docket``, spread over a window; one `Execution` per
        entry, in entry order, each with its disposition.

        The window is ``over`` long, or as long as the entries need at ``rate`` per second or
        one per ``every`` (exactly one of the three). It starts at ``start`` (default: now
        on the store's clock). With ``level=True`` the batch is placed around what is already
        scheduled in the window so that the combined load is as flat as possible.

        Every argument is checked, every task name resolved and every call serialised before
        anything is written. ``atomic=True`` (the default) stages the batch in chunks of
        ``chunk_size`` where no worker sees it and commits it in one step: if this raises,
        none of its tasks was scheduled. ``atomic=False`` writes chunk by chunk and raises
        `ScatterError` carrying what was already scheduled. ``on_progress(done, total)``
        (plain or async) is called after each chunk; if it raises, the scatter fails.
        ``catch_up`` says what tasks started late after an outage do (see `CatchUp`; the
        default runs them late, at once).

        Tasks with a `RateLimit`: ``rate="limit"`` scatters at the rate their (per-task)
        limit allows. A plan that puts more starts in some window than a rate limit lets
        through (the excess would be put back, or dropped, by the limit) gets a
        `RateLimitWarning` (``over_limit="warn"``), a ValueError before anything is written
        (``"refuse"``), or nothing (``"ignore"``).
        """
        check_catch_up(catch_up)
        if over_limit not in ("warn", "refuse", "ignore"):
            raise ValueError(f"over_limit must be 'warn', 'refuse' or 'ignore', got {over_limit!r}")
        if rate == "limit":
            self._check_names(docket)
            rate = limit_rate(self._entries, docket.tasks) if self._entries else 1.0
        window, jitter_us, seed, chunk_size = self._check_scatter(
            docket, over, start, jitter, seed, atomic, level, rate, every, on_progress, chunk_size
        )
        if not self._entries:
            return Scattered()
        self._check_names(docket)
        store = docket.store
        now = await store.now()
        begin = from_micros(now) if start is None else start
        end = _end(begin, window)
        existing = None
        if level and window > 0:
            slices = level_slices(len(self._entries), window)
            existing = await store.histogram(to_micros(begin), to_micros(end), slices)

        # 96 random bits in 16 characters: every payload of the scatter carries its id, so a
        # short one saves ~20 bytes of Redis memory per task against a UUID.
        scatter_id = secrets.token_urlsafe(12)
        offsets = self._offsets(window, jitter_us, seed, existing)
        if over_limit != "ignore":
            found = overruns(self._entries, docket.tasks, to_micros(begin), offsets)
            if found:
                message = (
                    "this scatter plans more starts than a rate limit lets through: "
                    + "; ".join(overrun.describe() for overrun in found[:3])
                    + (f"; and {len(found) - 3:,} more" if len(found) > 3 else "")
                    + ". The excess would be put back by the limit; follow it with "
                    "rate='limit', or widen over="
                )
                if over_limit == "refuse":
                    raise ValueError(message)
                warnings.warn(message, RateLimitWarning, stacklevel=3)
        meta: dict[str, Any] = {
            "scatter": scatter_id,
            **catch_up_meta(catch_up, len(self._entries), window),
            **trace_meta(),
        }
        plan = Planned(docket, self._entries, begin, to_micros(begin), offsets, meta)

        members_ttl = max(to_micros(end) - now, 0) + micros(self.members_grace)
        stage_ttl = micros(self.stage_ttl)

        settings = {
            "jitter": jitter_us,
            "level": level,
            "rate": rate,
            "every": None if every is None else micros(every),
            "seed": seed,
            "catch_up": None if catch_up is None else repr(catch_up),
        }

        async def write(part: Planned) -> list[Execution]:
            mode = "atomic" if atomic else "streamed"
            names = (name for _, name in part.targets)
            about = encode_descriptor(names, to_micros(begin), to_micros(end), now, mode, settings)
            if atomic:
                return await write_atomically(
                    store, scatter_id, part, members_ttl, on_progress, chunk_size, stage_ttl, about
                )
            return await write_streamed(
                store, scatter_id, part, members_ttl, on_progress, chunk_size, about
            )

        rules = await docket.strike_book.current()
        stricken = plan.stricken(docket.strike_book, rules) if rules else []
        if not any(stricken):
            executions = await write(plan)
            return Scattered(executions, scatter_id)
        # Some calls are stricken: write the others, and report the stricken ones STRUCK.
        kept = [i for i, blocked in enumerate(stricken) if not blocked]
        written: list[Execution] = []
        if kept:
            sub = plan.subset(kept)
            written = await write(sub)
        everything = plan.executions(0, len(plan))
        for execution, blocked in zip(everything, stricken, strict=True):
            if blocked:
                execution.disposition = Disposition.STRUCK
                instrumentation.record_stricken(docket.name, execution.function_name)
        for index, execution in zip(kept, written, strict=True):
            everything[index] = execution
        return Scattered(everything, scatter_id)

    @staticmethod
    async def cancel(docket: Docket, scatter_id: str) -> int:
        """Cancel every task of the scatter ``scatter_id`` that has not started: remove it
        from the schedule (running tasks finish). A key scheduled again since at another time
        is left alone. Works until the scatter's window ended `members_grace` ago. Returns how
        many tasks were removed."""
        with producers.cancelling(docket.name, scatter_id, scatter=True) as removed:
            return removed(await docket.store.cancel_batch(check_scatter_id(scatter_id)))

    def _check_scatter(
        self,
        docket: object,
        over: object,
        start: object,
        jitter: object,
        seed: object,
        atomic: object,
        level: object,
        rate: object,
        every: object,
        on_progress: object,
        chunk_size: object,
    ) -> tuple[int, int, Seed, int]:
        from strew.docket.docket import Docket

        if not isinstance(docket, Docket):
            raise TypeError(f"docket must be a Docket, got {docket!r}")
        window = window_length(len(self._entries), over, rate, every)  # type: ignore[arg-type]
        jitter_us = jitter_micros(jitter)
        checked_seed = check_seed(seed)
        if start is not None:
            _end(check_when(start, "start"), window)
        for name, flag in (("atomic", atomic), ("level", level)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {flag!r}")
        if on_progress is not None and not callable(on_progress):
            raise TypeError(f"on_progress must be callable(done, total), got {on_progress!r}")
        if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
            raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        return window, jitter_us, checked_seed, chunk_size

    def _check_names(self, docket: Docket) -> None:
        # Every name is resolved before any function is registered, so a KeyError leaves the
        # docket exactly as it was; a name that a function on this agenda brings along counts.
        known = set(docket.tasks)
        known.update(
            getattr(entry.function, "__name__", "")
            for entry in self._entries
            if not isinstance(entry.function, str)
        )
        for index, entry in enumerate(self._entries):
            if isinstance(entry.function, str) and entry.function not in known:
                registered = ", ".join(sorted(docket.tasks)) or "none"
                raise KeyError(
                    f"agenda entry {index}: unknown task name {entry.function!r} "
                    f"(registered: {registered})"
                )


def _times(start: datetime, offsets: Sequence[int]) -> list[datetime]:
    return [start + timedelta(microseconds=offset) for offset in offsets]
