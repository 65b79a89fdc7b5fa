"""The Store contract for automatic chains, on both stores: `restore_chains` writes only the
chains that are gone, and a `Finish` with ``ends_chain`` keeps an ended chain ended."""

from __future__ import annotations

import asyncio

import pytest

from strew.stores import Store
from strew.stores.records import Entry, Finish, Wake

# The same assertions on a Redis Cluster too: only the URL differs.
pytestmark = pytest.mark.cluster

LEASE = 60_000_000
MINUTE = 60_000_000


async def chain(store: Store, key: str = "sweep", payload: bytes = b"step") -> Entry:
    return Entry(key, await store.now() - 1, payload)


async def end_by_itself(store: Store, key: str = "sweep") -> None:
    """Run the chain's step and acknowledge it as the run that ended the chain."""
    await store.schedule([await chain(store, key)], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    assert await store.finish([Finish(key, claim.token, ends_chain=True)]) == [True]


async def test_a_chain_that_is_gone_is_written_and_one_that_exists_is_left_alone(
    store: Store,
) -> None:
    first = await chain(store, payload=b"first")
    assert await store.restore_chains([first], first.due) == [True]
    again = await chain(store, payload=b"second")
    assert await store.restore_chains([again], again.due) == [False]
    [scheduled] = (await store.snapshot(10)).scheduled
    assert (scheduled.key, scheduled.payload) == ("sweep", b"first")


async def test_a_running_chain_is_alive(store: Store) -> None:
    await store.schedule([await chain(store)], replace=False)
    await store.claim("w", 1, LEASE, 0)
    assert await store.restore_chains([await chain(store)], 0) == [False]
    assert (await store.snapshot(10)).scheduled_total == 0


async def test_a_chain_a_strike_holds_is_alive(store: Store) -> None:
    await store.schedule([await chain(store)], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    version, _ = await store.strikes()
    assert await store.hold([("sweep", claim.token)], version) == [True]
    assert await store.restore_chains([await chain(store)], 0) == [False]
    assert (await store.snapshot(10)).scheduled_total == 0
    assert (await store.held_tasks(10))[0] == 1


async def test_a_chain_that_ended_itself_stays_ended_for_callers_that_started_before(
    store: Store,
) -> None:
    started = await store.now()
    await end_by_itself(store)
    assert await store.restore_chains([await chain(store)], started) == [False]
    assert (await store.snapshot(10)).scheduled_total == 0
    # Another chain in the same call is unaffected.
    flags = await store.restore_chains([await chain(store), await chain(store, "other")], started)
    assert flags == [False, True]


async def test_a_caller_that_started_after_the_end_starts_the_chain_again(store: Store) -> None:
    await end_by_itself(store)
    later = await store.now() + 1
    assert await store.restore_chains([await chain(store)], later) == [True]
    # Written again, the end is forgotten: lost once more, it comes back for everyone.
    assert await store.cancel(["sweep"]) == 1
    assert await store.restore_chains([await chain(store)], 0) == [True]


async def test_a_chain_found_alive_forgets_its_end(store: Store) -> None:
    started = await store.now()
    await end_by_itself(store)
    await store.schedule([await chain(store)], replace=False)  # added again by hand
    assert await store.restore_chains([await chain(store)], started) == [False]
    assert await store.cancel(["sweep"]) == 1  # then lost
    assert await store.restore_chains([await chain(store)], started) == [True]


async def test_an_end_is_ignored_when_the_chain_goes_on_anyway(store: Store) -> None:
    started = await store.now()
    # With a reschedule (a retry comes first): the chain goes on.
    await store.schedule([await chain(store)], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    retry = Entry("sweep", await store.now() + MINUTE, b"retry")
    assert await store.finish([Finish("sweep", claim.token, retry, ends_chain=True)]) == [True]
    assert await store.cancel(["sweep"]) == 1
    assert await store.restore_chains([await chain(store)], started) == [True]
    # With a newer schedule waiting for the run (a replace): that one goes on.
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    await store.schedule([Entry("sweep", await store.now() + MINUTE, b"new")], replace=True)
    assert await store.finish([Finish("sweep", claim.token, ends_chain=True)]) == [True]
    assert await store.cancel(["sweep"]) == 1
    assert await store.restore_chains([await chain(store)], started) == [True]


async def test_an_end_by_a_stale_token_is_not_remembered(store: Store) -> None:
    started = await store.now()
    await store.schedule([await chain(store)], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    assert await store.finish([Finish("sweep", claim.token + "x", ends_chain=True)]) == [False]
    assert await store.cancel(["sweep"]) == 0  # still running under the real claim
    assert await store.finish([Finish("sweep", claim.token)]) == [True]
    assert await store.restore_chains([await chain(store)], started) == [True]


async def test_destroy_forgets_ended_chains(store: Store) -> None:
    started = await store.now()
    await end_by_itself(store)
    await store.destroy()
    assert await store.restore_chains([await chain(store)], started) == [True]


async def test_restoring_a_chain_wakes_sleeping_workers(store: Store) -> None:
    notices = store.notifications()
    assert await anext(notices) == Wake(0)
    try:
        entry = await chain(store)
        await store.restore_chains([entry], entry.due)
        assert await asyncio.wait_for(anext(notices), timeout=5) == Wake(entry.due)
    finally:
        await notices.aclose()  # type: ignore[attr-defined]
