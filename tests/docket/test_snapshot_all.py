"""`Docket.snapshot()` shows every scheduled task, as pydocket's does; ``limit`` is strew's
way to read only the earliest few of a huge docket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from strew import Docket

LATER = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
MANY = 2_500
"""More than one page of the snapshot's first read (1,000), and not a multiple of it."""


async def later(n: int) -> None:
    """A task these tests never run."""


async def test_a_snapshot_holds_every_scheduled_task_by_default(docket: Docket) -> None:
    calls = [
        docket.call(later, when=LATER + timedelta(seconds=n), key=f"k{n}")(n) for n in range(MANY)
    ]
    await docket.add_many(calls)
    snapshot = await docket.snapshot()
    assert snapshot.total_tasks == MANY
    assert len(snapshot.future) == MANY
    assert [e.key for e in snapshot.future] == [f"k{n}" for n in range(MANY)]


async def test_a_limited_snapshot_reads_only_the_earliest_but_counts_them_all(
    docket: Docket,
) -> None:
    calls = [
        docket.call(later, when=LATER + timedelta(seconds=n), key=f"k{n}")(n) for n in range(30)
    ]
    await docket.add_many(calls)
    snapshot = await docket.snapshot(limit=5)
    assert [e.key for e in snapshot.future] == ["k0", "k1", "k2", "k3", "k4"]
    assert snapshot.total_tasks == 30
    assert (await docket.snapshot(limit=0)).future == []
    assert len((await docket.snapshot(limit=None)).future) == 30


async def test_a_snapshot_of_an_empty_docket_is_empty(docket: Docket) -> None:
    snapshot = await docket.snapshot()
    assert (snapshot.total_tasks, snapshot.future, snapshot.held) == (0, [], [])
