"""The Store contract for what `strew snapshot` shows beyond the schedule's head: when each
running task was claimed, and how many tasks of each state call each function. Both stores."""

from __future__ import annotations

import pickle
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from strew import Agenda, Docket
from strew.stores import Store
from strew.stores.records import Entry, Finish, FunctionTally, Release, function_in, scaled
from strew.task.envelope import dump_payload, load_payload

LEASE = 60_000_000
HOUR = timedelta(hours=1)


async def envelopes(store: Store, names: list[str], prefix: str = "k") -> list[Entry]:
    now = await store.now()
    return [
        Entry(f"{prefix}{i}", now - 10 + i, dump_payload(name, (i,), {}, now, 1))
        for i, name in enumerate(names)
    ]


# -- when a running task was claimed -----------------------------------------------------------


async def test_a_running_task_carries_the_store_time_of_its_claim(store: Store) -> None:
    await store.schedule(await envelopes(store, ["a"]), replace=False)
    before = await store.now()
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    after = await store.now()
    [running] = (await store.snapshot(0)).running
    assert running.started is not None and before <= running.started <= after
    state = await store.task_state(claim.key)
    assert state.running is not None and state.running.started == running.started
    assert await store.finish([Finish(claim.key, claim.token)]) == [True]
    assert (await store.task_state(claim.key)).running is None


async def test_a_redelivery_is_a_new_claim_with_its_own_time_and_the_old_due_time(
    store: Store,
) -> None:
    [entry] = await envelopes(store, ["a"])
    await store.schedule([entry], replace=False)
    [lost] = (await store.claim("dead", 1, 1, 0)).claims  # a 1 us lease: over at once
    [first] = (await store.snapshot(0)).running
    later = await store.now()
    [again] = (await store.claim("w2", 1, LEASE, 0)).claims
    assert again.redelivered and again.due == lost.due == entry.due
    [second] = (await store.snapshot(0)).running
    assert first.started is not None and second.started is not None
    assert second.started >= later > first.started
    # Released, held and claimed again: the due time survives each move, a claim time each.
    assert await store.release([Release("k0", again.token, entry.due)]) == [True]
    version = await store.add_strike(b"rule")
    [third] = (await store.claim("w3", 1, LEASE, 0)).claims
    assert third.due == entry.due
    assert await store.hold([("k0", third.token)], version) == [True]
    total, [held] = await store.held_tasks(1)
    assert (total, held.due) == (1, entry.due)
    await store.remove_strike(b"rule")
    [fourth] = (await store.claim("w4", 1, LEASE, 0)).claims
    assert fourth.due == entry.due
    [running] = (await store.snapshot(0)).running
    assert running.started is not None and running.started >= second.started


# -- counts per task function ------------------------------------------------------------------


async def test_counts_per_function_cover_scheduled_running_and_held_tasks(store: Store) -> None:
    names = ["send"] * 3 + ["refresh"] * 2 + ["é" * 300]  # a name too long for one byte
    entries = await envelopes(store, names)
    entries.append(Entry("garbage", entries[-1].due + 1, b"not an envelope"))
    entries.append(Entry("empty", entries[-1].due + 1, b""))
    await store.schedule(entries, replace=False)
    claims = (await store.claim("w", 3, LEASE, 0)).claims  # the three "send"s, due first
    version = await store.add_strike(b"rule")
    assert await store.hold([(claims[0].key, claims[0].token)], version) == [True]
    counts = await store.count_functions(100, 10)
    assert counts.scheduled == FunctionTally(5, {"refresh": 2, "é" * 300: 1, "": 2}, exact=True)
    assert counts.running == FunctionTally(2, {"send": 2}, exact=True)
    assert counts.held == FunctionTally(1, {"send": 1}, exact=True)


async def test_counts_of_an_empty_docket_are_empty_and_exact(store: Store) -> None:
    counts = await store.count_functions(100, 10)
    for tally in (counts.scheduled, counts.running, counts.held):
        assert tally == FunctionTally(0, {}, exact=True)


