"""The memory and Redis stores agree on scatters and their re-spreads, hand-backs included.

The machine of tests/contract/test_store_model.py, with three more operations mixed into its random
schedules, claims, finishes and releases: writing part of a scatter (`schedule_batch`),
re-spreading it while offering some claims back, valid or stale (`respread_batch`), and
cancelling it (`cancel_batch`). Both stores must answer alike and hold the same afterwards.

Times a scatter gives (whole seconds and a quarter) and the starts of re-spreads (whole
seconds and a half, so every time they give ends in a half) never equal a time the other
operations choose (whole seconds): a key put back on the schedule by a plain schedule or a
release at exactly a time the scatter once gave it is a case the two stores treat
differently, each as old as the scatters themselves (Redis remembers every time a scatter
gave a key, the memory store the latest), and not one the worker ever makes.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import rule

from strew.stores.records import Entry

from .test_store_model import DAY, HOUR, KEYS, OFFSETS, PAYLOADS, WORKERS, StoresAgree

SECOND = 1_000_000
BATCHES = st.sampled_from(["s", "t"])
SPACINGS = st.sampled_from([0, SECOND, 3 * SECOND])
# Mostly thresholds that some of the past times pass, so that claims do go back.
OVERDUES = st.sampled_from([0, 0, SECOND, 2 * SECOND, 10 * SECOND, 2 * HOUR])
# Scatters mostly in the past: what is overdue is what catch-up is about.
MOSTLY_PAST = st.sampled_from([True, True, True, False])


class BatchesAgree(StoresAgree):
    @rule(
        batch=BATCHES,
        tasks=st.lists(st.tuples(KEYS, MOSTLY_PAST, OFFSETS, PAYLOADS), min_size=1, max_size=5),
    )
    def scatter(self, batch: str, tasks: list[tuple[str, bool, int, bytes]]) -> None:
        entries = [
            Entry(key, self.due(past, offset + SECOND // 4), payload)
            for key, past, offset, payload in tasks
        ]
        mine, theirs = self.both("schedule_batch", batch, entries, DAY)
        assert mine == theirs

    def _respread(
        self,
        batch: str,
        past: bool,
        spacing: int,
        overdue: int,
        offered: list[tuple[str, tuple[str, str]]],
    ) -> None:
        # In the middle of the past or the future times, on a half second.
        middle = 2 * SECOND + SECOND // 2
        start = self.ref - HOUR - middle if past else self.ref + HOUR + middle
        mine = self.run(
            self.memory.respread_batch(
                batch, start, spacing, overdue, [(key, pair[0]) for key, pair in offered]
            )
        )
        theirs = self.run(
            self.redis.respread_batch(
                batch, start, spacing, overdue, [(key, pair[1]) for key, pair in offered]
            )
        )
        assert mine == theirs
        for (key, pair), back in zip(offered, mine.handed_back, strict=True):
            if back:
                assert self.held.pop(key) == pair
                self.expired.discard(key)

    @rule(
        data=st.data(),
        batch=BATCHES,
        past=st.booleans(),
        spacing=SPACINGS,
        overdue=OVERDUES,
        stale=st.booleans(),
    )
    def respread(
        self,
        data: st.DataObject,
        batch: str,
        past: bool,
        spacing: int,
        overdue: int,
        stale: bool,
    ) -> None:
        offered: list[tuple[str, tuple[str, str]]] = []
        if self.held:
            offered += data.draw(st.lists(st.sampled_from(sorted(self.held.items())), max_size=3))
        if stale and self.issued:
            offered.append(data.draw(st.sampled_from(self.issued)))
        self._respread(batch, past, spacing, overdue, offered)

    @rule(
        worker=WORKERS,
        limit=st.integers(min_value=1, max_value=4),
        batch=BATCHES,
        spacing=SPACINGS,
        overdue=OVERDUES,
    )
    def claim_and_hand_back(
        self, worker: str, limit: int, batch: str, spacing: int, overdue: int
    ) -> None:
        """What a returning worker does: claim what is due, offer it all back."""
        before = len(self.issued)
        self._claim(worker, limit, DAY, far_horizon=False)
        self._respread(batch, True, spacing, overdue, self.issued[before:])

    @rule(batch=BATCHES)
    def cancel_batch(self, batch: str) -> None:
        mine, theirs = self.both("cancel_batch", batch)
        assert mine == theirs


# Bounded by its example count, not a hang risk: the suite's 60 s timeout is a hang
# detector, and on a busy 2-core machine this run took 86 s.
@pytest.mark.timeout(300)
def test_the_stores_agree_on_scatters_respreads_and_hand_backs() -> None:
    case = BatchesAgree.TestCase
    case.settings = settings(
        max_examples=60,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    case().runTest()
