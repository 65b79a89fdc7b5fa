"""Reads in pages: a snapshot or a count by function bigger than one page (the Redis store
reads it in steps of a page, so that no step blocks Redis for long) returns what a read in one
step would, and a page never returns a task an earlier page did. Both stores; the page sizes
are lowered so that a few tasks make several pages (the memory store reads in one step)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from strew.stores import Store
from strew.stores.records import Entry, Release
from strew.stores.redis import snapshots
from strew.stores.redis.store import RedisStore
from strew.task.envelope import dump_payload

LEASE = 60_000_000


async def entries(store: Store, names: list[str], *, ties: int = 1) -> list[Entry]:
    """One task per name, ``ties`` of them due at each instant (equal scores are ordered by
    key, which a cursor has to respect)."""
    now = await store.now()
    return [
        Entry(f"k{i:03}", now - 1000 + i // ties, dump_payload(name, (i,), {}, now, 1))
        for i, name in enumerate(names)
    ]


def small_pages(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    for name in ("SNAPSHOT_PAGE", "COUNT_PAGE", "SAMPLE_PAGE"):
        monkeypatch.setattr(snapshots, name, size)


@pytest.mark.parametrize("ties", [1, 4])
async def test_a_snapshot_bigger_than_a_page_returns_what_one_page_would(
    store: Store, monkeypatch: pytest.MonkeyPatch, ties: int
) -> None:
    await store.schedule(await entries(store, ["a", "b", "c"] * 9, ties=ties), replace=False)
    whole = await store.snapshot(100)
    head = await store.snapshot(10)
    assert len(whole.scheduled) == 27
    small_pages(monkeypatch, 4)
    for limit, expected in [(100, whole), (10, head), (27, whole), (28, whole), (8, None)]:
        paged = await store.snapshot(limit)
        want = whole.scheduled[:limit] if expected is None else expected.scheduled
        assert paged.scheduled == want
        assert paged.scheduled_total == 27


async def test_counts_bigger_than_a_page_are_what_one_page_counts(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = ["a", "b", "b", "c", "c", "c"] * 5
    await store.schedule(await entries(store, names, ties=3), replace=False)
    whole = await store.count_functions(100, 10)
    assert whole.scheduled.exact and whole.scheduled.counts == dict(Counter(names))
    small_pages(monkeypatch, 4)
    assert await store.count_functions(100, 10) == whole
    assert await store.count_functions(30, 10) == whole  # exactly at the cap: still exact
    # Sampled in pages of 4, a sample as big as the state draws every task once: exact.
    assert (await store.count_functions(29, 30)).scheduled == whole.scheduled
    estimated = (await store.count_functions(29, 10)).scheduled
    assert not estimated.exact and estimated.total == 30
    assert set(estimated.counts) <= {"a", "b", "c"}


async def between_pages(
    store: Store, monkeypatch: pytest.MonkeyPatch, action: Callable[[], Awaitable[None]]
) -> None:
    """Run ``action`` once, just before the Redis store reads its second page."""
    assert isinstance(store, RedisStore)
    script = store._script
    done = False

    async def hooked(name: str, what: str, keys: list[str], args: list[Any]) -> Any:
        nonlocal done
        if name in ("snapshot_page", "count_functions") and not done and args[-3] != "":
            done = True
            await action()
        return await script(name, what, keys, args)

    monkeypatch.setattr(store, "_script", hooked)


@pytest.mark.parametrize("store_kind", ["redis"])
@pytest.mark.parametrize("ties", [1, 10])
async def test_a_task_claimed_and_put_back_between_two_pages_is_returned_once(
    store: Store, monkeypatch: pytest.MonkeyPatch, ties: int
) -> None:
    await store.schedule(await entries(store, ["a"] * 10, ties=ties), replace=False)
    small_pages(monkeypatch, 3)

    async def claim_and_put_back_last() -> None:
        [claim] = (await store.claim("w", 1, LEASE, 0)).claims  # k000, read by page one
        later = (await store.now()) + 3_600_000_000
        assert await store.release([Release(claim.key, claim.token, later)]) == [True]

    await between_pages(store, monkeypatch, claim_and_put_back_last)
    keys = [task.key for task in (await store.snapshot(100)).scheduled]
    assert keys == [f"k{i:03}" for i in range(10)]  # k000 once, where it was first read


@pytest.mark.parametrize("store_kind", ["redis"])
@pytest.mark.parametrize("ties", [1, 10])
async def test_a_page_goes_on_after_a_task_taken_away_between_two_pages(
    store: Store, monkeypatch: pytest.MonkeyPatch, ties: int
) -> None:
    names = ["a", "b"] * 5
    await store.schedule(await entries(store, names, ties=ties), replace=False)
    small_pages(monkeypatch, 3)

    async def cancel_the_cursor() -> None:
        assert await store.cancel(["k002"]) == 1  # the last task page one read

    await between_pages(store, monkeypatch, cancel_the_cursor)
    keys = [task.key for task in (await store.snapshot(100)).scheduled]
    assert keys == [f"k{i:03}" for i in range(10)]  # k002 as page one read it, none skipped
    monkeypatch.undo()
    small_pages(monkeypatch, 3)
    await store.clear()
    await store.schedule(await entries(store, names, ties=ties), replace=False)
    await between_pages(store, monkeypatch, cancel_the_cursor)
    tally = (await store.count_functions(100, 10)).scheduled
    assert tally.exact and tally.counts == {"a": 5, "b": 5} and tally.total == 10
