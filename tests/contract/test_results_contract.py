"""The store contract for records and progress: `task_state`, `update_progress`, and the
record fields of `finish` and `cancel`, with the same assertions against both stores."""

from __future__ import annotations

import pytest

from strew.stores import Store
from strew.stores.records import Entry, Finish, Record

from ..helpers import wait_until

# The same assertions on a Redis Cluster too: only the URL differs.
pytestmark = pytest.mark.cluster

LEASE = 60_000_000
MINUTE = 60_000_000


async def due_now(store: Store, key: str = "k", payload: bytes = b"p") -> Entry:
    return Entry(key, await store.now() - 1, payload)


async def test_an_unknown_key_has_no_state_at_all(store: Store) -> None:
    state = await store.task_state("nobody")
    assert state.now > 0
    assert (state.scheduled, state.running, state.record, state.progress) == (None,) * 4


async def test_a_scheduled_key_shows_its_due_time_and_payload(store: Store) -> None:
    entry = Entry("k", await store.now() + MINUTE, b"payload")
    await store.schedule([entry], replace=False)
    state = await store.task_state("k")
    assert state.scheduled is not None and state.running is None
    assert (state.scheduled.due, state.scheduled.payload) == (entry.due, b"payload")


async def test_a_claimed_key_shows_its_lease_and_no_longer_its_schedule(store: Store) -> None:
    await store.schedule([await due_now(store)], replace=False)
    [claim] = (await store.claim("w1", 1, LEASE, 0)).claims
    state = await store.task_state("k")
    assert state.scheduled is None and state.running is not None
    assert (state.running.token, state.running.worker, state.running.payload) == (
        claim.token,
        "w1",
        b"p",
    )
    assert state.running.lease_deadline > state.now


async def test_a_replaced_running_key_shows_both_the_run_and_the_next_schedule(
    store: Store,
) -> None:
    await store.schedule([await due_now(store)], replace=False)
    await store.claim("w1", 1, LEASE, 0)
    await store.schedule([Entry("k", await store.now() + MINUTE, b"next")], replace=True)
    state = await store.task_state("k")
    assert state.running is not None and state.scheduled is not None
    assert state.scheduled.payload == b"next"


