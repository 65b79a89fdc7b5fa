"""Results and readable state: what a task key is doing, or what it left when it finished.

Nothing is written when a task is added. Whether a key is *scheduled* or *running* is read
straight from the schedule and the leases; only when a run ends (or a scheduled task is
cancelled) does the worker leave a **record** beside the acknowledgement, in the same atomic
store step: the final state, the finish time, and the pickled return value or exception. A
record is kept for the docket's ``execution_ttl`` (15 minutes by default; zero keeps none).

`Store.task_state` reads the schedule, the lease, the record and the progress of one key in
one atomic step, so a reader never sees a task in between two states.

The record is a plain pickle of a small tuple whose value (or exception) is itself a
cloudpickle blob: the outer tuple always reads back, while the value may not (its class may be
missing in the reading process); that case becomes a `TaskFailed` naming the original type.
"""

from __future__ import annotations

import contextlib
import enum
import json as json_module
import pickle
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import cloudpickle

from strew.stores.protocol import ResultStore
from strew.stores.records import ProgressState, Record, TaskState
from strew.task.clock import from_micros, micros, to_micros
from strew.task.codec import JSON_MARK, json_problem
from strew.task.pickles import plain_loads

RECORD_VERSION = 1
PROGRESS_FLOOR = timedelta(hours=1)
"""Progress is kept at least this long after its last update, even with a short
``execution_ttl``: a long task that reports rarely must not lose it while it runs."""
MAX_RESULT_SIZE = 16 * 1024 * 1024
"""The default of `Docket`'s ``max_result_size``: the most bytes a pickled return value may
take to be kept as a result (Redis refuses any single value over its ``proto-max-bulk-len``,
512 MB by default, and a large one costs every reader a round trip of that size)."""


class ExecutionState(enum.Enum):
    """Where a task key stands, as any process can read it."""

    SCHEDULED = "scheduled"
    """On the schedule, due in the future (or held by a strike, waiting for a restore)."""
    QUEUED = "queued"
    """On the schedule and due: waiting for a worker to claim it."""
    RUNNING = "running"
    """Held by a worker under a lease."""
    COMPLETED = "completed"
    """Its last run returned; the result is readable for ``execution_ttl``."""
    FAILED = "failed"
    """Its last run raised and no retry is left; the exception is readable."""
    CANCELLED = "cancelled"
    """`Docket.cancel` removed it from the schedule, or stopped its run."""

    @property
    def final(self) -> bool:
        return self in (ExecutionState.COMPLETED, ExecutionState.FAILED, ExecutionState.CANCELLED)


class ResultError(Exception):
    """A task's result cannot be given back: see the subclasses."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class ResultUnavailable(ResultError, LookupError):
    """Nothing is known about the key: it never existed, its record expired, or the docket
    keeps no records (``execution_ttl`` of zero)."""


class TaskCancelled(ResultError):
    """The task was cancelled before it could finish."""


class ResultTooLarge(ValueError):
    """A task's return value was too large to keep: over the docket's ``max_result_size``, or
    refused by the store for its size. The run that returned it counts as failed, once (it is
    never run again for it), and its `get_result` raises this."""


ExecutionCancelled = TaskCancelled
"""pydocket's name for `TaskCancelled`, so ``except ExecutionCancelled`` keeps working."""


class TaskFailed(ResultError):
    """The task raised an exception that cannot be re-raised here as its own type (it could
    not be pickled by the worker, or not unpickled in this process). Its type name, text and
    the worker's traceback are kept."""

    def __init__(self, key: str, type_name: str, text: str, traceback_text: str) -> None:
        super().__init__(key, f"task {key!r} failed with {type_name}: {text}")
        self.type_name = type_name
        self.text = text
        self.traceback_text = traceback_text


@dataclass(frozen=True, slots=True)
class ExecutionProgress:
    """What a running task reported through its `Progress` dependency."""

    current: int
    total: int | None
    message: str | None
    updated_at: datetime

    @property
    def fraction(self) -> float | None:
        """``current / total`` clamped to [0, 1]; None without a positive total."""
        if not self.total or self.total <= 0:
            return None
        return min(max(self.current / self.total, 0.0), 1.0)


