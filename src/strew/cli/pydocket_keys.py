"""Reading (and, once moved, removing) the tasks a pydocket docket keeps waiting in Redis.

pydocket 0.27 keeps a docket named ``NAME`` under keys prefixed ``NAME:``:

- ``NAME:stream``, a stream of the tasks that are due: one entry per task, its fields
  ``key``, ``when`` (ISO 8601), ``function``, ``args`` and ``kwargs`` (cloudpickle),
  ``attempt`` and ``generation``. Its consumer group's pending entries are the tasks a
  worker has read and is running (or was running when it died: pydocket redelivers them).
- ``NAME:queue``, a sorted set of the keys of future tasks by due time in seconds, each
  task's fields (as in the stream) parked in the hash ``NAME:KEY``.
- ``NAME:runs:KEY``, a hash of each task's state, and ``NAME:progress:KEY``; the older
  ``NAME:known:KEY`` and ``NAME:stream-id:KEY`` markers.

This module knows that layout and nothing of strew's; it never unpickles anything (the
arguments are handed on as bytes, see `strew.cli.import_pydocket`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

import redis.asyncio as aioredis

BATCH = 500
"""Keys read or removed per round trip."""


@dataclass(frozen=True, slots=True)
class WaitingTask:
    """One task pydocket has not started, as it stored it."""

    key: str
    function_name: str
    when: datetime
    attempt: int
    args: bytes
    kwargs: bytes
    place: Literal["stream", "queue"]
    message_id: str = ""
    """The stream entry's id (``place == "stream"``)."""


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A stored task this reader could not make sense of: left where it is."""

    where: str
    problem: str


@dataclass(slots=True)
class PydocketTasks:
    """What a pydocket docket holds: tasks waiting, keys running, what could not be read."""

    waiting: list[WaitingTask]
    running: list[str]
    unreadable: list[Unreadable]


def _text(value: bytes | None, field: str) -> str:
    if value is None:
        raise ValueError(f"no {field!r} field")
    return value.decode("utf-8")


def _task(
    fields: Mapping[bytes, bytes], place: Literal["stream", "queue"], message_id: str = ""
) -> WaitingTask:
    """The task ``fields`` (a stream entry's, or a parked hash's) describe; ValueError naming
    what is missing or malformed."""
    when = datetime.fromisoformat(_text(fields.get(b"when"), "when"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # pydocket writes aware times; an old one may not
    for field in (b"args", b"kwargs"):
        if field not in fields:
            raise ValueError(f"no {field.decode()!r} field")
    attempt = int(_text(fields.get(b"attempt", b"1"), "attempt"))
    if attempt < 1:
        raise ValueError(f"attempt must be at least 1, got {attempt}")
    return WaitingTask(
        key=_text(fields.get(b"key"), "key"),
        function_name=_text(fields.get(b"function"), "function"),
        when=when,
        attempt=attempt,
        args=fields[b"args"],
        kwargs=fields[b"kwargs"],
        place=place,
        message_id=message_id,
    )


def _read(
    fields: Mapping[bytes, bytes],
    place: Literal["stream", "queue"],
    where: str,
    message_id: str = "",
) -> WaitingTask | Unreadable:
    try:
        return _task(fields, place, message_id)
    except (ValueError, UnicodeDecodeError) as error:
        return Unreadable(where, str(error))


class PydocketDocket:
    """The keys of pydocket's docket ``name`` on ``client`` (the caller closes the client)."""

    def __init__(self, client: aioredis.Redis, name: str) -> None:
        self.client = client
        self.name = name
        self.stream_key = f"{name}:stream"
        self.queue_key = f"{name}:queue"

    async def exists(self) -> bool:
        """Whether pydocket has a stream or a queue under this name at all."""
        return bool(await self.client.exists(self.stream_key, self.queue_key))

    async def running_ids(self) -> set[str]:
        """The ids of the stream entries some worker has read and not acknowledged."""
        if not await self.client.exists(self.stream_key):
            return set()
        ids: set[str] = set()
        groups: list[dict[str, Any]] = await self.client.xinfo_groups(self.stream_key)
        for group in groups:
            start = "-"
            while True:
                pending: list[dict[str, Any]] = await self.client.xpending_range(
                    self.stream_key, group["name"], start, "+", BATCH
                )
                ids.update(_id(item["message_id"]) for item in pending)
                if len(pending) < BATCH:
                    break
                start = "(" + _id(pending[-1]["message_id"])
        return ids

    async def read(self) -> PydocketTasks:
        """Every task waiting (the stream's entries nobody has read, then the queue's, each
        in due order) and the keys of those running. Not atomic: stop pydocket's workers
        first, or a task may start (or a new one arrive) while this reads."""
        found = PydocketTasks([], [], [])
        running = await self.running_ids()
        start = "-"
        while True:
            entries = cast(
                "list[tuple[bytes, dict[bytes, bytes]]]",
                await self.client.xrange(self.stream_key, start, "+", BATCH),
            )
            for raw_id, fields in entries:
                message_id = _id(raw_id)
                if message_id in running:
                    held = fields.get(b"key", b"").decode("utf-8", "replace")
                    found.running.append(held or f"(stream entry {message_id})")
                    continue
                task = _read(fields, "stream", f"stream entry {message_id}", message_id)
                _sort(found, task)
            if len(entries) < BATCH:
                break
            start = "(" + _id(entries[-1][0])
        offset = 0
        while True:
            keys = cast(
                "list[bytes]",
                await self.client.zrange(self.queue_key, offset, offset + BATCH - 1),
            )
            async with self.client.pipeline(transaction=False) as pipe:
                for queued in keys:
                    pipe.hgetall(self.name.encode() + b":" + queued)
                parked: list[dict[bytes, bytes]] = await pipe.execute()
            for queued, fields in zip(keys, parked, strict=True):
                shown = queued.decode("utf-8", "replace")
                if not fields:
                    found.unreadable.append(Unreadable(f"queued key {shown!r}", "no parked data"))
                    continue
                _sort(found, _read(fields, "queue", f"queued key {shown!r}"))
            if len(keys) < BATCH:
                break
            offset += BATCH
        return found

    async def remove(self, tasks: Sequence[WaitingTask]) -> int:
        """Remove ``tasks`` from pydocket's keys, as its own cancel would, but leaving no
        record of a cancel behind (they were moved, not cancelled): the stream entry or the
        queued key and its parked hash, and the task's runs, progress and legacy markers.
        A stream entry a worker read since `read` is left alone (it is running). Returns
        how many were removed."""
        removed = 0
        running = await self.running_ids()
        for start in range(0, len(tasks), BATCH):
            async with self.client.pipeline(transaction=True) as pipe:
                for task in tasks[start : start + BATCH]:
                    if task.place == "stream":
                        if task.message_id in running:
                            continue
                        pipe.xdel(self.stream_key, task.message_id)
                    else:
                        pipe.zrem(self.queue_key, task.key)
                    pipe.delete(
                        f"{self.name}:{task.key}",
                        f"{self.name}:runs:{task.key}",
                        f"{self.name}:progress:{task.key}",
                        f"{self.name}:known:{task.key}",
                        f"{self.name}:stream-id:{task.key}",
                    )
                replies: list[int] = await pipe.execute()
            removed += sum(replies[0::2])  # XDEL's or ZREM's count, then DEL's
        return removed


def _id(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _sort(found: PydocketTasks, task: WaitingTask | Unreadable) -> None:
    if isinstance(task, Unreadable):
        found.unreadable.append(task)
    else:
        found.waiting.append(task)


__all__ = ["PydocketDocket", "PydocketTasks", "Unreadable", "WaitingTask"]
