"""The envelope: what a store keeps for one task, and the keys tasks are known by.

The envelope is a pickle of a small tuple. Arguments made only of built-in values (numbers,
strings, bytes, dates, and lists, tuples, sets and dicts of them) go through plain `pickle`,
several times faster than cloudpickle; anything else (instances, functions, lambdas, classes
defined in ``__main__``) goes through cloudpickle, which pickles by value what another process
could not import. Both write a standard pickle stream, so a worker reads either with
`pickle.loads`. Its layout is a stored format: what an older strew wrote must still read.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import pickle
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import cloudpickle

from strew.task.pickles import plain_loads

ENVELOPE_VERSION = 1


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


_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def new_keys(count: int) -> list[str]:
    """``count`` fresh task keys in `new_key`'s layout (UUIDv7: 48 bits of milliseconds, the
    version, 74 random bits, the variant), from one clock reading and one draw of random bytes
    instead of one of each per key."""
    millis = f"{(time.time_ns() // 1_000_000) & 0xFFFF_FFFF_FFFF:012x}"
    head = f"{millis[:8]}-{millis[8:]}-7"
    raw = _key_random.randbytes(10 * count).hex()
    variant = _VARIANT
    return [
        f"{head}{raw[j : j + 3]}-{variant[raw[j + 3]]}{raw[j + 4 : j + 7]}-{raw[j + 7 : j + 19]}"
        for j in range(0, 20 * count, 20)
    ]


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


def labelled_arguments(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Each argument with the label an error names it by: ``args[0]``, ``kwargs['since']``."""
    labelled = [(f"args[{i}]", value) for i, value in enumerate(args)]
    return labelled + [(f"kwargs[{name!r}]", value) for name, value in kwargs.items()]


def _unpicklable(
    function_name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], error: Exception
) -> str:
    """Name the first argument that cannot be serialised, so the caller knows which to fix."""
    labelled = labelled_arguments(args, kwargs)
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


PAYLOAD_READ_TIMEOUT = timedelta(seconds=10)
"""How long a worker lets a payload that is not plain values take to read (see
`read_payload`) before it abandons the read and quarantines the task (the default of
`Worker`'s ``payload_read_timeout``)."""


def load_payload(payload: bytes, *, plain: bool = False) -> Envelope:
    """The envelope ``payload`` holds; raises `CorruptPayload` whatever reading it raised.
    ``plain`` reads it with `plain_loads`: arguments that are not plain values then make it
    a `CorruptPayload`, and nothing it names is called (for views that cannot trust it).

    Reading a pickle calls what it names, so a planted payload can raise anything: SystemExit,
    KeyboardInterrupt, a CancelledError from its ``__setstate__``. None of that may end the
    process reading it (a worker, a snapshot), so every BaseException becomes a CorruptPayload.
    It can also take forever: a worker reads such payloads with `read_payload` instead.
    """
    try:
        body = plain_loads(payload) if plain else pickle.loads(payload)
    except BaseException as error:  # see above: a payload can raise anything
        raise _unreadable(payload, error) from error
    return _envelope(payload, body)


def _unreadable(payload: bytes, error: BaseException) -> CorruptPayload:
    return CorruptPayload(
        f"unreadable task payload ({len(payload)} bytes): {type(error).__name__}: {error}"
    )


def _envelope(payload: bytes, body: Any) -> Envelope:
    try:
        version, function_name, args, kwargs, when, attempt, meta = body
        if version != ENVELOPE_VERSION or not isinstance(function_name, str):
            raise CorruptPayload(f"unknown task payload version {version!r}")
        return Envelope(
            function_name, tuple(args), dict(kwargs), int(when), int(attempt), meta or {}
        )
    except CorruptPayload:
        raise
    except BaseException as error:  # the body may be an object of the payload's
        raise _unreadable(payload, error) from error


async def read_payload(payload: bytes, timeout: float) -> Envelope:
    """`load_payload` for a worker: without running the payload's code on the event loop.

    A payload of plain values (nearly every task: `dump_payload` writes those with plain
    pickle) is read inline by `plain_loads`, which calls nothing a payload could choose, so it
    can neither raise nor block anything a worker cares about. Any other payload (it names a
    class, a function: cloudpickle's, an old format, a planted one) is read in a thread of its
    own, bounded by ``timeout`` seconds: the event loop and the worker's other tasks go on
    meanwhile. A read still going after ``timeout`` is abandoned (its daemon thread finishes,
    or not, on its own: a thread cannot be stopped) and raises `CorruptPayload` saying so.
    """
    try:
        body = plain_loads(payload)
    except Exception:  # refused, or malformed: the full read says which
        return await _read_aside(payload, timeout)
    return _envelope(payload, body)


async def _read_aside(payload: bytes, timeout: float) -> Envelope:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Envelope] = loop.create_future()

    def settle(envelope: Envelope | None, error: CorruptPayload | None) -> None:
        if done.done():
            return  # abandoned: the timeout passed, or the runner was cancelled
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(cast("Envelope", envelope))

    def read() -> None:
        envelope: Envelope | None = None
        error: CorruptPayload | None = None
        try:
            envelope = load_payload(payload)
        except CorruptPayload as failure:
            error = failure
        except BaseException as failure:  # never lost in a thread's end
            error = _unreadable(payload, failure)
        with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits any more
            loop.call_soon_threadsafe(settle, envelope, error)

    # A daemon thread of its own rather than the loop's executor: a read that never ends
    # must neither take a slot other reads (or sync tasks) need nor keep the process from
    # exiting (the executor's threads are joined at exit).
    threading.Thread(target=read, name="strew payload read", daemon=True).start()
    try:
        return await asyncio.wait_for(done, timeout)
    except TimeoutError:
        raise CorruptPayload(
            f"reading the task payload ({len(payload)} bytes) took longer than {timeout:g}s; "
            "the read was abandoned"
        ) from None


PayloadWriter = Callable[[str, tuple[Any, ...], dict[str, Any], int], bytes]
"""Writes the envelope of a first attempt: ``(name, args, kwargs, due)`` -> bytes."""


def payload_writer(meta: Mapping[str, Any]) -> PayloadWriter:
    """A function writing the envelope of a first attempt, ``(name, args, kwargs, due)`` ->
    bytes, for many calls that share ``meta`` (a scatter's): the bytes `dump_payload` writes,
    without its recursive walk when every argument is a plain value at the top level (nearly
    every real call). Use it in one thread only (it reuses one buffer)."""
    plain = _PLAIN_TYPES.issuperset
    fast = _is_plain(meta, 5)
    stored_meta = meta or None
    write = plain_writer()

    def payload(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], due: int) -> bytes:
        if fast and plain(map(type, args)) and plain(map(type, kwargs.values())):
            return write((ENVELOPE_VERSION, name, args, kwargs, due, 1, stored_meta))
        return dump_payload(name, args, kwargs, due, 1, meta)

    return payload
