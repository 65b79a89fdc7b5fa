"""The Redis store's side of task state: what is known about one key (scheduled, running,
held, its record), and its progress.

A mixin of `RedisStore`. Its per-key keys share the docket's hash tag::

    strew:{emails}:record:<key>     string  how the last run ended (kept for execution_ttl)
    strew:{emails}:progress:<key>   hash    current, total, message, updated
"""

from __future__ import annotations

from typing import Any, Protocol

from strew.stores.records import ProgressState, RunningTask, ScheduledTask, TaskState
from strew.stores.redis.common import _millis, _optional_int, _text

RESULT_SCRIPTS = ("task_state", "progress")


class _Core(Protocol):
    """What these methods use of `RedisStore`."""

    docket: str
    dues_key: str
    _task_keys: list[str]

    def _strike_keys(self) -> list[str]: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...
    def _record_key(self, key: str) -> str: ...
    def _progress_key(self, key: str) -> str: ...


def _progress(fields: list[Any]) -> ProgressState:
    """A progress hash, as the flat field/value list HGETALL answers."""
    found = {_text(fields[i]): fields[i + 1] for i in range(0, len(fields), 2)}
    total, message = found.get("total"), found.get("message")
    return ProgressState(
        current=int(found.get("current", 0)),
        total=None if total is None else int(total),
        message=None if message is None else _text(message),
        updated=int(found.get("updated", 0)),
    )


class RedisResults:
    """`Store.task_state` and `Store.update_progress`, each one Lua script (methods typed on
    `RedisStore`)."""

    def _record_key(self: _Core, key: str) -> str:
        return f"strew:{{{self.docket}}}:record:{key}"

    def _progress_key(self: _Core, key: str) -> str:
        return f"strew:{{{self.docket}}}:progress:{key}"

    async def task_state(self: _Core, key: str) -> TaskState:
        keys = [*self._task_keys[:5], self._record_key(key), self._progress_key(key)]
        keys += self._strike_keys()[2:]  # a task a strike holds has a state too
        keys.append(self.dues_key)  # when a running task was claimed
        reply = await self._script("task_state", "read a task's state", keys, [key])
        now, due, payload, deadline, token, running, record, progress, held_due, held, claimed = (
            reply
        )
        return TaskState(
            now=int(now),
            scheduled=ScheduledTask(key, int(float(due)), bytes(payload)) if due else None,
            running=(
                RunningTask(
                    key, _text(token), int(float(deadline)), bytes(running), _optional_int(claimed)
                )
                if deadline
                else None
            ),
            record=bytes(record) if record else None,
            progress=_progress(progress) if progress else None,
            held=ScheduledTask(key, int(float(held_due)), bytes(held)) if held_due else None,
        )

    async def update_progress(
        self: _Core, key: str, *, total: int | None, advance: int, message: str | None, ttl: int
    ) -> ProgressState:
        args: list[Any] = [
            "" if total is None else total,
            advance,
            "" if message is None else "=" + message,
            _millis(ttl),
        ]
        reply = await self._script(
            "progress", "update a task's progress", [self._progress_key(key)], args
        )
        return _progress(reply)
