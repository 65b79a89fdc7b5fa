"""A module-level Docket used from synchronous code, one ``asyncio.run`` after another (the
way a Django view or a script reaches it), keeps working: each event loop gets its own
connections, closed when that loop ends."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

from strew import Disposition, Docket, Execution
from strew.docket.loops import LoopLocalStore
from strew.stores.memory.store import _registry

from ..conftest import leftover_keys


async def greet(name: str) -> str:
    return f"hello {name}"


@pytest.fixture
def sync_docket(store_url: str, docket_name: str) -> Iterator[Docket]:
    docket = Docket(name=docket_name, url=store_url)
    yield docket

    async def tidy() -> None:
        async with docket:
            await docket.store.destroy()

    asyncio.run(tidy())
    if store_url.startswith("redis"):
        assert asyncio.run(leftover_keys(store_url, docket_name)) == []
    _registry.pop((store_url, docket_name), None)


async def add_greeting(docket: Docket, key: str) -> Execution:
    return await docket.add(greet, key=key)("friend")


def test_a_docket_adds_from_one_asyncio_run_after_another(sync_docket: Docket) -> None:
    dispositions = [
        asyncio.run(add_greeting(sync_docket, f"greet-{n}")).disposition for n in range(3)
    ]
    assert dispositions == [Disposition.SCHEDULED] * 3

    async def scheduled() -> int:
        return (await sync_docket.snapshot()).total_tasks

    assert asyncio.run(scheduled()) == 3


def test_a_docket_serves_two_threads_each_running_its_own_loop(sync_docket: Docket) -> None:
    failures: list[BaseException] = []

    def produce(thread: int) -> None:
        try:
            for n in range(5):
                asyncio.run(add_greeting(sync_docket, f"t{thread}-{n}"))
        except BaseException as error:  # pragma: no cover - reported below
            failures.append(error)

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []

    async def scheduled() -> int:
        return (await sync_docket.snapshot()).total_tasks

    assert asyncio.run(scheduled()) == 10


async def test_closing_a_docket_closes_the_connections_of_the_running_loop_only_once(
    docket: Docket,
) -> None:
    await docket.add(greet, key="once")("you")
    await docket.store.close()
    # A store closed and used again opens afresh on this loop instead of failing.
    assert (await docket.snapshot()).total_tasks == 1


@pytest.mark.parametrize("store_kind", ["redis"])
def test_a_loop_that_ended_leaves_no_store_behind(sync_docket: Docket) -> None:
    for n in range(3):
        asyncio.run(add_greeting(sync_docket, f"gone-{n}"))
    store = sync_docket.store
    assert isinstance(store, LoopLocalStore)
    # Each loop's store was closed and forgotten when its asyncio.run ended.
    assert len(store._stores) == 0