@dataclass(frozen=True, slots=True)
class Finished:
    """A record, read back."""

    state: ExecutionState
    finished_at: datetime
    function_name: str | None
    blob: bytes | None
    """cloudpickle of the return value (completed) or the exception (failed); in a JSON
    record, the return value as JSON."""
    type_name: str
    text: str
    traceback_text: str
    json: bool = False
    """A JSON docket wrote it (see task/codec.py): ``blob`` is JSON, never a pickle."""


def _encode(
    state: ExecutionState,
    finished_at: int,
    function_name: str | None,
    blob: bytes | None,
    type_name: str = "",
    text: str = "",
    traceback_text: str = "",
    *,
    json: bool = False,
) -> bytes:
    if json:
        fields = {
            "v": RECORD_VERSION,
            "state": state.value,
            "finished_at": finished_at,
            "function": function_name,
            "value": None if blob is None else blob.decode(),
            "type": type_name,
            "text": text,
            "traceback": traceback_text,
        }
        return JSON_MARK + json_module.dumps(fields, separators=(",", ":")).encode()
    body = (RECORD_VERSION, state.value, finished_at, function_name, blob, type_name, text)
    return pickle.dumps((*body, traceback_text), protocol=pickle.HIGHEST_PROTOCOL)


def decode_record(data: bytes, *, json_only: bool = False) -> Finished | None:
    """A stored record; None when it is unreadable (another version wrote it, or a pickle
    record where a JSON docket reads JSON only). The record itself is read as plain values
    (it holds nothing else), so reading one never runs code; its ``blob`` is unpickled only
    by `outcome`, for the caller that asks for the value."""
    try:
        if data.startswith(JSON_MARK):
            fields = json_module.loads(data[len(JSON_MARK) :])
            if fields["v"] != RECORD_VERSION:
                return None
            value = fields["value"]
            return Finished(
                ExecutionState(fields["state"]),
                from_micros(int(fields["finished_at"])),
                fields["function"],
                None if value is None else str(value).encode(),
                str(fields["type"]),
                str(fields["text"]),
                str(fields["traceback"]),
                json=True,
            )
        if json_only:
            return None
        version, state, finished_at, name, blob, type_name, text, tb = plain_loads(data)
        if version != RECORD_VERSION:
            return None
        return Finished(
            ExecutionState(state), from_micros(int(finished_at)), name, blob, type_name, text, tb
        )
    except Exception:
        return None


def _keep(ttl: timedelta, data: bytes) -> Record | None:
    kept = micros(ttl)
    return Record(data, kept) if kept > 0 else None


# Exact types only (a subclass may live in a module the reader lacks): most tasks return None
# or a scalar, and plain pickle does those several times faster than cloudpickle.
_SCALARS = frozenset({type(None), bool, int, float, str, bytes})


