"""The docket's watch, kept by each claim (docs/workers.md, "How a fleet wakes"): one worker
with room holds it, the others with room wait in line, and a watcher that fills up or stops
hands it to the first in line with a wake-up for that worker alone. Both stores."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from strew.stores import Store
from strew.stores.records import CancelRequested, Entry, Notice, Wake

from ..helpers import wait_until

pytestmark = [pytest.mark.cluster, pytest.mark.sentinel]

LEASE = 60_000_000  # a task lease: a minute
WATCH = 60_000_000  # a watch lease that does not lapse during a test


async def due_now(store: Store, *keys: str) -> None:
    now = await store.now()
    await store.schedule([Entry(key, now - 1, b"") for key in keys], replace=False)


async def next_handed(notices: AsyncIterator[Notice]) -> Wake:
    """The next wake-up handed to this listener alone (broadcasts skipped)."""
    while True:
        notice = await anext(notices)
        if isinstance(notice, Wake) and notice.handed:
            return notice


async def test_the_first_worker_with_room_watches_and_the_others_queue_up_in_order(
    store: Store,
) -> None:
    assert (await store.claim("a", 5, LEASE, 0, watch=WATCH)).standby == 0
    assert (await store.claim("b", 5, LEASE, 0, watch=WATCH)).standby == 1
    assert (await store.claim("c", 5, LEASE, 0, watch=WATCH)).standby == 2
    # The watcher claiming again keeps its watch; a standby checking in goes to the back.
    assert (await store.claim("a", 5, LEASE, 0, watch=WATCH)).standby == 0
    assert (await store.claim("b", 5, LEASE, 0, watch=WATCH)).standby == 2


async def test_a_claim_without_a_watch_lease_leaves_the_watch_alone(store: Store) -> None:
    assert (await store.claim("a", 5, LEASE, 0)).standby == 0
    assert (await store.claim("b", 5, LEASE, 0, watch=WATCH)).standby == 0  # b watches
    assert (await store.claim("a", 5, LEASE, 0)).standby == 0
    assert (await store.claim("c", 5, LEASE, 0, watch=WATCH)).standby == 1


async def test_a_watcher_that_fills_up_hands_the_watch_to_the_first_in_line_alone(
    store: Store,
) -> None:
    for_b, for_c = store.notifications("b"), store.notifications("c")
    assert await anext(for_b) == Wake(0) and await anext(for_c) == Wake(0)
    assert (await store.claim("a", 2, LEASE, 0, watch=WATCH)).standby == 0
    assert (await store.claim("b", 2, LEASE, 0, watch=WATCH)).standby == 1
    assert (await store.claim("c", 2, LEASE, 0, watch=WATCH)).standby == 2
    await due_now(store, "k1", "k2", "k3")
    full = await store.claim("a", 2, LEASE, 0, watch=WATCH)
    assert [claim.key for claim in full.claims] == ["k1", "k2"] and full.standby == 0
    handed = await next_handed(for_b)
    assert handed.handed and handed.due > 0
    # b now holds the watch: it takes the rest and stays on watch; a, with room again,
    # finds the watch held and waits in line behind c.
    taken = await store.claim("b", 2, LEASE, 0, watch=WATCH)
    assert [claim.key for claim in taken.claims] == ["k3"] and taken.standby == 0
    assert (await store.claim("a", 2, LEASE, 0, watch=WATCH)).standby == 2
    # c was handed nothing: all it hears, up to a marker broadcast, are broadcasts.
    await store.cancel(["k1"])  # b and c are told too
    heard = [await anext(for_c)]
    while not isinstance(heard[-1], CancelRequested):
        heard.append(await anext(for_c))
    assert not any(isinstance(notice, Wake) and notice.handed for notice in heard)
    for notices in (for_b, for_c):
        await notices.aclose()  # type: ignore[attr-defined]


async def test_a_watcher_that_stops_hands_the_watch_on(store: Store) -> None:
    for_b = store.notifications("b")
    assert await anext(for_b) == Wake(0)
    await store.claim("a", 2, LEASE, 0, watch=WATCH)
    assert (await store.claim("b", 2, LEASE, 0, watch=WATCH)).standby == 1
    await store.forget_worker("a")
    assert (await next_handed(for_b)).handed
    assert (await store.claim("b", 2, LEASE, 0, watch=WATCH)).standby == 0
    assert (await store.claim("a", 2, LEASE, 0, watch=WATCH)).standby == 1
    await for_b.aclose()  # type: ignore[attr-defined]


async def test_a_standby_worker_that_stops_leaves_the_line(store: Store) -> None:
    await store.claim("a", 2, LEASE, 0, watch=WATCH)
    await store.claim("b", 2, LEASE, 0, watch=WATCH)
    await store.forget_worker("b")
    assert (await store.claim("c", 2, LEASE, 0, watch=WATCH)).standby == 1


async def test_a_full_watcher_with_nobody_in_line_leaves_the_watch_free(store: Store) -> None:
    await store.claim("a", 1, LEASE, 0, watch=WATCH)
    await due_now(store, "k1")
    assert len((await store.claim("a", 1, LEASE, 0, watch=WATCH)).claims) == 1
    assert (await store.claim("b", 1, LEASE, 0, watch=WATCH)).standby == 0


async def test_a_watch_whose_holder_stops_claiming_lapses_to_the_next_that_checks(
    store: Store,
) -> None:
    short = 50_000  # 50 ms
    assert (await store.claim("a", 2, LEASE, 0, watch=short)).standby == 0
    assert (await store.claim("b", 2, LEASE, 0, watch=WATCH)).standby == 1

    async def b_watches() -> bool:
        return (await store.claim("b", 2, LEASE, 0, watch=WATCH)).standby == 0

    await wait_until(b_watches, message="the lapsed watch to pass to b")


async def test_workers_that_stop_checking_in_drop_out_of_the_line(store: Store) -> None:
    short = 20_000  # 20 ms: b waits in line for 60 ms
    await store.claim("a", 2, LEASE, 0, watch=WATCH)
    assert (await store.claim("b", 2, LEASE, 0, watch=short)).standby == 1

    async def c_alone_in_line() -> bool:
        return (await store.claim("c", 2, LEASE, 0, watch=WATCH)).standby == 1

    await wait_until(c_alone_in_line, message="b to drop out of the line")
