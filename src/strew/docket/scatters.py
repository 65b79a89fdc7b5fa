"""The scatters of a docket, as an operator reads them: `Docket.scatters` lists them, newest
first, and `Docket.scatter_progress` draws one over its window, planned against started.

A scatter's *descriptor* is what `Agenda.scatter` says of it when it writes (its task, size,
window, mode and plan), stored beside its members for as long as they are kept (see
`ReadModelStore.batches`). It is JSON, never a pickle: a docket reads it without trusting
whoever wrote it, and one it cannot read is listed as of the task ``<unknown>``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from strew.stores.protocol import Store
from strew.stores.views import BatchInfo
from strew.task.clock import from_micros, to_micros

DESCRIPTOR_VERSION = 1
UNKNOWN = "<unknown>"
MAX_SLICES = 10_000
"""The most slices `Docket.scatter_progress` draws."""
PROGRESS_SAMPLE = 10_000
"""Members a progress reads of a larger scatter unless asked to be exact."""
NAMES_KEPT = 5
"""The most task names a descriptor lists (the most called first)."""


def encode_descriptor(
    functions: Iterable[str],
    start: int,
    end: int,
    created: int,
    mode: str,
    plan: dict[str, Any],
) -> bytes:
    """The descriptor `Agenda.scatter` stores with a scatter: ``functions`` are the task
    names of its entries (one per entry), times in microseconds on the store's clock."""
    counts = Counter(functions)
    body = {
        "v": DESCRIPTOR_VERSION,
        "tasks": dict(counts.most_common(NAMES_KEPT)),
        "size": sum(counts.values()),
        "start": start,
        "end": end,
        "created": created,
        "mode": mode,
        "plan": plan,
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True, slots=True)
class ScatterInfo:
    """One scatter as listed: what its descriptor says, and what the store knows of it."""

    id: str
    task: str
    """Its task function's name; several joined by ``, `` (the most called first);
    ``<unknown>`` when the descriptor cannot be read."""
    size: int
    """Entries the scatter planned (keys already scheduled included)."""
    written: int
    """Tasks it put on the schedule."""
    start: datetime
    end: datetime
    created: datetime
    mode: str
    """``atomic`` or ``streamed``."""
    plan: dict[str, Any] = field(default_factory=dict)
    """The plan's parameters (jitter, level, rate, every, seed, catch-up) as given."""
    cancelled: datetime | None = None


def read_descriptor(info: BatchInfo) -> ScatterInfo:
    """The listing as a `ScatterInfo`; never raises (a bad descriptor reads as unknown)."""
    created = from_micros(info.created)
    cancelled = None if info.cancelled is None else from_micros(info.cancelled)
    try:
        body = json.loads(info.descriptor)
        tasks = body["tasks"]
        names = sorted(tasks, key=lambda name: -int(tasks[name]))
        task = ", ".join(str(name) for name in names)
        start, end = from_micros(int(body["start"])), from_micros(int(body["end"]))
        return ScatterInfo(
            info.batch,
            task or UNKNOWN,
            int(body["size"]),
            info.written,
            start,
            end,
            from_micros(int(body["created"])),
            str(body["mode"]),
            dict(body.get("plan") or {}),
            cancelled,
        )
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        return ScatterInfo(
            info.batch,
            UNKNOWN,
            info.written,
            info.written,
            created,
            created,
            created,
            UNKNOWN,
            {},
            cancelled,
        )


@dataclass(frozen=True, slots=True)
class ScatterProgress:
    """One scatter over its window: per slice, the tasks planned and those started."""

    scatter: ScatterInfo
    slice_starts: list[datetime]
    """When each slice begins; each is ``slice_width`` long."""
    slice_width: timedelta
    planned: list[int]
    waiting: list[int]
    """Still scheduled at the time the scatter gave them."""
    started: list[int]
    """Planned minus waiting (at least 0): started, running, done, or cancelled one by
    one; a cancelled scatter has none left waiting."""
    expected_end: datetime | None
    """When the last waiting task is due (the end of the last slice holding one), None when
    nothing waits."""
    exact: bool = True
    """False when estimated from a sample of a large scatter's tasks (see
    `Docket.scatter_progress`)."""

    @property
    def waiting_total(self) -> int:
        return sum(self.waiting)

    @property
    def started_total(self) -> int:
        return sum(self.started)


def check_slices(slices: object) -> int:
    if isinstance(slices, bool) or not isinstance(slices, int) or not 1 <= slices <= MAX_SLICES:
        raise ValueError(f"slices must be a whole number from 1 to {MAX_SLICES}, got {slices!r}")
    return slices


def check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"limit must be a positive whole number, got {limit!r}")
    return limit


def check_id(scatter_id: object) -> str:
    if not isinstance(scatter_id, str) or not scatter_id:
        raise ValueError(f"scatter_id must be a non-empty string, got {scatter_id!r}")
    return scatter_id


async def list_scatters(store: Store, limit: int) -> list[ScatterInfo]:
    return [read_descriptor(info) for info in await store.batches(check_limit(limit))]


async def find_scatter(store: Store, scatter_id: str) -> ScatterInfo | None:
    """The listed scatter ``scatter_id``: one lookup, however many scatters are listed."""
    info = await store.batch(scatter_id)
    return None if info is None else read_descriptor(info)


async def progress_of(
    store: Store, scatter: str | ScatterInfo, slices: int, exact: bool = False
) -> ScatterProgress | None:
    check_slices(slices)
    if not isinstance(scatter, ScatterInfo):
        found = await find_scatter(store, check_id(scatter))
        if found is None:
            return None
        scatter = found
    scatter_id = scatter.id
    start, end = to_micros(scatter.start), to_micros(scatter.end)
    if end <= start:  # one task (or none): a window one microsecond wide holds it
        end = start + 1
    sample = 0 if exact else PROGRESS_SAMPLE
    counted = await store.batch_progress(scatter_id, start, end, slices, sample)
    if counted is None:
        return None
    drawn = progress_from(scatter, start, end, counted.planned, counted.waiting)
    return drawn if counted.exact else replace(drawn, exact=False)


def progress_from(
    scatter: ScatterInfo, start: int, end: int, planned: Sequence[int], waiting: Sequence[int]
) -> ScatterProgress:
    slices = len(planned)
    width = (end - start) / slices
    edges = [start + math.floor(width * i) for i in range(slices + 1)]
    last = max((i for i, n in enumerate(waiting) if n), default=None)
    return ScatterProgress(
        scatter,
        [from_micros(edge) for edge in edges[:-1]],
        timedelta(microseconds=width),
        list(planned),
        list(waiting),
        [max(p - w, 0) for p, w in zip(planned, waiting, strict=True)],
        None if last is None else from_micros(edges[last + 1]),
    )
