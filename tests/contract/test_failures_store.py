"""The record of failures (`FailureStore`): the same assertions on every store."""

from __future__ import annotations

import pytest

from strew.stores import Store
from strew.stores.records import Entry, FailureNote, Finish

pytestmark = [pytest.mark.cluster, pytest.mark.sentinel]

LEASE = 60_000_000
DAY = 86_400_000_000


def note(text: str = "boom", keep: int = 100, max_age: int = DAY) -> FailureNote:
    return FailureNote(text.encode(), keep, max_age)


async def fail_runs(store: Store, *keys: str, text: str = "boom", keep: int = 100) -> None:
    """Schedule, claim and finish ``keys`` as failed, one after the other (so in that order)."""
    now = await store.now()
    for key in keys:
        await store.schedule([Entry(key, now - 1, f"payload-{key}".encode())], replace=False)
        [claim] = (await store.claim("w", 1, LEASE, 0)).claims
        assert claim.key == key
        finish = Finish(key, claim.token, failure=note(f"{text}-{key}", keep))
        assert await store.finish([finish]) == [True]


async def test_a_failed_run_is_recorded_with_its_payload_and_note(store: Store) -> None:
    before = await store.now()
    await fail_runs(store, "a")
    [failed] = await store.failures(10)
    assert (failed.key, failed.payload, failed.note) == ("a", b"payload-a", b"boom-a")
    assert before <= failed.failed_at <= await store.now()
    assert failed.retry_at is None and not failed.running


async def test_failures_are_listed_newest_first_and_up_to_the_limit(store: Store) -> None:
    await fail_runs(store, "a", "b", "c")
    assert [f.key for f in await store.failures(10)] == ["c", "b", "a"]
    assert [f.key for f in await store.failures(2)] == ["c", "b"]
    assert await store.failures(0) == []


async def test_listing_before_a_time_pages_back_through_older_failures(store: Store) -> None:
    await fail_runs(store, "a", "b", "c")
    newest = await store.failures(1)
    older = await store.failures(10, before=newest[0].failed_at)
    assert "c" not in [f.key for f in older]
    assert all(f.failed_at < newest[0].failed_at for f in older)


async def test_a_key_that_fails_again_keeps_only_its_latest_failure(store: Store) -> None:
    await fail_runs(store, "a", "b")
    await fail_runs(store, "a", text="again")
    found = await store.failures(10)
    assert [(f.key, f.note) for f in found] == [("a", b"again-a"), ("b", b"boom-b")]


async def test_the_record_keeps_at_most_its_count_dropping_the_oldest(store: Store) -> None:
    await fail_runs(store, "a", "b", "c", "d", keep=2)
    assert [f.key for f in await store.failures(10)] == ["d", "c"]


