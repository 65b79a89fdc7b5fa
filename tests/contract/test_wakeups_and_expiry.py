"""Wake-ups and expiry: what makes a sleeping worker look again, and when things lapse.

The first half runs a worker whose poll ceiling is a minute, so that it only claims again
promptly when the store wakes it: a task that a finish, a release or a commit puts on the
schedule must run long before that minute is up (the wait below gives up after ten seconds,
and pytest's timeout guards the rest). Without the wake-up the worker sleeps the minute out.

The second half drives the memory store's injected clock to the exact microsecond at which
a lease, a TTL or a claim horizon ends, on both sides of it, and checks that the store's
tables are empty once what they held has expired.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from strew import Agenda, Docket, Worker
from strew.stores import Store
from strew.stores.memory.store import MemoryStore
from strew.stores.records import (
    Claim,
    ClaimResult,
    Entry,
    Finish,
    Notice,
    Quarantine,
    Record,
    Release,
    StoreError,
    Wake,
)

from ..helpers import wait_until

TEN_MINUTES = 600_000_000  # the outsider's lease, in microseconds: far past the ceiling
HOUR = 3_600_000_000


# -- a worker that sleeps a minute unless it is woken -------------------------------------


async def greet(name: str) -> None:
    RAN.append(name)


RAN: list[str] = []


@pytest.fixture
async def sleeping_worker(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """The fixture's value starts a worker with a one-minute poll ceiling and returns once
    that worker has claimed and found nothing to run, so that it is asleep. The worker is
    stopped at the end of the test."""
    RAN.clear()
    docket.register(greet)
    worker = Worker(docket, poll_ceiling=timedelta(minutes=1))
    empty_claims: list[ClaimResult] = []
    claim = docket.store.claim

    async def counting_claim(
        name: str, limit: int, lease: int, horizon: int, *, watch: int = 0
    ) -> ClaimResult:
        result = await claim(name, limit, lease, horizon, watch=watch)
        if name == worker.name and limit > 0 and not result.claims:
            # The claim loop goes straight from here to its sleep, without yielding first.
            empty_claims.append(result)
        return result

    monkeypatch.setattr(docket.store, "claim", counting_claim)
    started: list[asyncio.Task[None]] = []

    async def start_and_wait_until_asleep() -> None:
        started.append(asyncio.create_task(worker.run_forever()))
        await wait_until(lambda: bool(empty_claims), message="the worker to claim nothing")

    try:
        yield start_and_wait_until_asleep
    finally:
        worker.stop()
        for running in started:
            await running


async def taken_by_an_outsider(docket: Docket, name: str) -> Claim:
    """Schedule ``greet(name)`` under the key ``k`` and claim it in another worker's name,
    with a lease far longer than the poll ceiling."""
    await docket.add(greet, key="k")(name)
    [claim] = (await docket.store.claim("outsider", 1, TEN_MINUTES, 0)).claims
    return claim


async def ran(*names: str) -> None:
    await wait_until(lambda: list(names) == RAN, message=f"{names} to run")


async def test_a_finish_wakes_a_sleeping_worker_for_the_schedule_that_waited_for_it(
    docket: Docket, sleeping_worker: Callable[[], Awaitable[None]]
) -> None:
    claim = await taken_by_an_outsider(docket, "first")
    await docket.replace(greet, key="k")("second")  # waits for the outsider's run to end
    await sleeping_worker()
    assert await docket.store.finish([Finish("k", claim.token)]) == [True]
    await ran("second")


async def test_a_finish_that_reschedules_wakes_a_sleeping_worker(
    docket: Docket, sleeping_worker: Callable[[], Awaitable[None]]
) -> None:
    claim = await taken_by_an_outsider(docket, "again")
    await sleeping_worker()
    now = await docket.store.now()
    again = Entry("k", now, claim.payload)
    assert await docket.store.finish([Finish("k", claim.token, again)]) == [True]
    await ran("again")


async def test_a_release_wakes_a_sleeping_worker(
    docket: Docket, sleeping_worker: Callable[[], Awaitable[None]]
) -> None:
    claim = await taken_by_an_outsider(docket, "released")
    await sleeping_worker()
    assert await docket.store.release([Release("k", claim.token, claim.due)]) == [True]
    await ran("released")


@pytest.mark.parametrize("atomic", [True, False], ids=["committed", "streamed"])
async def test_a_scatter_wakes_a_sleeping_worker(
    docket: Docket, sleeping_worker: Callable[[], Awaitable[None]], atomic: bool
) -> None:
    await sleeping_worker()
    agenda = Agenda()
    agenda.add(greet)("a")
    agenda.add(greet)("b")
    await agenda.scatter(docket, over=timedelta(milliseconds=1), atomic=atomic)
    await ran("a", "b")


@pytest.mark.parametrize("ending", ["finish", "quarantine"])
async def test_the_end_of_a_run_wakes_listeners_for_the_due_time_of_the_schedule_that_waited(
    store: Store, ending: str
) -> None:
    notices = store.notifications()
    assert await anext(notices) == Wake(0)
    now = await store.now()
    await store.schedule([Entry("k", now - 1, b"first")], replace=False)
    assert await next_notice(notices) == Wake(now - 1)
    [claim] = (await store.claim("w", 1, TEN_MINUTES, 0)).claims
    await store.schedule([Entry("k", now + HOUR, b"second")], replace=True)
    assert await next_notice(notices) == Wake(now + HOUR)
    if ending == "finish":
        assert await store.finish([Finish("k", claim.token)]) == [True]
    else:
        assert await store.quarantine([Quarantine("k", claim.token, "bad")]) == [True]
    assert await next_notice(notices) == Wake(now + HOUR)
    await notices.aclose()  # type: ignore[attr-defined]


async def next_notice(notices: AsyncIterator[Notice]) -> Notice:
    notice = await anext(notices)
    while notice == Wake(0):  # (re)subscription marker
        notice = await anext(notices)
    return notice


# -- the memory store on an injected clock ------------------------------------------------


class Clock:
    """The memory store's clock, set by hand (microseconds)."""

    def __init__(self, now: int = 1_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def memory(clock: Clock) -> MemoryStore:
    return MemoryStore(clock)


T0 = 1_000_000


async def test_a_lease_holds_until_the_microsecond_before_its_deadline(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.schedule([Entry("a", T0, b"a")], replace=False)
    await memory.claim("w", 1, 100, 0)
    [running] = (await memory.snapshot(10)).running
    assert (running.lease_deadline, running.started) == (T0 + 100, T0)
    clock.now = T0 + 99
    early = await memory.claim("w2", 1, 100, 0)
    assert early.claims == [] and early.next_due == T0 + 100
    clock.now = T0 + 100
    [again] = (await memory.claim("w2", 1, 100, 0)).claims
    assert (again.key, again.redelivered) == ("a", True)
    assert memory._leases["a"].deadline == T0 + 200
    assert memory._leases["a"].started == T0 + 100


async def test_a_task_due_exactly_at_the_horizon_is_claimed_and_one_later_is_not(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.schedule([Entry("at", T0 + 50, b""), Entry("after", T0 + 51, b"")], replace=False)
    result = await memory.claim("w", 10, 100, 50)
    assert [c.key for c in result.claims] == ["at"]
    assert result.next_due == T0 + 51
    assert (await memory.claim("w", 10, 100, 49)).claims == []


async def test_a_task_due_exactly_now_counts_as_due(memory: MemoryStore, clock: Clock) -> None:
    await memory.schedule(
        [Entry("now", T0, b""), Entry("soon", T0 + 1, b""), Entry("late", T0 + 2, b"")],
        replace=False,
    )
    seen = await memory.claim("w", 0, 100, 0)
    assert (seen.scheduled, seen.due_now) == (3, 1)


async def test_a_stage_commits_until_its_ttl_is_up(memory: MemoryStore, clock: Clock) -> None:
    await memory.stage_batch("b", [Entry("a", T0, b"a")], 100)
    clock.now = T0 + 99
    assert await memory.commit_batch("b", 1, 1_000) == []
    assert memory._stages == {}


async def test_a_stage_is_gone_at_the_microsecond_its_ttl_is_up(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.stage_batch("b", [Entry("a", T0, b"a")], 100)
    clock.now = T0 + 100
    with pytest.raises(StoreError, match="0 of 1"):
        await memory.commit_batch("b", 1, 1_000)
    assert memory._stages == {} and memory._payloads == {}


async def test_staging_after_the_ttl_is_up_starts_a_new_count(
    memory: MemoryStore, clock: Clock
) -> None:
    assert await memory.stage_batch("b", [Entry("a", T0, b"a")], 100) == 1
    clock.now = T0 + 99
    assert await memory.stage_batch("b", [Entry("b", T0, b"b")], 100) == 2  # pushed back
    clock.now = T0 + 198  # a microsecond before the pushed-back expiry
    assert await memory.stage_batch("b", [Entry("c", T0, b"c")], 100) == 3
    clock.now = T0 + 298  # exactly at it
    assert await memory.stage_batch("b", [Entry("d", T0, b"d")], 100) == 1
    assert list(memory._stages["b"].items) == ["d"]


async def test_a_batch_cancels_its_members_until_their_ttl_is_up(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.schedule_batch("b", [Entry("a", T0 + 10_000, b"a")], 100)
    clock.now = T0 + 99
    assert await memory.cancel_batch("b") == 1
    assert memory._members == {} and memory._payloads == {}


async def test_a_batchs_members_are_forgotten_at_the_microsecond_their_ttl_is_up(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.schedule_batch("b", [Entry("a", T0 + 10_000, b"a")], 100)
    clock.now = T0 + 100
    assert await memory.cancel_batch("b") == 0
    assert memory._members == {}
    assert list(memory._payloads) == ["a"]  # the task itself stays scheduled


async def test_each_chunk_of_a_batch_pushes_back_when_its_members_are_forgotten(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.schedule_batch("b", [Entry("a", T0 + 10_000, b"a")], 100)
    clock.now = T0 + 50
    await memory.schedule_batch("b", [Entry("b", T0 + 10_000, b"b")], 100)
    clock.now = T0 + 149  # past the first chunk's 100, before the second's
    assert await memory.cancel_batch("b") == 2


async def test_a_respread_finds_no_members_once_their_ttl_is_up_and_forgets_them(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.schedule_batch("b", [Entry("a", T0 + 10, b"a")], 100)
    clock.now = T0 + 100
    assert (await memory.respread_batch("b", T0 + 100, 5, 0)).moved == 0
    assert memory._members == {}
    assert memory._payloads["a"][0] == T0 + 10


async def test_a_respread_still_moves_members_a_microsecond_before_their_ttl_is_up(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.schedule_batch("b", [Entry("a", T0 + 10, b"a")], 100)
    clock.now = T0 + 99
    assert (await memory.respread_batch("b", T0 + 99, 5, 0)).moved == 1
    assert memory._payloads["a"][0] == T0 + 104


async def finish_with_record(memory: MemoryStore, key: str, ttl: int) -> None:
    await memory.schedule([Entry(key, 0, b"")], replace=False)
    [claim] = (await memory.claim("w", 1, 1_000, 0)).claims
    assert await memory.finish([Finish(key, claim.token, record=Record(b"done", ttl))]) == [True]


async def test_a_record_is_kept_until_its_ttl_is_up_and_then_forgotten(
    memory: MemoryStore, clock: Clock
) -> None:
    await finish_with_record(memory, "a", 100)
    clock.now = T0 + 99
    assert (await memory.task_state("a")).record == b"done"
    clock.now = T0 + 100
    assert (await memory.task_state("a")).record is None
    await finish_with_record(memory, "b", 100)  # keeping a record forgets the expired ones
    assert list(memory._records) == ["b"]


async def test_progress_is_kept_until_its_ttl_is_up_and_then_starts_again(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.update_progress("a", total=10, advance=1, message="go", ttl=100)
    clock.now = T0 + 99
    kept = await memory.update_progress("a", total=None, advance=1, message=None, ttl=100)
    assert (kept.current, kept.total, kept.message) == (2, 10, "go")
    clock.now = T0 + 199  # 100 after the last update
    assert (await memory.task_state("a")).progress is None
    fresh = await memory.update_progress("a", total=None, advance=1, message=None, ttl=100)
    assert (fresh.current, fresh.total, fresh.message) == (1, None, None)


async def test_progress_whose_ttl_is_up_starts_again_behind_one_that_lives_longer(
    memory: MemoryStore, clock: Clock
) -> None:
    # The table is only swept from its front, which lives on: the update itself must see
    # that the progress of "b" lapsed at exactly this microsecond.
    await memory.update_progress("a", total=None, advance=5, message=None, ttl=1_000)
    await memory.update_progress("b", total=3, advance=2, message="half", ttl=100)
    clock.now = T0 + 100
    fresh = await memory.update_progress("b", total=None, advance=1, message=None, ttl=100)
    assert (fresh.current, fresh.total, fresh.message) == (1, None, None)
    assert (await memory.task_state("a")).progress is not None


async def test_expired_progress_of_other_keys_is_forgotten_on_the_next_update(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.update_progress("a", total=None, advance=1, message=None, ttl=100)
    clock.now = T0 + 100
    await memory.update_progress("b", total=None, advance=1, message=None, ttl=100)
    assert list(memory._progress) == ["b"]


async def test_a_worker_is_live_until_its_heartbeat_ttl_is_up_and_then_forgotten(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.heartbeat("w1", 100)
    clock.now = T0 + 99
    assert [w.name for w in (await memory.snapshot(10)).workers] == ["w1"]
    clock.now = T0 + 100
    assert (await memory.snapshot(10)).workers == []
    await memory.heartbeat("w2", 100)  # a heartbeat forgets the workers that lapsed
    assert list(memory._workers) == ["w2"]


async def test_after_everything_has_expired_the_memory_stores_tables_are_empty(
    memory: MemoryStore, clock: Clock
) -> None:
    await memory.stage_batch("staged", [Entry("s", T0, b"s")], 100)
    await memory.schedule_batch("streamed", [Entry("m", T0 + 10_000, b"m")], 100)
    await memory.heartbeat("w", 100)
    await memory.update_progress("p", total=None, advance=1, message=None, ttl=100)
    await finish_with_record(memory, "r", 100)
    clock.now = T0 + 100
    with pytest.raises(StoreError):
        await memory.commit_batch("staged", 1, 100)
    assert await memory.cancel_batch("streamed") == 0
    await memory.heartbeat("w", 100)
    await memory.forget_worker("w")
    await memory.update_progress("q", total=None, advance=1, message=None, ttl=100)
    await finish_with_record(memory, "s", 100)
    tables: dict[str, Any] = {
        "stages": memory._stages,
        "members": memory._members,
        "workers": memory._workers,
        "progress": set(memory._progress),
        "records": set(memory._records),
        "leases": memory._leases,
    }
    assert tables == {
        "stages": {},
        "members": {},
        "workers": {},
        "progress": {"q"},
        "records": {"s"},
        "leases": {},
    }
