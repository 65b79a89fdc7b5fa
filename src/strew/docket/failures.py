"""The record of failed tasks, as a docket's users read and act on it.

Every failed run (a final failure, and a failed attempt that will be retried) leaves, in the
same store step as its acknowledgement, the task's payload and a short *note* under its key
(see `FailureStore`): one entry per key, its latest failure, the newest listed first. The
note is JSON this module writes (`failure_note`) and reads back: the task function, the
error's type and message, the attempt, a short traceback and, for an attempt that will be
retried, when the next one is due. Each part is cut to a bounded size, and nothing about the
error (a ``str()`` that raises, ten megabytes of message, text that is not UTF-8) can make
writing it fail.

`failures`, `retry_failed` and `drop_failed` are `Docket` methods (``docket.failures(...)``).
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from strew.docket.settings import whole_number
from strew.docket.snapshots import TaskSource, readable
from strew.stores.records import Entry, FailedTask, FailureNote, RetryOutcome, ScheduledTask
from strew.task.checks import check_key, check_when
from strew.task.clock import from_micros, micros, to_micros
from strew.task.envelope import CorruptPayload
from strew.task.execution import Execution
from strew.task.results import error_text

MAX_TEXT = 2_000
"""Characters kept of an error's message (the start) and of its type's name."""
MAX_TRACEBACK = 4_000
"""Characters kept of a traceback (its end: the frames nearest the error)."""
MAX_LIMIT = 10_000
"""The most failures one `failures` call returns."""
PAGE = 1_000
"""How many failures `retry_failed` and `drop_failed` read per store call when given none."""
NOTE_VERSION = 1


@dataclass(frozen=True, slots=True)
class FailureRetention:
    """How much of the record of failures a docket keeps: at most ``keep`` entries, none
    older than ``max_age``. Both are applied as each failure is written."""

    keep: int = 10_000
    max_age: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        if not whole_number(self.keep) or self.keep < 1:
            raise ValueError(f"keep must be a positive whole number, got {self.keep!r}")
        if not isinstance(self.max_age, timedelta) or micros(self.max_age) <= 0:
            raise ValueError(f"max_age must be a positive timedelta, got {self.max_age!r}")


def check_retention(value: object) -> FailureRetention:
    if value is None:
        return FailureRetention()
    if not isinstance(value, FailureRetention):
        raise TypeError(f"failure_retention must be a FailureRetention, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Failure:
    """The latest failure of one task key."""

    key: str
    function_name: str
    error_type: str
    message: str
    attempt: int
    failed_at: datetime
    retry_at: datetime | None
    """When the key is scheduled again (a retry on its way, or a new add), None if not."""
    running: bool
    """A run of the key is going on now."""
    traceback: str
    execution: Execution | None
    """The task as it was when it failed; None when its payload cannot be read (or does not
    verify with this docket's signing keys)."""


# -- writing a note (the worker) ------------------------------------------------------------


def _cut(text: str, size: int, *, end: bool = False) -> str:
    if len(text) <= size:
        return text
    return "..." + text[-(size - 3) :] if end else text[: size - 3] + "..."


def _frames(error: BaseException) -> str:
    try:
        return "".join(traceback.format_tb(error.__traceback__))
    except BaseException:
        return ""


def failure_note(
    retention: FailureRetention,
    function_name: str,
    error: BaseException,
    attempt: int,
    next_due: int | None = None,
) -> FailureNote:
    """The note of a failed run, bounded in size; ``next_due`` (store time) when another
    attempt will follow. Never raises for anything ``error`` does."""
    kind = _cut(type(error).__qualname__, MAX_TEXT)
    note = {
        "v": NOTE_VERSION,
        "function": _cut(function_name, MAX_TEXT),
        "error": kind,
        "message": _cut(error_text(error), MAX_TEXT),
        "attempt": attempt,
        "traceback": _cut(_frames(error) + f"{kind}", MAX_TRACEBACK, end=True),
        "next_due": next_due,
    }
    # ensure_ascii: text that is not UTF-8 (lone surrogates) is kept as escapes, never fails.
    data = json.dumps(note, ensure_ascii=True, separators=(",", ":")).encode("ascii")
    return FailureNote(data, retention.keep, micros(retention.max_age))


def _read_note(data: bytes) -> Mapping[str, Any]:
    try:
        note = json.loads(data)
    except ValueError:
        return {}
    return note if isinstance(note, dict) else {}


def _text(note: Mapping[str, Any], name: str) -> str:
    value = note.get(name)
    return value if isinstance(value, str) else ""


# -- reading and acting (the docket) --------------------------------------------------------


class FailureHost(TaskSource, Protocol):
    """What these need of a `Docket`."""

    @property
    def failure_retention(self) -> FailureRetention: ...


def _failure(docket: TaskSource, found: FailedTask) -> Failure:
    note = _read_note(found.note)
    given = note.get("attempt")
    attempt = given if isinstance(given, int) and not isinstance(given, bool) else 0
    execution = (
        readable(docket, ScheduledTask(found.key, found.failed_at, found.payload))
        if found.payload
        else None
    )
    return Failure(
        key=found.key,
        function_name=_text(note, "function") or (execution.function_name if execution else ""),
        error_type=_text(note, "error"),
        message=_text(note, "message"),
        attempt=attempt,
        failed_at=from_micros(found.failed_at),
        retry_at=None if found.retry_at is None else from_micros(found.retry_at),
        running=found.running,
        traceback=_text(note, "traceback"),
        execution=execution,
    )


def _check_limit(limit: object) -> int:
    if not whole_number(limit) or not 1 <= limit <= MAX_LIMIT:  # type: ignore[operator]
        raise ValueError(f"limit must be a whole number from 1 to {MAX_LIMIT:,}, got {limit!r}")
    return limit  # type: ignore[return-value]


def _check_keys(keys: Iterable[str] | None) -> list[str] | None:
    if keys is None:
        return None
    if isinstance(keys, str) or not isinstance(keys, Iterable):
        raise TypeError(f"keys must be a list of task keys or None, got {keys!r}")
    return list(dict.fromkeys(check_key(key) for key in keys))


async def failures(
    self: FailureHost, limit: int = 100, before: datetime | None = None
) -> list[Failure]:
    """The latest failure of each task key that failed recently, newest first, at most
    ``limit`` (1 to 10,000); ``before`` pages back: only failures before it. Each says when
    its key is scheduled again (a retry on its way) and whether it runs now. Cheap on any
    docket: it reads these entries only, never the schedule."""
    _check_limit(limit)
    oldest = await self.store.now() - micros(self.failure_retention.max_age)
    found = await self.store.failures(limit, None if before is None else _micros_of(before))
    return [_failure(self, task) for task in found if task.failed_at >= oldest]


async def failure(self: FailureHost, key: str) -> Failure | None:
    """The recorded failure of ``key`` (its latest run failed, within the retention), or
    None. One lookup, whatever the size of the record."""
    check_key(key)
    found = await self.store.failure(key)
    if found is None:
        return None
    oldest = await self.store.now() - micros(self.failure_retention.max_age)
    return _failure(self, found) if found.failed_at >= oldest else None


def _micros_of(when: datetime) -> int:
    return to_micros(check_when(when, "before"))


async def _recorded(self: FailureHost, wanted: set[str] | None) -> dict[str, FailedTask]:
    """The recorded failures of the keys ``wanted`` (None: every one), newest first: the
    record is read page by page until they are all found, or it ends."""
    found: dict[str, FailedTask] = {}
    seen: set[str] = set()
    before: int | None = None
    while wanted is None or len(found) < len(wanted):
        page = await self.store.failures(PAGE, before)
        fresh = [task for task in page if task.key not in seen]
        seen.update(task.key for task in fresh)
        found.update((t.key, t) for t in fresh if wanted is None or t.key in wanted)
        if len(page) < PAGE or not fresh:
            break
        before = page[-1].failed_at  # no two share a time (see FailureStore)
    return found


def _fresh_payload(self: FailureHost, payload: bytes, due: int) -> bytes:
    """``payload`` written again as a first attempt due at ``due``; as it was when it cannot
    be read (a docket that may not unpickle it, or a payload past reading)."""
    try:
        envelope = self.codec.load(payload, plain=not self.loads_arguments)
    except CorruptPayload:
        return payload
    return self.codec.dump(
        envelope.function_name, envelope.args, envelope.kwargs, due, 1, envelope.meta
    )


async def retry_failed(
    self: FailureHost, keys: Iterable[str] | None = None
) -> dict[str, RetryOutcome]:
    """Run the failed tasks ``keys`` (None: every one recorded) again now, each as a first
    attempt, and forget their failures: each key in one atomic step (1,000 keys per store
    call). A key scheduled again already (a retry on its way) is brought forward to now,
    keeping its attempt count; one that runs now or is held by a strike is left alone.
    Returns what became of each key: ``retried``, ``hastened``, ``busy`` or ``missing`` (no
    failure recorded, or its payload does not verify with this docket's signing keys:
    nothing changed)."""
    checked = _check_keys(keys)
    recorded = await _recorded(self, None if checked is None else set(checked))
    now = await self.store.now()
    outcomes: dict[str, RetryOutcome] = {}
    entries: list[Entry] = []
    for key in list(recorded) if checked is None else checked:
        task = recorded.get(key)
        if task is None or not task.payload:  # unknown, or its payload does not verify
            outcomes[key] = "missing"
            continue
        entries.append(Entry(key, now, _fresh_payload(self, task.payload, now)))
    for start in range(0, len(entries), PAGE):
        chunk = entries[start : start + PAGE]
        done = await self.store.retry_failures(chunk)
        outcomes.update(zip((entry.key for entry in chunk), done, strict=True))
    return outcomes


async def drop_failed(self: FailureHost, keys: Iterable[str] | None = None) -> int:
    """Forget the failures of ``keys`` (None: every one), without running anything. Returns
    how many were forgotten."""
    checked = _check_keys(keys)
    return await self.store.drop_failures(checked)


__all__: Sequence[str] = [
    "Failure",
    "FailureRetention",
    "drop_failed",
    "failure_note",
    "failures",
    "retry_failed",
]
