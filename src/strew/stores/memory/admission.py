"""The memory store's side of admission controls (see `AdmissionStore`): the same decisions
as admit.lua, release_slots.lua and limits.lua, over plain Python state.

A limit lives in its *home*: the docket's own book, or with a ``scope`` a book shared by every
docket of the same ``memory://`` URL in the process. A holder is ``(docket, key)``; its lease
is looked up in its docket's store, so a slot lives exactly as long as its holder's lease.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sortedcontainers import SortedList

from strew.stores.records import Admission, Gate, LimitUsage, Notice, Wake

Holder = tuple[str, str]
"""(docket, key)."""


@dataclass
class _Concurrency:
    slots: dict[Holder, int] = field(default_factory=dict)
    waiters: SortedList = field(default_factory=SortedList)
    """(due, "docket\\nkey", holder): the order Redis's waiters zset gives."""
    since: dict[Holder, int] = field(default_factory=dict)

    def wait(self, holder: Holder, now: int) -> None:
        if holder not in self.since:
            self.since[holder] = now
            self.waiters.add((now, "\n".join(holder), holder))

    def stop_waiting(self, holder: Holder) -> None:
        since = self.since.pop(holder, None)
        if since is not None:
            self.waiters.remove((since, "\n".join(holder), holder))

    def in_line(self) -> Iterator[Holder]:
        return (item[2] for item in list(self.waiters))

    def rank(self, holder: Holder) -> int:
        since = self.since[holder]
        return int(self.waiters.index((since, "\n".join(holder), holder)))


@dataclass
class LimitBook:
    """The limits of one home, by (kind, name)."""

    concurrency: dict[str, _Concurrency] = field(default_factory=dict)
    rates: dict[str, dict[str, int]] = field(default_factory=dict)
    """name -> start time by "key@due"."""
    cooldowns: dict[str, tuple[str, int]] = field(default_factory=dict)
    """name -> ("key@due" of the run that began it, expires)."""
    debounces: dict[str, tuple[Holder, int, int]] = field(default_factory=dict)
    """name -> (winner, last claim, expires)."""


class _Core(Protocol):
    _clock: Callable[[], int]
    _payloads: dict[str, tuple[int, bytes]]
    _limits: LimitBook
    _memory_url: str
    _memory_name: str

    def _put(self, key: str, due: int, payload: bytes) -> None: ...
    def _earliest(self) -> int | None: ...
    def _publish(self, notice: Notice) -> None: ...
    def _owns(self, key: str, token: str) -> bool: ...
    def _lease_deadline(self, key: str) -> int | None: ...
    def _lease_of(self, key: str) -> tuple[int, bytes] | None: ...
    def _unlease(self, key: str) -> None: ...


_peers: weakref.WeakValueDictionary[tuple[str, str], object] = weakref.WeakValueDictionary()
_scoped: dict[tuple[str, str], LimitBook] = {}


def register_peer(url: str, docket: str, store: object) -> None:
    """Make ``store`` findable by the dockets of ``url`` that share a scope with it."""
    _peers[(url, docket)] = store


