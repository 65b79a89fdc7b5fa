"""What one task is: `Execution`, its `Disposition`, and the payload envelope.

The envelope is what a store keeps for a task: a pickle of a small tuple. Arguments made only
of built-in values (numbers, strings, bytes, dates, and lists, tuples, sets and dicts of them)
go through plain `pickle`, several times faster than cloudpickle; anything else (instances,
functions, lambdas, classes defined in ``__main__``) goes through cloudpickle, which pickles
by value what another process could not import. Both write a standard pickle stream, so a
worker reads either with `pickle.loads`.
"""

from __future__ import annotations

import enum
import io
import os
import pickle
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import cloudpickle

from .annotations import call_text, safe_repr, shown_arguments
from .results import ExecutionProgress, ExecutionState, sync_state, wait_for_result

if TYPE_CHECKING:
    from .docket import Docket

TaskFunction = Callable[..., Any]

ENVELOPE_VERSION = 1
MAX_KEY_LENGTH = 1024


class Disposition(enum.Enum):
    """What happened when a caller tried to schedule a task."""

    LOADED = "loaded"
    """Not the result of a scheduling attempt (read back from the store by a worker)."""

    SCHEDULED = "scheduled"
    """The task was written to the schedule."""

    ALREADY_SCHEDULED = "already_scheduled"
    """A task with this key was already scheduled or running; the earlier one was kept."""

    STRUCK = "struck"
    """A strike rule blocked the call; nothing was written."""

    FAILED = "failed"
    """The store refused this task (batch forms only; the error is on the execution)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_micros(when: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return datetime.fromtimestamp(micros // 1_000_000, UTC).replace(microsecond=micros % 1_000_000)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# Keys need to be unique, not secret: a generator seeded from the OS (and re-seeded in every
# forked child, so two worker processes never share a sequence) costs a fraction of a
# system call per key, which matters when one scatter makes a million of them.
_key_random = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _key_random.seed(os.urandom(32)))


def new_key() -> str:
    """A fresh, time-ordered task key: 48 bits of milliseconds then 80 random bits, in the
    UUIDv7 layout, so keys sort by creation time."""
    millis = time.time_ns() // 1_000_000
    random_bits = _key_random.getrandbits(80)
    value = (millis & 0xFFFF_FFFF_FFFF) << 80 | random_bits
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def check_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"key must be a string, got {type(key).__name__} {key!r}")
    if not key:
        raise ValueError("key must not be empty, got ''")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(
            f"key must be at most {MAX_KEY_LENGTH} characters, got {len(key)} ({key[:40]!r}...)"
        )
    return key


def check_when(when: object, name: str = "when") -> datetime:
    if not isinstance(when, datetime):
        raise TypeError(f"{name} must be a timezone-aware datetime, got {when!r}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware (for example datetime.now(timezone.utc)), "
            f"got naive {when!r}"
        )
    if not EARLIEST <= when < LATEST:
        raise ValueError(
            f"{name} must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC), got "
            f"{when.isoformat()} (due times are kept to the microsecond only in that range)"
        )
    return when


# A Redis sorted set scores in doubles: exact to the microsecond only within 2**53 us (about
# 285 years) of the epoch. Past that, due times would round and read back in exponent form.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2250, 1, 1, tzinfo=UTC)


def dump_payload(
    function_name: str,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    when: int,
    attempt: int,
    meta: Mapping[str, Any] | None = None,
) -> bytes:
    """Serialise a task call; raise TypeError naming the task if an argument cannot be."""
    body = (ENVELOPE_VERSION, function_name, args, dict(kwargs), when, attempt, meta or None)
    # Most calls pass plain values at the top level: checked by type alone, without the walk.
    plain = _PLAIN_TYPES.issuperset
    if (
        plain(map(type, args))
        and plain(map(type, kwargs.values()))
        and (not meta or _is_plain(meta, 5))
    ) or _is_plain(body, 6):
        return _writers.plain(body)
    try:
        return unframed(bytes(cloudpickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL)))
    except Exception as error:
        raise TypeError(_unpicklable(function_name, args, kwargs, error)) from error


def plain_writer() -> Callable[[tuple[Any, ...]], bytes]:
    """A function that turns an envelope made only of plain values (`_is_plain`) into the
    bytes a store keeps. It reuses one buffer, so use each in one thread only.

    Its pickler keeps no memo: pickle then writes no MEMOIZE opcode after every string, tuple
    and dict (six bytes of a typical envelope) and runs faster than `pickle.dumps`. That is
    safe only for plain values: they cannot be cyclic (`_is_plain` stops at a depth of 6), and
    an equal value pickled twice instead of referenced once reads back equal.
    """
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True
    seek, truncate, dump, getvalue = buffer.seek, buffer.truncate, pickler.dump, buffer.getvalue

    def write(body: tuple[Any, ...]) -> bytes:
        seek(0)
        truncate()
        dump(body)
        return unframed(getvalue())

    return write


class _Writers(threading.local):
    def __init__(self) -> None:
        self.plain = plain_writer()


_writers = _Writers()


_FRAMED = b"\x80\x05\x95"


def unframed(data: bytes) -> bytes:
    """``data`` without the frame header pickle puts in front of a one-frame pickle.

    A protocol-5 pickle starts with PROTO 5 and then a FRAME opcode with an 8-byte length;
    frames only help a reader stream a large pickle, and an unframed stream is just as valid
    (`pickle.loads` reads both). For a task envelope of ~80 bytes the 9 bytes are over a
    tenth of the payload; whenever they move Redis's allocation of it to a smaller size class
    (80 instead of 96 bytes for a 76-byte envelope) a scheduled task costs 16 bytes less.
    Pickles of several frames (over 64 KiB) are left as they are.
    """
    if data.startswith(_FRAMED) and int.from_bytes(data[3:11], "little") == len(data) - 11:
        return data[:2] + data[11:]
    return data


def _unpicklable(
    function_name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], error: Exception
) -> str:
    """Name the first argument that cannot be serialised, so the caller knows which to fix."""
    labelled = [(f"args[{i}]", value) for i, value in enumerate(args)]
    labelled += [(f"kwargs[{name!r}]", value) for name, value in kwargs.items()]
    for label, value in labelled:
        try:
            cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as own:
            shown = repr(value)
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            return (
                f"argument {label} of task {function_name!r} cannot be serialised, "
                f"got {shown} ({type(own).__name__}: {own})"
            )
    return f"the arguments of task {function_name!r} cannot be serialised: {error}"


# Exact types only: a subclass (an enum, a model) may live in a module another process lacks.
_PLAIN_TYPES = frozenset(
    {str, int, float, bool, bytes, type(None), datetime, timedelta, date, Decimal}
)
_SEQUENCES = frozenset({tuple, list, set, frozenset})


def _is_plain(value: object, depth: int) -> bool:
    """True when ``value`` holds only built-in values that any process can unpickle."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return True
    if depth == 0:
        return False
    if kind in _SEQUENCES:
        for item in cast("Iterable[object]", value):
            if type(item) not in _PLAIN_TYPES and not _is_plain(item, depth - 1):
                return False
        return True
    if kind is dict:
        for k, v in cast("dict[object, object]", value).items():
            if type(k) not in _PLAIN_TYPES and not _is_plain(k, depth - 1):
                return False
            if type(v) not in _PLAIN_TYPES and not _is_plain(v, depth - 1):
                return False
        return True
    return False