def _dump_value(value: Any, json: bool) -> bytes:
    if json:
        problem = json_problem(value)
        if problem:
            raise TypeError(f"{problem} (the docket's serializer is 'json')")
        return json_module.dumps(value, separators=(",", ":"), allow_nan=False).encode()
    if type(value) in _SCALARS:
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return bytes(cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def completed_record(
    ttl: timedelta,
    function_name: str,
    value: Any,
    finished_at: int,
    max_size: int = MAX_RESULT_SIZE,
    *,
    json: bool = False,
) -> Record | None:
    """The record of a run of ``function_name`` that returned ``value``, kept for ``ttl`` (the
    docket's execution_ttl). A value that cannot be pickled makes a *failed* record saying so:
    the task ran, but nobody could ever read what it returned. Raises `ResultTooLarge` when
    the pickled value is over ``max_size`` bytes (the docket's max_result_size): the caller
    then fails the run with it."""
    if micros(ttl) <= 0:
        return None  # do not even pickle the value
    try:
        blob = _dump_value(value, json)
    except Exception as error:
        text = (
            f"the return value of task {function_name!r} cannot be serialised: "
            f"{type(error).__name__}: {error}"
        )
        data = _encode(
            ExecutionState.FAILED, finished_at, function_name, None, "TypeError", text, json=json
        )
        return _keep(ttl, data)
    if len(blob) > max_size:
        raise ResultTooLarge(
            f"the return value of task {function_name!r} was {len(blob):,} bytes "
            f"{'as JSON' if json else 'pickled'}, over the docket's max_result_size of "
            f"{max_size:,} bytes; it was not kept"
        )
    data = _encode(ExecutionState.COMPLETED, finished_at, function_name, blob, json=json)
    return _keep(ttl, data)


def error_text(error: BaseException) -> str:
    """What ``error`` says: its ``str()``, its ``repr()`` when that raises, and a placeholder
    naming its type when both do (an error's own methods may raise anything: a worker
    must still record it)."""
    for describe in (str, repr):
        try:
            text = describe(error)
        except BaseException:  # see above
            continue
        if isinstance(text, str):
            return text
    return f"<{type(error).__qualname__} whose str() and repr() raised>"


def failed_record(
    ttl: timedelta,
    function_name: str,
    error: BaseException,
    finished_at: int,
    *,
    json: bool = False,
) -> Record | None:
    """The record of a run that raised ``error`` (with no retry left), kept for ``ttl``. A JSON
    record keeps the error's type, text and traceback, not the exception itself."""
    if micros(ttl) <= 0:
        return None
    blob: bytes | None = None  # the type name, text and traceback still say what happened
    if not json:
        with contextlib.suppress(Exception):
            blob = bytes(cloudpickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))
    tb = "".join(traceback.format_exception(error))
    data = _encode(
        ExecutionState.FAILED,
        finished_at,
        function_name,
        blob,
        type(error).__qualname__,
        error_text(error),
        tb,
        json=json,
    )
    return _keep(ttl, data)


def refused_record(record: Record, refusal: str) -> Record:
    """A failed record to keep instead of ``record``, which the store refused for its size
    (``refusal`` says how): `get_result` raises `ResultTooLarge` saying so."""
    json = record.data.startswith(JSON_MARK)
    finished = decode_record(record.data)
    name = None if finished is None else finished.function_name
    error = ResultTooLarge(
        f"the result of task {name!r} was {len(record.data):,} bytes, which the store "
        f"refused to keep ({refusal}); lower what the task returns, or the docket's "
        "max_result_size below the store's limit"
    )
    at = to_micros(finished.finished_at) if finished is not None else 0
    blob = None if json else bytes(cloudpickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL))
    text = str(error)
    data = _encode(ExecutionState.FAILED, at, name, blob, "ResultTooLarge", text, text, json=json)
    return Record(data, record.ttl)


def cancelled_record(
    ttl: timedelta, function_name: str | None, finished_at: int, *, json: bool = False
) -> Record | None:
    """The record of a task cancelled while scheduled or running, kept for ``ttl``."""
    data = _encode(ExecutionState.CANCELLED, finished_at, function_name, None, json=json)
    return _keep(ttl, data)


def progress_ttl(execution_ttl: timedelta) -> int:
    """How long (microseconds) progress is kept after each update, for a docket whose
    records are kept for ``execution_ttl``."""
    return micros(max(execution_ttl, PROGRESS_FLOOR))


def state_of(
    raw: TaskState, *, json_only: bool = False
) -> tuple[ExecutionState | None, Finished | None]:
    """The state ``raw`` shows, and the record when that state comes from one.

    A run in progress wins over a newer schedule of the same key (a `replace` waiting for it),
    and both win over a record: the record is what an *earlier* run left. A scheduled task is
    `QUEUED` once it is due (by the store's clock, read in the same step), `SCHEDULED` before.
    A task a strike holds is `SCHEDULED`: it waits, for a `restore` rather than for a worker,
    and runs once one comes (a newer schedule of its key, which a restore keeps instead, wins).
    """
    if raw.running is not None:
        return ExecutionState.RUNNING, None
    if raw.scheduled is not None:
        due = raw.scheduled.due <= raw.now
        return (ExecutionState.QUEUED if due else ExecutionState.SCHEDULED), None
    if raw.held is not None:
        return ExecutionState.SCHEDULED, None
    if raw.record is not None:
        finished = decode_record(raw.record, json_only=json_only)
        if finished is not None:
            return finished.state, finished
    return None, None


