"""The quarantine: a claimed task whose payload cannot be read is moved aside, not dropped.

The store operations are checked as a contract against both stores; then a real worker meets a
planted payload, and the ``strew quarantine`` command lists and drops what it moved aside.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from strew import Docket, Worker
from strew.stores import Store
from strew.stores.records import Claim, Entry, Finish, Quarantine

from ..cli.test_cli import strew

LEASE = 60_000_000
# Spaces, a NUL, a newline and bytes that are not UTF-8: a record must keep them exactly.
GARBAGE = b"not a pickle \x00 \n \xff\xfe 1 2 "
REASON = "unreadable: ünïcode, spaces  and\nlines"


async def claimed(
    store: Store, key: str = "bad", payload: bytes = GARBAGE, lease: int = LEASE
) -> Claim:
    now = await store.now()
    await store.schedule([Entry(key, now - 1, payload)], replace=False)
    [claim] = (await store.claim("w", 1, lease, 0)).claims
    return claim


# -- the store contract ------------------------------------------------------------------------


@pytest.mark.cluster
async def test_quarantine_moves_a_claim_out_of_its_lease_keeping_payload_and_reason(
    store: Store,
) -> None:
    claim = await claimed(store)
    before = await store.now()
    assert await store.quarantine([Quarantine("bad", claim.token, REASON)]) == [True]
    after = await store.now()
    [task] = await store.quarantined()
    assert (task.key, task.payload, task.reason) == ("bad", GARBAGE, REASON)
    assert before <= task.at <= after
    snapshot = await store.snapshot(10)
    assert (snapshot.scheduled_total, snapshot.running, snapshot.quarantined) == (0, [], 1)
    result = await store.claim("w2", 10, LEASE, 0)
    assert result.claims == [] and result.running == 0 and result.scheduled == 0


@pytest.mark.cluster
async def test_only_the_current_claim_can_quarantine_its_task(store: Store) -> None:
    lost = await claimed(store, lease=1)  # expires at once
    [again] = (await store.claim("w2", 1, LEASE, 0)).claims
    assert await store.quarantine([Quarantine("bad", lost.token, "late")]) == [False]
    assert await store.quarantine([Quarantine("nope", "x/1", "never claimed")]) == [False]
    assert await store.quarantined() == []
    assert (await store.snapshot(0)).running[0].token == again.token
    assert await store.quarantine([Quarantine("bad", again.token, "now")]) == [True]
    assert await store.finish([Finish("bad", again.token)]) == [False]


@pytest.mark.cluster
async def test_a_quarantined_task_is_never_claimed_again_even_after_its_lease(
    store: Store,
) -> None:
    claim = await claimed(store, lease=1)
    assert await store.quarantine([Quarantine("bad", claim.token, "x")]) == [True]
    await store.now()
    assert (await store.claim("w2", 10, LEASE, 10 * LEASE)).claims == []
    assert [t.key for t in await store.quarantined()] == ["bad"]


@pytest.mark.cluster
async def test_a_newer_schedule_of_the_key_still_runs_after_the_quarantine(store: Store) -> None:
    claim = await claimed(store)
    await store.schedule([Entry("bad", await store.now() - 1, b"fixed")], replace=True)
    assert (await store.claim("w", 5, LEASE, 0)).claims == []  # waits for the run to end
    assert await store.quarantine([Quarantine("bad", claim.token, "x")]) == [True]
    [fixed] = (await store.claim("w", 5, LEASE, 0)).claims
    assert (fixed.key, fixed.payload) == ("bad", b"fixed")
    assert [t.payload for t in await store.quarantined()] == [GARBAGE]


@pytest.mark.cluster
async def test_quarantining_a_key_again_overwrites_its_record(store: Store) -> None:
    first = await claimed(store)
    await store.quarantine([Quarantine("bad", first.token, "first")])
    second = await claimed(store, payload=b"second")
    await store.quarantine([Quarantine("bad", second.token, "second")])
    assert [(t.payload, t.reason) for t in await store.quarantined()] == [(b"second", "second")]


@pytest.mark.cluster
async def test_quarantined_tasks_are_listed_oldest_first_and_dropped_by_key_or_all(
    store: Store,
) -> None:
    for key in ("c", "a", "b"):
        claim = await claimed(store, key)
        await store.quarantine([Quarantine(key, claim.token, f"reason {key}")])
    assert [t.key for t in await store.quarantined()] == ["c", "a", "b"]
    assert await store.drop_quarantined([]) == 0
    assert await store.drop_quarantined(["a", "missing", "a"]) == 1
    assert [t.key for t in await store.quarantined()] == ["c", "b"]
    assert await store.clear() == 0  # clearing the schedule leaves the quarantine alone
    assert (await store.snapshot(0)).quarantined == 2
    assert await store.drop_quarantined(None) == 2
    assert await store.drop_quarantined(None) == 0
    assert await store.quarantined() == []


@pytest.mark.cluster
async def test_an_empty_quarantine_batch_changes_nothing(store: Store) -> None:
    assert await store.quarantine([]) == []
    assert (await store.snapshot(0)).quarantined == 0


# -- the worker ---------------------------------------------------------------------------------

ran: list[str] = []


async def note(label: str) -> None:
    ran.append(label)


@pytest.mark.cluster
async def test_a_worker_quarantines_a_corrupt_payload_and_keeps_running(docket: Docket) -> None:
    ran.clear()
    docket.register(note)
    now = await docket.store.now()
    await docket.store.schedule([Entry("planted", now - 1, GARBAGE)], replace=False)
    await docket.add(note, key="before")("before")
    worker = Worker(docket, poll_ceiling=timedelta(milliseconds=20))
    await worker.run_until_finished()
    await docket.add(note, key="after")("after")
    await worker.run_until_finished()  # the same worker goes on working
    assert sorted(ran) == ["after", "before"]
    assert worker.stats.quarantined == 1
    [task] = await docket.quarantined()
    assert (task.key, task.payload_size, task.payload) == ("planted", len(GARBAGE), GARBAGE)
    assert "unreadable task payload" in task.reason
    snapshot = await docket.snapshot()
    assert (snapshot.total_tasks, snapshot.quarantined) == (0, 1)
    assert await docket.drop_quarantined(["planted"]) == 1
    assert (await docket.snapshot()).quarantined == 0


async def test_a_very_long_reason_is_cut(docket: Docket) -> None:
    from strew.docket.quarantine import MAX_REASON, quarantine_claim

    claim = await claimed(docket.store)
    assert await quarantine_claim(docket.store, claim, "x" * 50_000)
    [task] = await docket.quarantined()
    assert len(task.reason) == MAX_REASON and task.reason.endswith("...")


@pytest.mark.parametrize("keys", [None, "planted", [""], [42]], ids=repr)
async def test_dropping_quarantined_tasks_needs_a_list_of_keys(
    docket: Docket, keys: object
) -> None:
    claim = await claimed(docket.store, "planted")
    await docket.store.quarantine([Quarantine("planted", claim.token, "x")])
    with pytest.raises((TypeError, ValueError), match="key"):
        await docket.drop_quarantined(keys)  # type: ignore[arg-type]
    assert [t.key for t in await docket.quarantined()] == ["planted"]
    assert await docket.clear_quarantine() == 1


# -- the command --------------------------------------------------------------------------------


async def test_strew_quarantine_lists_and_drops_what_a_worker_moved_aside(
    redis_docket: Docket, redis_url: str
) -> None:
    for key in ("planted-1", "planted-2", "planted-3"):
        claim = await claimed(redis_docket.store, key)
        await redis_docket.store.quarantine([Quarantine(key, claim.token, f"broken {key}")])
    where = ["--url", redis_url, "--docket", redis_docket.name]

    listed = await strew("quarantine", *where)
    assert listed.code == 0, listed.err
    assert "Quarantined (3)" in listed.out
    for key in ("planted-1", "planted-2", "planted-3"):
        row = next(line for line in listed.out.splitlines() if key in line)
        assert f"broken {key}" in row and f" {len(GARBAGE)} " in row

    snapshot = await strew("snapshot", *where)
    assert snapshot.code == 0, snapshot.err
    assert "3 quarantined tasks" in snapshot.out

    both = await strew("quarantine", *where, "--drop", "planted-1", "--drop-all")
    assert both.code == 2 and "not both" in both.err

    dropped = await strew("quarantine", *where, "--drop", "planted-1", "--drop", "missing")
    assert dropped.code == 1
    assert "Dropped 1 quarantined task" in dropped.out
    assert "1 of the keys given were not in the quarantine" in dropped.err

    everything = await strew("quarantine", *where, "--drop-all")
    assert everything.code == 0, everything.err
    assert "Dropped 2 quarantined tasks" in everything.out
    empty = await strew("quarantine", *where)
    assert "is empty" in empty.out
    assert await redis_docket.quarantined() == []


async def test_strew_quarantine_refuses_an_empty_key(redis_docket: Docket, redis_url: str) -> None:
    result = await strew(
        "quarantine", "--url", redis_url, "--docket", redis_docket.name, "--drop", ""
    )
    assert result.code == 2
    assert "key must not be empty" in result.err
