"""The memory store and the Redis store make the same admission decisions.

A hypothesis state machine adds, claims, admits (under random sets of gates), finishes,
cancels and frees slots on both stores alike, and compares every answer, the limits in use and
the schedule after each step. Tokens differ between the stores, so the machine keeps the pair
issued for each claim. Windows last a day and leases a day or nothing (expired at once), so
the two clocks cannot disagree about a decision; times a store reckons on its own clock (when
a task is put back, or brought forward) are compared by band.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from strew.stores.memory.store import MemoryStore
from strew.stores.protocol import Store
from strew.stores.records import Entry, Finish, Gate
from strew.stores.redis.store import RedisStore

from .. import helpers

T = TypeVar("T")

HOUR = 3_600_000_000
DAY = 24 * HOUR
KEYS = st.sampled_from(["k1", "k2", "k3", "k4", "k5", "k6"])
# The gates of one run of the machine: every task admitted under them, so their state builds up.
GATES = st.lists(
    st.sampled_from(
        [
            Gate("concurrency", "one", limit=1),
            Gate("concurrency", "two", limit=2),
            Gate("rate", "twice", limit=2, window=DAY),
            Gate("rate", "once", limit=1, window=DAY, drop=True),
            Gate("cooldown", "cool", window=DAY),
            Gate("debounce", "quiet", window=DAY),
        ]
    ),
    min_size=1,
    max_size=3,
    unique=True,
)


class AdmissionsAgree(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.memory: Store = MemoryStore()
        self.redis: Store = RedisStore(helpers.test_redis_url(), f"test-adm-{uuid.uuid4().hex}")
        self.ref = time.time_ns() // 1000
        self.held: dict[str, tuple[str, str]] = {}
        self.issued: list[tuple[str, tuple[str, str]]] = []
        self.serial = 0
        self.gates: list[Gate] = []

    def run(self, operation: Awaitable[T]) -> T:
        return self.loop.run_until_complete(operation)

    def teardown(self) -> None:
        try:
            self.run(self.redis.destroy())
            self.run(self.redis.close())
        finally:
            self.loop.close()

    def band(self, micros: int) -> object:
        """Exact for the due times the machine chose (an hour or more ago); a band for times
        a store reckoned on its own clock."""
        if micros < self.ref - HOUR // 2:
            return micros
        return "about now" if micros <= self.ref + HOUR // 2 else "later"

    def both(self, call: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return (
            self.run(getattr(self.memory, call)(*args, **kwargs)),
            self.run(getattr(self.redis, call)(*args, **kwargs)),
        )

    @initialize(gates=GATES)
    def choose_gates(self, gates: list[Gate]) -> None:
        self.gates = gates

    @rule(key=KEYS)
    def add(self, key: str) -> None:
        self.serial += 1  # distinct due times, so the order of claims is the same in both
        entry = Entry(key, self.ref - 2 * HOUR + self.serial, b"payload")
        mine, theirs = self.both("schedule", [entry], replace=False)
        assert mine == theirs

    @rule(expire=st.booleans(), data=st.data())
    def arrive_and_admit(self, expire: bool, data: st.DataObject) -> None:
        """The common path: a new task is due, claimed and admitted."""
        self.add(f"new{self.serial}")
        self.claim(1, expire)
        if self.held:
            self.admit(data, False, self.gates)

    @rule(limit=st.integers(min_value=1, max_value=3), expire=st.booleans())
    def claim(self, limit: int, expire: bool) -> None:
        lease = 0 if expire else DAY
        mine = self.run(self.memory.claim("w", limit, lease, 0))
        theirs = self.run(self.redis.claim("w", limit, lease, 0))
        assert [(c.key, c.redelivered) for c in mine.claims] == [
            (c.key, c.redelivered) for c in theirs.claims
        ]
        for a, b in zip(mine.claims, theirs.claims, strict=True):
            self.held[a.key] = (a.token, b.token)
            self.issued.append((a.key, (a.token, b.token)))

    def _pair(self, data: st.DataObject, stale: bool) -> tuple[str, tuple[str, str]]:
        if stale or not self.held:
            return data.draw(st.sampled_from(self.issued))
        key = data.draw(st.sampled_from(sorted(self.held)))
        return key, self.held[key]

    @precondition(lambda self: self.issued)
    @rule(data=st.data(), stale=st.sampled_from([False, False, False, True]))
    def admit_again(self, data: st.DataObject, stale: bool) -> None:
        self.admit(data, stale, self.gates)

    def admit(self, data: st.DataObject, stale: bool, gates: list[Gate]) -> None:
        key, pair = self._pair(data, stale)
        mine = self.run(self.memory.admit(key, pair[0], gates, DAY))
        theirs = self.run(self.redis.admit(key, pair[1], gates, DAY))
        assert (mine.verdict, mine.gate) == (theirs.verdict, theirs.gate)
        assert self.band(mine.until) == self.band(theirs.until)
        if mine.verdict in ("defer", "wait") and self.held.get(key) == pair:
            del self.held[key]  # back on the schedule: the lease is gone

    @precondition(lambda self: self.issued)
    @rule(data=st.data(), stale=st.booleans())
    def finish(self, data: st.DataObject, stale: bool) -> None:
        key, pair = self._pair(data, stale)
        mine = self.run(self.memory.finish([Finish(key, pair[0])]))
        theirs = self.run(self.redis.finish([Finish(key, pair[1])]))
        assert mine == theirs
        if mine == [True]:
            del self.held[key]

    @precondition(lambda self: self.issued)
    @rule(data=st.data())
    def release_slots(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted({key for key, _ in self.issued})))
        mine, theirs = self.both("release_slots", key, self.gates)
        assert mine == theirs

    @precondition(lambda self: self.issued)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted({key for key, _ in self.issued})))
        mine, theirs = self.both("cancel", [key])
        assert mine == theirs

    @invariant()
    def same_limits(self) -> None:
        mine, theirs = self.both("limits", 10)
        assert mine == theirs

    @invariant()
    def same_schedule(self) -> None:
        mine, theirs = self.both("snapshot", 100)
        assert [(t.key, self.band(t.due)) for t in mine.scheduled] == [
            (t.key, self.band(t.due)) for t in theirs.scheduled
        ]
        assert sorted(t.key for t in mine.running) == sorted(t.key for t in theirs.running)


# Bounded by its example count, not a hang risk: the suite's 60 s timeout is a hang
# detector, and on a busy 2-core machine this run took 86 s.
@pytest.mark.timeout(300)
def test_the_memory_and_redis_stores_make_the_same_admission_decisions() -> None:
    case = AdmissionsAgree.TestCase
    case.settings = settings(
        max_examples=40,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    case().runTest()