def progress_of(raw: ProgressState | None) -> ExecutionProgress | None:
    if raw is None:
        return None
    return ExecutionProgress(raw.current, raw.total, raw.message, from_micros(raw.updated))


@dataclass(frozen=True, slots=True)
class Reading:
    """What one read of a key's state found (`Execution` keeps it as its attributes)."""

    state: ExecutionState | None
    progress: ExecutionProgress | None
    finished: Finished | None
    worker: str | None = None
    """The worker running it (None unless `RUNNING`)."""
    started_at: datetime | None = None
    """When the claim running it was made (None unless `RUNNING`, or not recorded)."""
    due: datetime | None = None
    """When it is due (None unless `SCHEDULED` or `QUEUED`)."""

    @property
    def error(self) -> str | None:
        """pydocket's ``execution.error``: ``"TypeName: message"`` for a failed task."""
        finished = self.finished
        if finished is None or finished.state is not ExecutionState.FAILED:
            return None
        # The record keeps the qualified name; pydocket shows the class's own name.
        return f"{finished.type_name.rsplit('.', 1)[-1]}: {finished.text}"


def reading_of(raw: TaskState, *, json_only: bool = False) -> Reading:
    """What ``raw`` (one atomic read of a key) says, as readers see it."""
    state, finished = state_of(raw, json_only=json_only)
    progress = progress_of(raw.progress)
    if state is ExecutionState.RUNNING and raw.running is not None:
        started = raw.running.started
        at = None if started is None else from_micros(started)
        return Reading(state, progress, finished, raw.running.worker, at)
    if raw.scheduled is not None or raw.held is not None:
        waiting = raw.scheduled or raw.held
        assert waiting is not None
        return Reading(state, progress, finished, due=from_micros(waiting.due))
    return Reading(state, progress, finished)


Seen = Callable[[Reading], None]
"""Told what each read of a task's state found."""


async def read_state(
    store: ResultStore, key: str, seen: Seen, json_only: bool = False
) -> ExecutionState | None:
    """Read ``key``'s state once, tell ``seen``, and return the state (None: nothing known)."""
    reading = reading_of(await store.task_state(key), json_only=json_only)
    seen(reading)
    return reading.state


def outcome(key: str, state: ExecutionState | None, finished: Finished | None) -> Any:
    """The return value a final record holds, or raise what it says."""
    if state is None or finished is None:
        raise ResultUnavailable(
            key,
            f"nothing is known about task {key!r}: it was never scheduled, or it finished "
            "longer ago than the docket's execution_ttl (or the docket keeps no records)",
        )
    if finished.state is ExecutionState.CANCELLED:
        raise TaskCancelled(key, f"task {key!r} was cancelled")
    unpickled: Any = None
    problem = ""
    if finished.blob is not None:
        try:
            unpickled = (
                json_module.loads(finished.blob) if finished.json else pickle.loads(finished.blob)
            )
        except Exception as error:
            problem = f"{type(error).__name__}: {error}"
    if finished.state is ExecutionState.COMPLETED:
        if problem:
            raise TaskFailed(
                key, "UnreadableResult", f"its return value cannot be read here: {problem}", ""
            )
        return unpickled
    if isinstance(unpickled, BaseException):
        unpickled.add_note(f"raised by task {key!r} in a worker; its traceback there:")
        unpickled.add_note(finished.traceback_text.rstrip())
        raise unpickled
    raise TaskFailed(key, finished.type_name, finished.text, finished.traceback_text)
