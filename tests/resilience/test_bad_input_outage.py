"""Bad input of another kind: a Redis that is down, or that dies part-way through a call.

Every call on a Redis that is down fails fast with `StoreUnavailable` naming the URL and the
step, and nothing it was refused is written later. A Redis that dies at any point of a call
(cut off by `CuttingProxy` before a request arrives, or after Redis ran it but before the
reply came back) leaves what was stored before intact: tasks the call did not target are
byte for byte as they were, an atomic step happened whole or not at all, and whatever the
call did write is a whole task it meant to write.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from strew import Agenda, Docket, StoreError, Worker
from strew.stores import StoreUnavailable
from strew.task.clock import to_micros
from strew.task.envelope import load_payload
from strew.testing import RedisServer, free_port

from ..bad_input import WHEN, agenda_of, greet, raw_state, says
from ..cutting_proxy import CuttingProxy
from ..helpers import redis_store, wait_until


@pytest.fixture
async def down_docket() -> AsyncIterator[Docket]:
    """A docket pointed at a loopback port where nothing listens."""
    async with Docket("sweep-down", f"redis://127.0.0.1:{free_port()}/0") as docket:
        docket.register(greet)
        yield docket


DOWN_CALLS: list[tuple[str, Callable[[Docket], Any]]] = [
    ("read the strikes", lambda d: d.add(greet)("Ada")),  # checked before any write
    ("read the strikes", lambda d: d.replace(greet, key="k")("Ada")),  # checked before any write
    ("read the strikes", lambda d: d.add_many([d.call(greet)("Ada")])),  # checked before any write
    ("cancel tasks", lambda d: d.cancel("k")),
    ("take a snapshot", lambda d: d.snapshot()),
    ("count scheduled tasks", lambda d: d.scheduled_histogram(WHEN, WHEN + timedelta(1), 4)),
    ("clear the schedule", lambda d: d.clear()),
    ("read the server clock", lambda d: agenda_of(3).scatter(d, over=timedelta(seconds=1))),
    ("cancel a batch", lambda d: Agenda.cancel(d, "some-scatter")),
    ("read the quarantine", lambda d: d.quarantined()),
    ("drop quarantined tasks", lambda d: d.drop_quarantined(["k"])),
    ("drop quarantined tasks", lambda d: d.clear_quarantine()),
]


@pytest.mark.parametrize(
    ("what", "call"), DOWN_CALLS, ids=[f"{i}-{w}" for i, (w, _) in enumerate(DOWN_CALLS)]
)
async def test_every_call_on_a_redis_that_is_down_fails_fast_naming_the_url_and_the_step(
    down_docket: Docket, what: str, call: Callable[[Docket], Any]
) -> None:
    started = time.monotonic()
    with pytest.raises(
        StoreUnavailable, match=says("could not reach Redis at", down_docket.url, what)
    ):
        await call(down_docket)
    # A producer must hear about it in seconds, not after a minute of silent retries.
    assert time.monotonic() - started < 20


async def test_a_worker_on_a_redis_that_is_down_keeps_retrying_and_stops_cleanly(
    down_docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker(down_docket, reconnection_delay=timedelta(milliseconds=100))
    running = asyncio.create_task(worker.run_forever())
    await wait_until(
        lambda: "could not claim tasks" in caplog.text, timeout=20, message="a claim failure"
    )
    assert not running.done()
    worker.stop()
    await asyncio.wait_for(running, timeout=20)


async def test_calls_refused_while_redis_is_down_are_not_replayed_when_it_returns(
    redis_server: RedisServer,
) -> None:
    # Every call here fails before reaching Redis (it is stopped first): what this shows is
    # that nothing refused is queued in the client and written once Redis is back. Redis
    # dying *during* a call is the next test.
    async with Docket("sweep-outage", redis_server.url) as docket:
        await docket.add(greet, when=WHEN, key="kept")("Ada")
        await agenda_of(3).scatter(docket, over=timedelta(minutes=1), start=WHEN)
        before = await raw_state(docket)
        redis_server.stop()
        for _, call in DOWN_CALLS:
            with pytest.raises(StoreUnavailable):
                await call(docket)
        redis_server.start()
        await wait_until(lambda: _answers(docket), timeout=20, message="redis back")
        assert await raw_state(docket) == before


async def _answers(docket: Docket) -> bool:
    try:
        await docket.store.now()
    except StoreUnavailable:
        return False
    return True


# -- Redis dying part-way through a call --------------------------------------------------------

LATER = WHEN + timedelta(hours=1)
Tasks = dict[str, tuple[int, bytes]]  # key -> (due, payload)


@dataclass(frozen=True)
class Cut:
    """A call to make while Redis may die, and what it may leave when it fails."""

    name: str
    call: Callable[[Docket], Awaitable[object]]
    adds: frozenset[str] = frozenset()  # keys it may add, each a whole task of its own
    whole: bool = False  # the adds come all or none (an atomic scatter)
    removes: frozenset[str] = frozenset()  # keys it may take away
    replaces: str | None = None  # a key it may supersede, with this call's task


def scatter_of(count: int) -> Callable[[Docket], Awaitable[object]]:
    async def call(docket: Docket) -> object:
        agenda = Agenda()
        for i in range(count):
            agenda.add(greet, key=f"s{i}")(f"s{i}")
        return await agenda.scatter(docket, over=timedelta(minutes=1), start=WHEN, chunk_size=4)

    return call


CUTS = [
    Cut("add", lambda d: d.add(greet, when=WHEN, key="new")("new"), adds=frozenset({"new"})),
    Cut(
        "add_many",
        lambda d: d.add_many(
            [d.call(greet, when=WHEN, key=f"m{i}")(f"m{i}") for i in range(5)], chunk_size=2
        ),
        adds=frozenset(f"m{i}" for i in range(5)),
    ),
    Cut(
        "replace",
        lambda d: d.replace(greet, when=LATER, key="already-here")("replaced"),
        replaces="already-here",
    ),
    Cut(
        "scatter",
        scatter_of(10),
        adds=frozenset(f"s{i}" for i in range(10)),
        whole=True,
    ),
    Cut("cancel", lambda d: d.cancel("already-here"), removes=frozenset({"already-here"})),
    Cut("clear", lambda d: d.clear(), removes=frozenset({"already-here", "also-here"}), whole=True),
]


async def tasks_of(docket: Docket) -> Tasks:
    snapshot = await docket.store.snapshot(100_000)
    return {t.key: (t.due, t.payload) for t in snapshot.scheduled}


def check_what_it_left(cut: Cut, before: Tasks, after: Tasks) -> None:
    untouched = before.keys() - cut.removes - {cut.replaces}
    for key in untouched:
        assert after.get(key) == before[key], (cut.name, key, "changed")
    removed = cut.removes - after.keys()
    if cut.whole and cut.removes:
        assert removed in (set(), cut.removes), (cut.name, removed)
    for key in cut.removes & after.keys():
        assert after[key] == before[key], (cut.name, key, "half removed")
    if cut.replaces is not None and after.get(cut.replaces) != before[cut.replaces]:
        due, payload = after[cut.replaces]
        envelope = load_payload(payload)
        assert (due, envelope.function_name, envelope.args) == (
            to_micros(LATER),
            "greet",
            ("replaced",),
        ), (cut.name, "a replacement that is neither the old task nor the new one")
    added = after.keys() - before.keys()
    assert added <= cut.adds, (cut.name, added - cut.adds)
    if cut.whole and cut.adds:
        assert added in (set(), cut.adds), (cut.name, sorted(added))
    for key in added:
        envelope = load_payload(after[key][1])  # whole: it reads back as the task it was
        assert (envelope.function_name, envelope.args) == ("greet", (key,)), (cut.name, key)


async def merge_as_a_worker_would(docket: Docket) -> None:
    """A scatter cut off after its commit is committed: its merge onto the schedule is
    finished by the workers' claims (stores/redis/batches.py), as here."""
    store = redis_store(docket)
    client = aioredis.Redis.from_url(store.url)
    try:
        while await client.zcard(store._merging_key()):
            await store.claim("a-worker", 0, 1, 0)
    finally:
        await client.aclose()


