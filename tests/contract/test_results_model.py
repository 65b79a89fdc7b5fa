"""The two stores agree on records and progress too, under the same random operations.

Extends the state machine of test_store_model.py (every rule there still runs) with finishes
and cancels that leave records, progress updates, and an invariant comparing `task_state` of
every key on both stores.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from strew.stores.protocol import Store
from strew.stores.records import Entry, Finish, Record, TaskState

from .test_store_model import DAY, KEYS, OFFSETS, PAYLOADS, StoresAgree

RECORDS = st.one_of(st.none(), st.sampled_from([b"completed", b"failed", b"\x00"]))


class RecordsAgree(StoresAgree):
    @precondition(lambda self: self.issued)
    @rule(
        data=st.data(),
        stale=st.booleans(),
        again=st.one_of(st.none(), st.tuples(st.booleans(), OFFSETS, PAYLOADS)),
        record=RECORDS,
    )
    def finish_leaving_a_record(
        self,
        data: st.DataObject,
        stale: bool,
        again: tuple[bool, int, bytes] | None,
        record: bytes | None,
    ) -> None:
        key, pair = self._pair(data, stale or not self.held)
        entry = None if again is None else Entry(key, self.due(again[0], again[1]), again[2])
        kept = None if record is None else Record(record, DAY)
        mine = self.run(self.memory.finish([Finish(key, pair[0], entry, kept)]))
        theirs = self.run(self.redis.finish([Finish(key, pair[1], entry, kept)]))
        self._let_go(key, pair, (mine[0], theirs[0]))

    @rule(keys=st.lists(KEYS, max_size=3), record=RECORDS)
    def cancel_leaving_a_record(self, keys: list[str], record: bytes | None) -> None:
        kept = None if record is None else Record(record, DAY)
        mine, theirs = self.both("cancel", keys, kept)
        assert mine == theirs

    @rule(
        key=KEYS,
        total=st.one_of(st.none(), st.integers(min_value=0, max_value=9)),
        advance=st.integers(min_value=0, max_value=3),
        message=st.one_of(st.none(), st.sampled_from(["", "=", "reading", "ünïcode"])),
    )
    def report_progress(
        self, key: str, total: int | None, advance: int, message: str | None
    ) -> None:
        mine, theirs = self.both(
            "update_progress", key, total=total, advance=advance, message=message, ttl=DAY
        )
        assert (mine.current, mine.total, mine.message) == (
            theirs.current,
            theirs.total,
            theirs.message,
        )

    def state_picture(self, state: TaskState) -> object:
        scheduled, running, progress = state.scheduled, state.running, state.progress
        return (
            None if scheduled is None else (scheduled.due, scheduled.payload),
            None
            if running is None
            else (running.worker, running.payload, self.band(running.lease_deadline)),
            state.record,
            None if progress is None else (progress.current, progress.total, progress.message),
        )

    @invariant()
    def every_key_reads_the_same(self) -> None:
        for key in ("a", "b", "c", "d", "e"):
            stores: tuple[Store, Store] = (self.memory, self.redis)
            mine, theirs = (self.run(store.task_state(key)) for store in stores)
            assert self.state_picture(mine) == self.state_picture(theirs), key


# Bounded by its example count, not a hang risk: the suite's 60 s timeout is a hang
# detector, and on a busy 2-core machine this run took 86 s.
@pytest.mark.timeout(300)
def test_the_stores_agree_on_records_and_progress_under_random_operations() -> None:
    case = RecordsAgree.TestCase
    case.settings = settings(
        max_examples=20,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    case().runTest()
