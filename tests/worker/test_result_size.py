"""A result too large to keep: the run fails once, with an error saying so, and is
acknowledged; it never reruns because its acknowledgement could not be written.

Against a redis-server of the test's own whose bulk limit is 1 MB (its lowest), so both a
result over the docket's ``max_result_size`` and one Redis itself refuses are tried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta

import pytest

from strew import Docket, ResultTooLarge, StoreError, StoreUnavailable, Worker
from strew.stores.records import Entry, Finish, Record
from strew.testing import RedisServer

MiB = 1 << 20
runs: list[int] = []


async def big() -> bytes:
    runs.append(1)
    return b"x" * (2 * MiB)


async def small() -> int:
    return 7


@pytest.fixture(scope="module")
def small_redis() -> Iterator[RedisServer]:
    with RedisServer(appendonly=False, extra=["--proto-max-bulk-len", "1mb"]) as server:
        yield server


async def run_big(url: str, name: str, max_result_size: int) -> tuple[Docket, Worker]:
    runs.clear()
    docket = Docket(name, url=url, max_result_size=max_result_size)
    docket.register(big)
    docket.register(small)
    execution = await docket.add(big, key="big")()
    await docket.add(small, key="small")()
    worker = Worker(
        docket,
        redelivery_timeout=timedelta(seconds=1),
        reconnection_delay=timedelta(milliseconds=100),
    )
    # Before the fix this never ended: the acknowledgement was refused, the lease lapsed
    # and the task ran again, over and over.
    await asyncio.wait_for(worker.run_until_finished(), 30)
    assert runs == [1]
    done = await docket.get_execution("small")
    assert done is not None and await done.get_result() == 7
    assert execution.key == "big"
    return docket, worker


async def test_a_result_over_max_result_size_fails_its_run_once(
    small_redis: RedisServer, docket_name: str
) -> None:
    docket, worker = await run_big(small_redis.url, docket_name, 512 * 1024)
    try:
        assert (worker.stats.failed, worker.stats.succeeded) == (1, 1)
        execution = await docket.get_execution("big")
        assert execution is not None
        with pytest.raises(ResultTooLarge, match=r"2,097,\d+ bytes.*max_result_size of 524,288"):
            await execution.get_result()
    finally:
        await docket.store.destroy()
        await docket.store.close()


async def test_a_result_the_server_refuses_for_its_size_fails_its_run_once(
    small_redis: RedisServer, docket_name: str
) -> None:
    docket, worker = await run_big(small_redis.url, docket_name, 64 * MiB)
    try:
        # The run ended well as far as the worker knew; only its acknowledgement was refused.
        assert worker.stats.lost_leases == 0
        execution = await docket.get_execution("big")
        assert execution is not None
        with pytest.raises(ResultTooLarge, match=r"2,097,\d+ bytes.*refused"):
            await execution.get_result()
    finally:
        await docket.store.destroy()
        await docket.store.close()


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "16MiB", None])
def test_max_result_size_must_be_a_positive_whole_number_of_bytes(value: object) -> None:
    with pytest.raises((TypeError, ValueError), match=f"max_result_size.*{value!r}"):
        Docket("strew", url="memory://x", max_result_size=value)  # type: ignore[arg-type]


def test_max_result_size_defaults_to_16_mib() -> None:
    assert Docket("strew", url="memory://x").max_result_size == 16 * MiB


async def test_a_value_over_the_servers_bulk_limit_is_a_refusal_never_an_outage(
    small_redis: RedisServer, docket_name: str
) -> None:
    # Redis answers such a request with an error, or drops the connection while it is still
    # being written (which one depends on timing): both must read as a refusal.
    async with Docket(docket_name, url=small_redis.url) as docket:
        try:
            store = docket.store
            for attempt in range(5):
                await store.schedule([Entry(f"k{attempt}", 0, b"p")], replace=False)
                [claim] = (await store.claim("w", 1, 60_000_000, 0)).claims
                finish = Finish(claim.key, claim.token, record=Record(b"x" * (2 * MiB), 10**6))
                with pytest.raises(StoreError) as refused:
                    await store.finish([finish])
                assert not isinstance(refused.value, StoreUnavailable)
                assert await store.finish([Finish(claim.key, claim.token)]) == [True]
        finally:
            await docket.store.destroy()