@dataclass(frozen=True, slots=True)
class Envelope:
    function_name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    when: int
    attempt: int
    meta: dict[str, Any] = field(default_factory=dict)


class CorruptPayload(ValueError):
    """A stored payload could not be read back as a task."""


def load_payload(payload: bytes) -> Envelope:
    try:
        body = pickle.loads(payload)
        version, function_name, args, kwargs, when, attempt, meta = body
    except Exception as error:
        raise CorruptPayload(f"unreadable task payload ({len(payload)} bytes): {error}") from error
    if version != ENVELOPE_VERSION or not isinstance(function_name, str):
        raise CorruptPayload(f"unknown task payload version {version!r}")
    return Envelope(function_name, tuple(args), dict(kwargs), int(when), int(attempt), meta or {})


@dataclass(frozen=True)
class TaskCall:
    """A fully resolved request to schedule one task, built by `Docket.call` and written in
    bulk by `Docket.add_many`."""

    function: TaskFunction
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    key: str
    when: datetime
    function_name: str


class Execution:
    """One scheduled (or running) call of a task function."""

    # Read from the store by `sync` and `get_result` (see results.py); None until then.
    state: ExecutionState | None = None
    progress: ExecutionProgress | None = None
    finished_at: datetime | None = None

    def __init__(
        self,
        docket: Docket,
        function: TaskFunction,
        function_name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        key: str,
        when: datetime,
        attempt: int = 1,
        disposition: Disposition = Disposition.LOADED,
        redelivered: bool = False,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.docket = docket
        self.function = function
        self.function_name = function_name
        self.args = args
        self.kwargs = kwargs
        self.key = key
        self.when = when
        self.attempt = attempt
        self.disposition = disposition
        self.redelivered = redelivered
        self.meta: dict[str, Any] = meta or {}
        self.schedule_exception: BaseException | None = None

    @property
    def scatter_id(self) -> str | None:
        """The id of the `Agenda.scatter` that scheduled this task, if one did."""
        value = self.meta.get("scatter")
        return value if isinstance(value, str) else None

    def payload(self) -> bytes:
        return dump_payload(
            self.function_name,
            self.args,
            self.kwargs,
            to_micros(self.when),
            self.attempt,
            self.meta,
        )

    async def sync(self) -> ExecutionState | None:
        """Read this key's state, progress and finish time from the store into ``state``,
        ``progress`` and ``finished_at``; returns the state (None: nothing is known)."""
        return await sync_state(self)

    async def get_result(self, timeout: timedelta | float | None = None) -> Any:
        """Wait for the task to finish and return its return value, or raise its exception
        (`TaskFailed` when it cannot be re-raised as its own type). Raises `TaskCancelled`,
        `ResultUnavailable` (unknown key, or its record expired) and `TimeoutError` after
        ``timeout`` (a timedelta or seconds; None waits for ever)."""
        return await wait_for_result(self, timeout)

    def call_repr(self, *, all_arguments: bool = False) -> str:
        """``name(args)`` as a log line shows the call: the arguments of `Logged` parameters,
        ``...`` for the others (see annotations.py). ``all_arguments`` shows every argument,
        for views that are asked for them (`strew snapshot`, `strew watch`)."""
        if all_arguments:
            parts = [safe_repr(a) for a in self.args]
            parts += [f"{k}={safe_repr(v)}" for k, v in self.kwargs.items()]
        else:
            parts = shown_arguments(self.function, self.args, self.kwargs)
        return call_text(self.function_name, parts)

    def __repr__(self) -> str:
        return (
            f"Execution({self.call_repr()}, key={self.key!r}, when={self.when.isoformat()}, "
            f"attempt={self.attempt}, disposition={self.disposition.name})"
        )


_running: ContextVar[Execution | None] = ContextVar("strew_execution", default=None)


def current_execution() -> Execution | None:
    """The execution a worker is running in this context (its asyncio task, or the thread a
    plain function runs in), None outside one. Log filters and helpers read it; tasks should
    prefer the `CurrentExecution()` dependency."""
    return _running.get()


def set_current_execution(execution: Execution) -> None:
    """Called by the worker in the asyncio task that runs ``execution`` (each task has its
    own context, so nothing needs resetting)."""
    _running.set(execution)