async def stages_expire(url: str, name: str) -> bool:
    """A staged (uncommitted) scatter must not outlive its TTL."""
    client = aioredis.Redis.from_url(url)
    try:
        async for key in client.scan_iter(match=f"strew:{{{name}}}:*stage*"):
            if await client.pttl(key) <= 0:
                return False
        return True
    finally:
        await client.aclose()


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("cut", CUTS, ids=[cut.name for cut in CUTS])
async def test_redis_dying_at_any_point_of_a_call_leaves_what_was_stored_intact(
    cut: Cut, redis_url: str
) -> None:
    port = int(redis_url.rsplit(":", 1)[1].split("/", 1)[0])
    # On a Redis that has not cached the call's script yet, redis-py's EVALSHA gets NOSCRIPT
    # and a SCRIPT LOAD follows: cuts around those never write, and the first sweep to get
    # through loads the script, so that sweep can miss the cut between write and reply.
    # Sweep again until one fell there: every cut of every sweep is checked all the same.
    for _ in range(8):
        if await sweep_the_cut_points(cut, redis_url, port):
            return
    raise AssertionError(f"{cut.name}: no cut in 8 sweeps fell between its write and reply")


async def sweep_the_cut_points(cut: Cut, url: str, port: int) -> bool:
    """Cut the call off at its 1st, 2nd, ... chunk until it gets through, checking what each
    cut left; True when one of them fell after the write and before the reply."""
    visited = 0
    wrote_yet_failed = False
    for cut_after in range(1, 60):
        for reply_lost in (False, True):
            name = f"test-cut-{cut.name}-{uuid.uuid4().hex[:8]}"
            async with Docket(name, url) as direct:
                try:
                    await direct.add(greet, when=WHEN, key="already-here")("Ada")
                    await direct.add(greet, when=LATER, key="also-here")("Bo")
                    before = await tasks_of(direct)
                    async with (
                        CuttingProxy(port, cut_after, reply_lost) as proxy,
                        Docket(name, proxy.url) as cut_off,
                    ):
                        try:
                            await cut.call(cut_off)
                        except StoreError:
                            failed = True
                        else:
                            failed = False
                    await merge_as_a_worker_would(direct)
                    after = await tasks_of(direct)
                    check_what_it_left(cut, before, after)
                    wrote_yet_failed |= failed and after != before
                    assert await stages_expire(url, name), (cut.name, cut_after, "stage kept")
                finally:
                    await direct.store.destroy()
            if not failed:
                # The call got through before the cut: every earlier point was visited.
                assert visited > 0, f"{cut.name} was never cut off"
                return wrote_yet_failed
            visited += 1
    raise AssertionError(f"{cut.name} still failing after 59 cut points")