async def test_finish_with_a_record_leaves_it_readable_in_the_same_step(store: Store) -> None:
    await store.schedule([await due_now(store)], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    assert await store.finish([Finish("k", claim.token, record=Record(b"done", MINUTE))]) == [True]
    state = await store.task_state("k")
    assert (state.scheduled, state.running, state.record) == (None, None, b"done")


async def test_one_finish_of_many_claims_keeps_each_ones_record_and_reschedule(
    store: Store,
) -> None:
    """Many acknowledgements in one call, records of every size among them (on Redis they
    travel as several packed blobs: packing.py): each lands on its own key."""
    count = 1_200
    keys = [f"k{n}-é" * (1 + n % 3) for n in range(count)]
    now = await store.now()
    await store.schedule([Entry(key, now - 1, b"p") for key in keys], replace=False)
    claims = (await store.claim("w", count, LEASE, 0)).claims
    assert len(claims) == count
    sizes = [1, 31, 32, 65_535, 65_536, 100_000]
    finishes = []
    for n, claim in enumerate(claims):
        if n % 7 == 0:
            again = Entry(claim.key, now + MINUTE + n, b"again %d" % n)
            finishes.append(Finish(claim.key, claim.token, reschedule=again))
        else:
            data = (b"%d:" % n).ljust(sizes[n % len(sizes)], b"r")
            finishes.append(Finish(claim.key, claim.token, record=Record(data, MINUTE)))
    assert await store.finish(finishes) == [True] * count
    for n, item in enumerate(finishes):
        state = await store.task_state(item.key)
        assert state.running is None
        if item.reschedule is not None:
            assert state.scheduled is not None and state.scheduled.payload == b"again %d" % n
            assert state.scheduled.due == now + MINUTE + n
        else:
            assert item.record is not None and state.record == item.record.data


async def test_finish_without_a_record_keeps_an_earlier_one(store: Store) -> None:
    for record in (Record(b"first", MINUTE), None):
        await store.schedule([await due_now(store)], replace=False)
        [claim] = (await store.claim("w", 1, LEASE, 0)).claims
        await store.finish([Finish("k", claim.token, record=record)])
    assert (await store.task_state("k")).record == b"first"


async def test_a_finish_with_a_stale_token_writes_no_record(store: Store) -> None:
    await store.schedule([await due_now(store)], replace=False)
    await store.claim("w", 1, LEASE, 0)
    assert await store.finish([Finish("k", "w/999", record=Record(b"x", MINUTE))]) == [False]
    state = await store.task_state("k")
    assert state.record is None and state.running is not None


async def test_a_record_is_forgotten_after_its_ttl(store: Store) -> None:
    await store.schedule([await due_now(store)], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    await store.finish([Finish("k", claim.token, record=Record(b"brief", 20_000))])

    async def forgotten() -> bool:
        return (await store.task_state("k")).record is None

    await wait_until(forgotten, message="the record to expire")


async def test_a_retry_reschedules_without_a_record_and_drops_progress(store: Store) -> None:
    await store.schedule([await due_now(store)], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    await store.update_progress("k", total=5, advance=2, message="half", ttl=MINUTE)
    again = Entry("k", await store.now() + MINUTE, b"attempt 2")
    await store.finish([Finish("k", claim.token, reschedule=again)])
    state = await store.task_state("k")
    assert state.scheduled is not None and state.scheduled.payload == b"attempt 2"
    assert (state.record, state.progress) == (None, None)


async def test_progress_survives_the_finish_that_leaves_a_record(store: Store) -> None:
    await store.schedule([await due_now(store)], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    await store.update_progress("k", total=3, advance=3, message="all done", ttl=MINUTE)
    await store.finish([Finish("k", claim.token, record=Record(b"r", MINUTE))])
    progress = (await store.task_state("k")).progress
    assert progress is not None
    assert (progress.current, progress.total, progress.message) == (3, 3, "all done")


async def test_a_new_run_of_the_key_starts_with_no_progress(store: Store) -> None:
    await store.schedule([await due_now(store)], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    await store.update_progress("k", total=10, advance=7, message="seven", ttl=MINUTE)
    await store.finish([Finish("k", claim.token, record=Record(b"r", MINUTE))])
    await store.schedule([await due_now(store)], replace=False)
    assert (await store.task_state("k")).progress is not None  # still the last run's, until
    [again] = (await store.claim("w", 1, LEASE, 0)).claims  # the next run starts
    assert (await store.task_state("k")).progress is None
    progress = await store.update_progress("k", total=None, advance=1, message=None, ttl=MINUTE)
    assert progress.current == 1
    await store.finish([Finish("k", again.token)])


async def test_cancel_leaves_the_record_only_on_keys_it_removed(store: Store) -> None:
    entry = Entry("a", await store.now() + MINUTE, b"p")
    await store.schedule([entry], replace=False)
    assert await store.cancel(["a", "never"], Record(b"cancelled", MINUTE)) == 1
    assert (await store.task_state("a")).record == b"cancelled"
    assert (await store.task_state("never")).record is None


async def test_cancel_without_a_record_writes_none(store: Store) -> None:
    await store.schedule([Entry("a", await store.now() + MINUTE, b"p")], replace=False)
    assert await store.cancel(["a"]) == 1
    state = await store.task_state("a")
    assert (state.scheduled, state.record) == (None, None)


async def test_progress_adds_up_and_keeps_what_is_not_changed(store: Store) -> None:
    first = await store.update_progress("k", total=None, advance=2, message=None, ttl=MINUTE)
    assert (first.current, first.total, first.message) == (2, None, None)
    await store.update_progress("k", total=10, advance=0, message="reading", ttl=MINUTE)
    last = await store.update_progress("k", total=None, advance=3, message=None, ttl=MINUTE)
    assert (last.current, last.total, last.message) == (5, 10, "reading")
    read = (await store.task_state("k")).progress
    assert read == last
    assert read.updated <= (await store.task_state("k")).now


async def test_a_progress_message_may_be_empty_or_start_with_an_equals_sign(store: Store) -> None:
    await store.update_progress("k", total=None, advance=0, message="=x", ttl=MINUTE)
    assert (await store.task_state("k")).progress.message == "=x"  # type: ignore[union-attr]
    await store.update_progress("k", total=None, advance=0, message="", ttl=MINUTE)
    assert (await store.task_state("k")).progress.message == ""  # type: ignore[union-attr]


async def test_progress_is_forgotten_after_its_ttl(store: Store) -> None:
    await store.update_progress("k", total=1, advance=1, message=None, ttl=20_000)

    async def forgotten() -> bool:
        return (await store.task_state("k")).progress is None

    await wait_until(forgotten, message="the progress to expire")


async def test_destroy_removes_records_and_progress(store: Store) -> None:
    await store.schedule([Entry("a", await store.now() + MINUTE, b"p")], replace=False)
    await store.cancel(["a"], Record(b"cancelled", MINUTE))
    await store.update_progress("b", total=1, advance=0, message="m", ttl=MINUTE)
    await store.destroy()
    for key in ("a", "b"):
        state = await store.task_state(key)
        assert (state.record, state.progress) == (None, None)


def test_a_record_must_hold_something_and_expire() -> None:
    with pytest.raises(ValueError, match="data must not be empty"):
        Record(b"", MINUTE)
    with pytest.raises(ValueError, match="ttl must be positive, got 0"):
        Record(b"x", 0)


async def test_progress_that_expired_starts_again_from_nothing(store: Store) -> None:
    await store.update_progress("k", total=9, advance=4, message="old", ttl=20_000)

    async def forgotten() -> bool:
        return (await store.task_state("k")).progress is None

    await wait_until(forgotten, message="the progress to expire")
    fresh = await store.update_progress("k", total=None, advance=1, message=None, ttl=MINUTE)
    assert (fresh.current, fresh.total, fresh.message) == (1, None, None)


async def test_a_finish_does_not_bring_expired_progress_back(store: Store) -> None:
    await store.schedule([await due_now(store)], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    await store.update_progress("k", total=2, advance=1, message=None, ttl=20_000)

    async def forgotten() -> bool:
        return (await store.task_state("k")).progress is None

    await wait_until(forgotten, message="the progress to expire")
    await store.finish([Finish("k", claim.token, record=Record(b"r", MINUTE))])
    assert (await store.task_state("k")).progress is None