async def test_a_state_larger_than_the_cap_is_estimated_from_a_sample(store: Store) -> None:
    await store.schedule(await envelopes(store, ["one"] * 40), replace=False)
    estimate = await store.count_functions(10, 8)
    assert estimate.scheduled == FunctionTally(40, {"one": 40}, exact=False)
    await store.schedule(await envelopes(store, ["two"] * 40, prefix="t"), replace=False)
    mixed = (await store.count_functions(79, 20)).scheduled
    assert (mixed.total, mixed.exact) == (80, False)
    assert set(mixed.counts) <= {"one", "two"}
    # Each sampled task stands for four: the estimate is a multiple of 4 summing to 80.
    assert sum(mixed.counts.values()) == 80
    assert all(count % 4 == 0 for count in mixed.counts.values())
    assert (await store.count_functions(80, 20)).scheduled == FunctionTally(
        80, {"one": 40, "two": 40}, exact=True
    )


async def test_counts_read_the_payloads_that_docket_and_agenda_write(docket: Docket) -> None:
    async def plain(n: int) -> None: ...

    async def odd(thing: object) -> None: ...

    agenda = Agenda()
    for n in range(3):
        agenda.add(plain)(n)
    await agenda.scatter(docket, over=timedelta(hours=1), start=datetime.now(UTC) + HOUR)
    await docket.add(plain, when=datetime.now(UTC) + HOUR)(9)
    await docket.add(odd, when=datetime.now(UTC) + HOUR)(lambda: None)  # cloudpickled
    counts = await docket.count_by_function()
    assert counts.scheduled == FunctionTally(5, {"plain": 4, "odd": 1}, exact=True)
    with pytest.raises(
        ValueError, match="sample must be an integer from 1 to cap \\(10\\), got 11"
    ):
        await docket.count_by_function(cap=10, sample=11)
    with pytest.raises(ValueError, match="cap must be a non-negative integer, got -1"):
        await docket.count_by_function(cap=-1)
    await docket.clear()


def test_scaled_rounds_each_name_and_never_drops_one_that_was_seen() -> None:
    assert scaled(10, 10, {"a": 7, "b": 3}) == FunctionTally(10, {"a": 7, "b": 3}, exact=True)
    assert scaled(1000, 10, {"a": 9, "b": 1}) == FunctionTally(
        1000, {"a": 900, "b": 100}, exact=False
    )
    assert scaled(10_000, 3, {"a": 3}).counts == {"a": 10_000}
    assert scaled(5, 0, {}) == FunctionTally(5, {}, exact=False)


@pytest.mark.parametrize(
    "name",
    ["send", "", "x" * 255, "x" * 256, "ünïcode", "a.b:c", "tab\tname"],
)
def test_the_name_read_from_an_envelope_is_the_one_load_payload_reads(name: str) -> None:
    for args in ((1, "two"), (object(),), (b"x" * 200_000,), (lambda: 1,)):
        payload = dump_payload(name, args, {"k": 1}, 123, 2, {"traceparent": "00-x"})
        assert function_in(payload) == load_payload(payload).function_name == name
    older = pickle.dumps((1, name, (), {}, 0, 1, None), protocol=4)
    assert function_in(older) == name


def test_what_is_not_an_envelope_has_no_name() -> None:
    good = dump_payload("send", (), {}, 0, 1)
    for payload in (
        b"",
        b"\x80",
        b"not a pickle",
        good[: good.index(b"send") + 2],  # cut inside the name
        pickle.dumps((2, "send", (), {}, 0, 1, None)),  # another envelope version
        pickle.dumps(["send"]),
        pickle.dumps((1, b"send", (), {}, 0, 1, None)),  # a name that is not a str
    ):
        assert function_in(payload) == "", payload
    counted = Counter(function_in(p) for p in (good, good, b"x"))
    assert counted == {"send": 2, "": 1}