async def test_failures_older_than_the_max_age_are_dropped_on_the_next_write(
    store: Store,
) -> None:
    await fail_runs(store, "old")
    now = await store.now()
    await store.schedule([Entry("new", now - 1, b"p")], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    # An age so short that the earlier failure is past it by the time this one is written.
    [failed_before] = await store.failures(1)
    age = max(1, now - failed_before.failed_at)
    await store.finish([Finish("new", claim.token, failure=note(max_age=age))])
    assert [f.key for f in await store.failures(10)] == ["new"]


async def test_a_failed_attempt_that_is_retried_shows_when(store: Store) -> None:
    now = await store.now()
    await store.schedule([Entry("a", now - 1, b"p1")], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    retry = Entry("a", now + 60_000_000, b"p2")
    await store.finish([Finish("a", claim.token, reschedule=retry, failure=note())])
    [failed] = await store.failures(10)
    assert failed.payload == b"p1" and failed.retry_at == retry.due and not failed.running


async def test_a_run_that_then_succeeds_drops_its_failure(store: Store) -> None:
    now = await store.now()
    await store.schedule([Entry("a", now - 1, b"p1")], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    retry = Entry("a", now - 1, b"p2")
    await store.finish([Finish("a", claim.token, reschedule=retry, failure=note())])
    [again] = (await store.claim("w", 1, LEASE, 0)).claims
    assert [f.running for f in await store.failures(10)] == [True]
    await store.finish([Finish("a", again.token)])
    assert await store.failures(10) == []


async def test_a_finish_with_a_stale_token_records_no_failure(store: Store) -> None:
    now = await store.now()
    await store.schedule([Entry("a", now - 1, b"p")], replace=False)
    await store.claim("w", 1, LEASE, 0)
    assert await store.finish([Finish("a", "w/999", failure=note())]) == [False]
    assert await store.failures(10) == []


async def test_dropping_failures_by_key_or_all(store: Store) -> None:
    await fail_runs(store, "a", "b", "c")
    assert await store.drop_failures(["a", "zzz", "a"]) == 1
    assert await store.drop_failures([]) == 0
    assert [f.key for f in await store.failures(10)] == ["c", "b"]
    assert await store.drop_failures(None) == 2
    assert await store.failures(10) == []


async def test_retrying_puts_the_task_back_and_forgets_its_failure(store: Store) -> None:
    await fail_runs(store, "a", "b")
    now = await store.now()
    outcomes = await store.retry_failures([Entry("a", now - 1, b"fresh"), Entry("x", now, b"")])
    assert outcomes == ["retried", "missing"]
    assert [f.key for f in await store.failures(10)] == ["b"]
    [claim] = (await store.claim("w", 10, LEASE, 0)).claims
    assert (claim.key, claim.payload) == ("a", b"fresh")


async def test_retrying_a_task_scheduled_again_brings_it_forward(store: Store) -> None:
    now = await store.now()
    await store.schedule([Entry("a", now - 1, b"p1")], replace=False)
    [claim] = (await store.claim("w", 1, LEASE, 0)).claims
    later = Entry("a", now + 3_600_000_000, b"attempt-2")
    await store.finish([Finish("a", claim.token, reschedule=later, failure=note())])
    assert await store.retry_failures([Entry("a", now, b"fresh")]) == ["hastened"]
    [failed] = await store.failures(10)
    assert failed.retry_at == now
    [again] = (await store.claim("w", 1, LEASE, 0)).claims
    assert again.payload == b"attempt-2"  # its own attempt count goes on


async def test_retrying_a_running_task_leaves_it_alone(store: Store) -> None:
    await fail_runs(store, "a")
    now = await store.now()
    await store.schedule([Entry("a", now - 1, b"new")], replace=False)
    await store.claim("w", 1, LEASE, 0)
    assert await store.retry_failures([Entry("a", now, b"fresh")]) == ["busy"]
    assert [f.key for f in await store.failures(10)] == ["a"]
    assert (await store.snapshot(10)).scheduled == []


async def test_clear_and_destroy_forget_the_failures(store: Store) -> None:
    await fail_runs(store, "a")
    await store.clear()
    assert await store.failures(10) == []
    await fail_runs(store, "b")
    await store.destroy()
    assert await store.failures(10) == []


async def test_a_failure_note_needs_a_note_and_positive_bounds() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        FailureNote(b"", 1, 1)
    with pytest.raises(ValueError, match="keep must be at least 1, got 0"):
        FailureNote(b"n", 0, 1)
    with pytest.raises(ValueError, match="max_age must be positive, got -5"):
        FailureNote(b"n", 1, -5)


async def test_failures_written_in_one_step_get_distinct_times_in_order(store: Store) -> None:
    now = await store.now()
    entries = [Entry(f"k{n}", now - 1, b"p") for n in range(5)]
    await store.schedule(entries, replace=False)
    claims = (await store.claim("w", 5, LEASE, 0)).claims
    await store.finish([Finish(c.key, c.token, failure=note()) for c in claims])
    found = await store.failures(10)
    assert [f.key for f in found] == ["k4", "k3", "k2", "k1", "k0"]
    assert len({f.failed_at for f in found}) == 5
    page = await store.failures(2, before=found[1].failed_at)
    assert [f.key for f in page] == ["k2", "k1"]


async def test_one_keys_failure_is_read_as_the_listing_shows_it_whatever_its_age(
    store: Store,
) -> None:
    await fail_runs(store, "a", "b", "c")
    listed = {f.key: f for f in await store.failures(10)}
    # "a" is the oldest: a page of one would never reach it, the lookup does.
    assert await store.failure("a") == listed["a"]
    assert await store.failure("c") == listed["c"]
    assert await store.failure("never-failed") is None


async def test_one_keys_failure_says_when_it_is_scheduled_again_and_goes_when_dropped(
    store: Store,
) -> None:
    await fail_runs(store, "a")
    due = await store.now() + 60_000_000
    await store.schedule([Entry("a", due, b"again")], replace=False)
    found = await store.failure("a")
    assert found is not None and found.retry_at == due and not found.running
    assert await store.drop_failures(["a"]) == 1
    assert await store.failure("a") is None
