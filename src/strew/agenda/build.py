"""Turning a planned scatter into executions and store entries, fast.

`Docket.prepare` builds a `TaskCall` per task, checks it, resolves its function and walks its
arguments before pickling; for a scatter, whose calls are already checked (``Agenda.add``
checks keys, ``Agenda.scatter`` resolves every name before anything else) and usually share
one function, most of that is repeated work. This builds the same executions and the same
payload bytes with as little per-task work as Python allows, because at 100,000 tasks every
microsecond per task is a tenth of a second of the scatter.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from strew.stores.records import Entry
from strew.task.bulk import gc_paused
from strew.task.envelope import new_keys
from strew.task.execution import Execution, TaskFunction

if TYPE_CHECKING:
    from strew.docket.docket import Docket
    from strew.docket.strikes import Strike, StrikeBook

Call = tuple["TaskFunction | str", tuple[Any, ...], dict[str, Any], "str | None"]
"""What an agenda entry holds: function (or task name), args, kwargs, key."""


class Planned:
    """A scatter's calls with their functions resolved, keys drawn and times fixed; the
    store entries and the executions are built from it in ranges, so that a caller can
    overlap building one range with writing another.

    Every function must be resolvable on ``docket`` (unregistered functions are registered,
    as `Docket.resolve` does). Each execution gets its own copy of ``meta``.
    """

    def __init__(
        self,
        docket: Docket,
        calls: Sequence[Call],
        begin: datetime,
        begin_micros: int,
        offsets: Sequence[int],
        meta: dict[str, Any],
    ) -> None:
        if len(offsets) != len(calls):
            raise ValueError(f"{len(calls)} calls but {len(offsets)} offsets")
        self.docket = docket
        self.calls = calls
        self.begin = begin
        self.begin_micros = begin_micros
        self.offsets = offsets
        self.meta = meta
        resolved: dict[object, tuple[TaskFunction, str]] = {}
        fresh = iter(new_keys(sum(1 for call in calls if call[3] is None)))
        self.targets: list[tuple[TaskFunction, str]] = []
        self.keys: list[str] = []
        with gc_paused():
            for target, _, _, key in calls:
                marker: object = target if isinstance(target, str) else id(target)
                found = resolved.get(marker)
                if found is None:
                    found = resolved[marker] = docket.resolve(target)
                self.targets.append(found)
                self.keys.append(next(fresh) if key is None else key)

    def __len__(self) -> int:
        return len(self.calls)

    def subset(self, indexes: Sequence[int]) -> Planned:
        """The same plan restricted to the calls at ``indexes`` (in that order), with the
        keys and times already drawn for them (a strike leaves some calls out)."""
        sub = copy.copy(self)
        sub.calls = [self.calls[i] for i in indexes]
        sub.targets = [self.targets[i] for i in indexes]
        sub.keys = [self.keys[i] for i in indexes]
        sub.offsets = [self.offsets[i] for i in indexes]
        return sub

    def stricken(self, book: StrikeBook, rules: Sequence[Strike]) -> list[bool]:
        """For each call, whether a strike rule blocks it."""
        return [
            book.blocking(rules, name, function, args, kwargs) is not None
            for (_, args, kwargs, _), (function, name) in zip(self.calls, self.targets, strict=True)
        ]

    def entries(self, low: int, high: int) -> list[Entry]:
        """The store entries of calls ``low`` to ``high`` (excluded). Raises TypeError naming
        the task and argument if a call cannot be serialised."""
        entries: list[Entry] = []
        with gc_paused():
            self._fill(entries, low, high)
        return entries

    def _fill(self, entries: list[Entry], low: int, high: int) -> None:
        payload = self.docket.codec.writer(self.meta)
        begin = self.begin_micros
        for (_, args, kwargs, _), (_, name), key, offset in zip(
            self.calls[low:high],
            self.targets[low:high],
            self.keys[low:high],
            self.offsets[low:high],
            strict=True,
        ):
            due = begin + offset
            entries.append(Entry(key, due, payload(name, args, kwargs, due)))

    def executions(self, low: int, high: int) -> list[Execution]:
        """The executions of calls ``low`` to ``high`` (excluded), disposition LOADED."""
        with gc_paused():
            return self._executions(low, high)

    def _executions(self, low: int, high: int) -> list[Execution]:
        docket, begin, meta = self.docket, self.begin, self.meta
        return [
            Execution(
                docket,
                function,
                name,
                args,
                kwargs,
                key,
                begin + timedelta(microseconds=offset),
                meta=dict(meta),
            )
            for (_, args, kwargs, _), (function, name), key, offset in zip(
                self.calls[low:high],
                self.targets[low:high],
                self.keys[low:high],
                self.offsets[low:high],
                strict=True,
            )
        ]