class MemoryAdmission:
    """Admission operations (methods typed on `MemoryStore`)."""

    _limits: LimitBook
    _memory_url: str = ""
    _memory_name: str = ""

    def _book(self: _Core, gate: Gate) -> LimitBook:
        if gate.scope is None:
            return self._limits
        return _scoped.setdefault((self._memory_url, gate.scope), LimitBook())

    def _peer(self: _Core, docket: str) -> _Core | None:
        if docket == self._memory_name:
            return self
        peer = _peers.get((self._memory_url, docket))
        return peer  # type: ignore[return-value]

    def _live_until(self: _Core, holder: Holder, now: int) -> int | None:
        store = MemoryAdmission._peer(self, holder[0])
        deadline = None if store is None else store._lease_deadline(holder[1])
        return deadline if deadline is not None and deadline >= now else None

    def _bring_forward(self: _Core, holder: Holder, now: int) -> bool:
        store = MemoryAdmission._peer(self, holder[0])
        if store is None:
            return False
        scheduled = store._payloads.get(holder[1])
        if scheduled is not None:
            if scheduled[0] > now:
                store._put(holder[1], now, scheduled[1])
                store._publish(Wake(now))
            return True
        return MemoryAdmission._live_until(self, holder, now) is not None

    def _still_waiting(self: _Core, holder: Holder, now: int) -> bool:
        store = MemoryAdmission._peer(self, holder[0])
        if store is not None and holder[1] in store._payloads:
            return True
        return MemoryAdmission._live_until(self, holder, now) is not None

    async def admit(
        self: _Core, key: str, token: str, gates: Sequence[Gate], lease: int
    ) -> Admission:
        if not self._owns(key, token):
            return Admission("lost")
        now = self._clock()
        held = self._lease_of(key)
        assert held is not None
        due = held[0]
        holder = (self._memory_name, key)
        member = f"{key}@{due}"
        books = [MemoryAdmission._book(self, gate) for gate in gates]
        verdict: Admission | None = None
        winner_of: tuple[LimitBook, str] | None = None

        for i, (gate, book) in enumerate(zip(gates, books, strict=True)):
            if gate.kind != "debounce" or verdict is not None:
                continue
            expires = now + gate.window * 2 + 60_000_000
            state = book.debounces.get(gate.name)
            if state is not None and state[2] <= now:
                state = None
            if state is None:
                book.debounces[gate.name] = (holder, now, expires)
                verdict = Admission("defer", i, now + gate.window)
            elif state[0] != holder and not MemoryAdmission._still_waiting(self, state[0], now):
                # The winner is gone (cancelled, or held by a strike): this claim takes over.
                book.debounces[gate.name] = (holder, now, expires)
                verdict = Admission("defer", i, now + gate.window)
            elif state[0] != holder:
                book.debounces[gate.name] = (state[0], now, expires)
                verdict = Admission("drop", i)
            elif now < state[1] + gate.window:
                verdict = Admission("defer", i, state[1] + gate.window)
            else:
                winner_of = (book, gate.name)

        if verdict is None:
            for i, (gate, book) in enumerate(zip(gates, books, strict=True)):
                if gate.kind != "cooldown":
                    continue
                began = book.cooldowns.get(gate.name)
                if began is not None and began[1] > now and began[0] != member:
                    verdict = Admission("drop", i)
                    break

        if verdict is None:
            latest: tuple[int, int] | None = None
            for i, (gate, book) in enumerate(zip(gates, books, strict=True)):
                if gate.kind != "rate":
                    continue
                log = book.rates.setdefault(gate.name, {})
                for old in [m for m, at in log.items() if at <= now - gate.window]:
                    del log[old]
                if member in log or len(log) < gate.limit:
                    continue
                if gate.drop:
                    verdict = Admission("drop", i)
                    break
                # The earliest start; ties by member, as a sorted set orders them.
                at = max(min((at, m) for m, at in log.items())[0] + gate.window, now + 1)
                if latest is None or at > latest[0]:
                    latest = (at, i)
            if verdict is None and latest is not None:
                verdict = Admission("defer", latest[1], latest[0])

        if verdict is None:
            for i, (gate, book) in enumerate(zip(gates, books, strict=True)):
                if gate.kind != "concurrency":
                    continue
                limit = book.concurrency.setdefault(gate.name, _Concurrency())
                mine, used, earliest = False, 0, None
                for other in list(limit.slots):
                    if other == holder:
                        mine = True
                        continue
                    deadline = MemoryAdmission._live_until(self, other, now)
                    if deadline is None:
                        del limit.slots[other]
                    else:
                        used += 1
                        earliest = deadline if earliest is None else min(earliest, deadline)
                if mine:
                    continue
                free = gate.limit - used
                owed: list[Holder] = []
                if free > 0:
                    for waiting in limit.in_line():
                        if waiting == holder:
                            break
                        if MemoryAdmission._still_waiting(self, waiting, now):
                            owed.append(waiting)
                            if len(owed) >= free:
                                break
                        else:
                            limit.stop_waiting(waiting)
                if free <= 0 or len(owed) >= free:
                    limit.wait(holder, due)
                    for waiting in owed:
                        MemoryAdmission._bring_forward(self, waiting, now)
                    until = max(earliest if earliest is not None else now, now + 1)
                    until += (limit.rank(holder) // gate.limit) * lease
                    if earliest is None:
                        until += lease
                    verdict = Admission("wait", i, until)
                    break

        if verdict is None:
            for gate, book in zip(gates, books, strict=True):
                if gate.kind == "cooldown":
                    book.cooldowns[gate.name] = (member, now + gate.window)
                elif gate.kind == "rate":
                    book.rates.setdefault(gate.name, {})[member] = now
                elif gate.kind == "concurrency":
                    limit = book.concurrency.setdefault(gate.name, _Concurrency())
                    limit.slots.setdefault(holder, now)
                    limit.stop_waiting(holder)
            if winner_of is not None:
                winner_of[0].debounces.pop(winner_of[1], None)
            return Admission("run")
        if verdict.verdict != "wait":
            # A waiting task that leaves the line (dropped, or put back by another gate) frees
            # what it was owed: the tasks the free slots now belong to are brought forward.
            for gate, book in zip(gates, books, strict=True):
                line = book.concurrency.get(gate.name) if gate.kind == "concurrency" else None
                if line is not None and holder in line.since:
                    line.stop_waiting(holder)
                    MemoryAdmission._wake(self, gate, line, now)
        if verdict.verdict == "drop":
            if winner_of is not None:
                winner_of[0].debounces.pop(winner_of[1], None)
            return verdict
        # defer or wait: back onto the schedule, unless a newer schedule of the key came.
        self._unlease(key)
        if key not in self._payloads:
            earliest_due = self._earliest()
            self._put(key, verdict.until, held[1])
            if earliest_due is None or verdict.until < earliest_due:
                self._publish(Wake(verdict.until))
        return verdict

    def _wake(self: _Core, gate: Gate, limit: _Concurrency, now: int) -> int:
        """Forget slots whose holder's lease is gone, then bring forward the first waiting
        tasks the free slots belong to (dropping the ones no longer waiting). Returns how
        many were brought forward."""
        for other in list(limit.slots):
            if MemoryAdmission._live_until(self, other, now) is None:
                del limit.slots[other]
        free = gate.limit - len(limit.slots)
        woken = 0
        for waiting in limit.in_line():
            if free <= 0:
                break
            if MemoryAdmission._bring_forward(self, waiting, now):
                free -= 1
                woken += 1
            else:
                limit.stop_waiting(waiting)
        return woken

    async def release_slots(self: _Core, key: str, gates: Sequence[Gate]) -> int:
        now = self._clock()
        holder = (self._memory_name, key)
        woken = 0
        for gate in gates:
            if gate.kind != "concurrency":
                continue
            book = MemoryAdmission._book(self, gate)
            limit = book.concurrency.get(gate.name)
            if limit is None:
                continue
            limit.slots.pop(holder, None)
            woken += MemoryAdmission._wake(self, gate, limit, now)
            if not limit.slots and not limit.since:
                del book.concurrency[gate.name]
        return woken

    async def limits(self: _Core, limit: int) -> list[LimitUsage]:
        now = self._clock()
        homes: list[tuple[str | None, LimitBook]] = [(None, self._limits)]
        homes += [
            (scope, book) for (url, scope), book in _scoped.items() if url == self._memory_url
        ]
        usages: list[LimitUsage] = []
        for scope, book in homes:
            for name, state in book.concurrency.items():
                if (
                    scope is not None
                    and not any(h[0] == self._memory_name for h in state.slots)
                    and not any(h[0] == self._memory_name for h in state.since)
                ):
                    continue  # a scope this docket never used
                used = sum(
                    MemoryAdmission._live_until(self, h, now) is not None for h in state.slots
                )
                if used or state.since:
                    usages.append(LimitUsage(name, scope, used, len(state.since)))
        usages.sort(key=lambda u: (-(u.in_use + u.waiting), u.scope or "", u.name))
        return usages[:limit]
