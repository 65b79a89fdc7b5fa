"""Strikes: pausing a task, or only the calls whose argument matches, on both stores."""

from __future__ import annotations

import asyncio
import enum
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from strew import Agenda, Disposition, Docket, ExecutionState, Retry, Worker
from strew.docket.strikes import Strike, StrikeBook, argument_of
from strew.stores.memory.store import _registry

from ..helpers import wait_until

ran: list[tuple[str, Any]] = []


async def process_order(customer_id: int, note: str = "") -> None:
    ran.append(("process_order", customer_id))


async def send_email(customer_id: int, *, subject: str = "hi") -> None:
    ran.append(("send_email", customer_id))


async def loose(**fields: Any) -> None:
    ran.append(("loose", fields))


@pytest.fixture(autouse=True)
def _fresh_runs() -> None:
    ran.clear()


def quick_worker(docket: Docket) -> Worker:
    return Worker(docket, poll_ceiling=timedelta(milliseconds=50))


async def test_a_strike_by_argument_value_holds_only_the_matching_calls(docket: Docket) -> None:
    for customer in range(1, 7):
        await docket.add(process_order, key=f"order-{customer}")(customer)
    await docket.add(send_email)(3)
    await docket.strike(process_order, "customer_id", "between", (2, 4))
    async with quick_worker(docket) as worker:
        await worker.run_until_finished()
        assert worker.stats.held == 3
    assert sorted(ran) == [
        ("process_order", 1),
        ("process_order", 5),
        ("process_order", 6),
        ("send_email", 3),
    ]
    snapshot = await docket.snapshot()
    assert snapshot.held_total == 3
    assert sorted(e.key for e in snapshot.held) == ["order-2", "order-3", "order-4"]
    assert snapshot.total_tasks == 0


async def test_held_tasks_run_after_restore_and_the_rest_stay_paused(docket: Docket) -> None:
    for customer in (1, 2, 3):
        await docket.add(process_order)(customer)
    await docket.strike(process_order, "customer_id", ">=", 2)
    await docket.strike("process_order", "customer_id", "==", 3)
    async with quick_worker(docket) as worker:
        await worker.run_until_finished()
    assert ran == [("process_order", 1)]

    await docket.restore(process_order, "customer_id", ">=", 2)  # ==3 still stands
    async with quick_worker(docket) as worker:
        await worker.run_until_finished()
    assert ran == [("process_order", 1), ("process_order", 2)]
    assert (await docket.snapshot()).held_total == 1

    await docket.restore("process_order", "customer_id", "==", 3)
    async with quick_worker(docket) as worker:
        await worker.run_until_finished()
    assert ran == [("process_order", 1), ("process_order", 2), ("process_order", 3)]
    assert (await docket.snapshot()).held_total == 0


async def test_striking_a_whole_function_pauses_every_call_of_it_only(docket: Docket) -> None:
    await docket.add(process_order)(1)
    await docket.add(send_email)(1)
    await docket.strike(send_email)
    async with quick_worker(docket) as worker:
        await worker.run_until_finished()
    assert ran == [("process_order", 1)]
    await docket.restore(send_email)
    async with quick_worker(docket) as worker:
        await worker.run_until_finished()
    assert ran == [("process_order", 1), ("send_email", 1)]


async def test_a_parameter_strike_without_a_function_covers_every_function(
    docket: Docket,
) -> None:
    docket.register(process_order)
    docket.register(send_email)
    await docket.strike(None, "customer_id", "==", 7)
    blocked = [
        await docket.add(process_order)(7),
        await docket.add(send_email)(customer_id=7),
        await docket.add(loose)(customer_id=7),
    ]
    free = [await docket.add(process_order)(8), await docket.add(loose)(other=7)]
    assert [e.disposition for e in blocked] == [Disposition.STRUCK] * 3
    assert [e.disposition for e in free] == [Disposition.SCHEDULED] * 2


async def test_stricken_adds_come_back_struck_and_write_nothing(docket: Docket) -> None:
    await docket.strike(process_order, "customer_id", "<", 10)
    later = datetime.now(UTC) + timedelta(hours=1)
    added = await docket.add(process_order, key="a")(1)
    replaced = await docket.replace(process_order, when=later, key="b")(customer_id=2)
    many = await docket.add_many(
        [docket.call(process_order)(5), docket.call(process_order)(50), docket.call(send_email)(1)]
    )
    assert added.disposition is Disposition.STRUCK
    assert replaced.disposition is Disposition.STRUCK
    assert [e.disposition for e in many] == [
        Disposition.STRUCK,
        Disposition.SCHEDULED,
        Disposition.SCHEDULED,
    ]
    snapshot = await docket.snapshot()
    assert sorted(e.call_repr(all_arguments=True) for e in snapshot.future) == [
        "process_order(50)",
        "send_email(1)",
    ]


@pytest.mark.parametrize("atomic", [True, False])
async def test_a_scatter_writes_only_its_entries_that_no_strike_blocks(
    docket: Docket, atomic: bool
) -> None:
    await docket.strike(process_order, "customer_id", "!=", 2)
    agenda = Agenda()
    for customer in (1, 2, 3):
        agenda.add(process_order, key=f"scatter-{customer}")(customer)
    agenda.add("process_order")(customer_id=2, note="by name")
    executions = await agenda.scatter(docket, over=timedelta(seconds=1), atomic=atomic)
    assert [e.disposition for e in executions] == [
        Disposition.STRUCK,
        Disposition.SCHEDULED,
        Disposition.STRUCK,
        Disposition.SCHEDULED,
    ]
    assert (await docket.snapshot()).total_tasks == 2
    everything_struck = Agenda()
    everything_struck.add(process_order)(9)
    [struck] = await everything_struck.scatter(docket, over=timedelta(seconds=1), atomic=atomic)
    assert struck.disposition is Disposition.STRUCK
    assert (await docket.snapshot()).total_tasks == 2


async def test_a_strike_through_one_docket_reaches_another_within_a_second(
    store_url: str, docket_name: str
) -> None:
    """Two Docket objects, two store connections (on Redis): the second one's copy of the
    rules is refreshed on its own, with no deploy and no call on it."""
    async with Docket(docket_name, store_url) as first, Docket(docket_name, store_url) as second:
        try:
            second.register(process_order)
            assert (await second.add(process_order)(1)).disposition is Disposition.SCHEDULED
            await first.strike(process_order, "customer_id", "==", 1)

            async def struck() -> bool:
                execution = await second.add(process_order)(1)
                return execution.disposition is Disposition.STRUCK

            await wait_until(struck, timeout=5, interval=0.05, message="the strike to arrive")
            await first.restore(process_order, "customer_id", "==", 1)

            async def free() -> bool:
                execution = await second.add(process_order)(1)
                return execution.disposition is Disposition.SCHEDULED

            await wait_until(free, timeout=5, interval=0.05, message="the restore to arrive")
        finally:
            await first.store.destroy()
    _registry.pop((store_url, docket_name), None)


async def test_a_held_task_survives_a_worker_restart_and_runs_after_restore(
    store_url: str, docket_name: str
) -> None:
    try:
        async with Docket(docket_name, store_url) as producer:
            await producer.add(process_order, key="kept")(42)
            async with Docket(docket_name, store_url) as first:
                first.register(process_order)
                await first.strike(process_order, "customer_id", "==", 42)
                async with quick_worker(first) as worker:
                    await worker.run_until_finished()
                    assert worker.stats.held == 1
            assert ran == []
            assert (await producer.snapshot()).held_total == 1
            await producer.restore(process_order, "customer_id", "==", 42)
            async with Docket(docket_name, store_url) as second:
                second.register(process_order)
                async with quick_worker(second) as worker:
                    await worker.run_until_finished()
            assert ran == [("process_order", 42)]
            await producer.store.destroy()
    finally:
        _registry.pop((store_url, docket_name), None)


async def test_a_strike_made_while_a_worker_runs_holds_what_it_claims_next(
    docket: Docket,
) -> None:
    docket.register(process_order)
    worker = Worker(docket, poll_ceiling=timedelta(milliseconds=20))
    running = asyncio.create_task(worker.run_forever())
    try:
        await docket.add(process_order)(1)
        await wait_until(lambda: ran == [("process_order", 1)], message="the first run")
        await docket.strike(process_order)
        # A task scheduled before the strike reached its producer: written straight to the
        # store, as a producer whose copy of the rules is still stale would.
        execution, entry = docket._execution(process_order, "process_order", (2,), {}, None, None)
        await docket.store.schedule([entry], replace=False)
        await wait_until(lambda: worker.stats.held == 1, message="the task to be held")
        assert (await docket.snapshot()).held_total == 1
        await docket.restore(process_order)
        await wait_until(lambda: len(ran) == 2, message="the held task to run")
        assert ran[1] == ("process_order", 2)
        assert execution.key not in {e.key for e in (await docket.snapshot()).held}
    finally:
        worker.stop()
        await asyncio.wait_for(running, timeout=10)


async def price(customer_id: int) -> int:
    return customer_id * 10


async def test_a_held_task_reads_as_scheduled_and_its_result_waits_for_the_restore(
    docket: Docket,
) -> None:
    execution = await docket.add(price, key="price-7")(7)
    await docket.strike(price, "customer_id", "==", 7)
    async with quick_worker(docket) as worker:
        await worker.run_until_finished()
        assert worker.stats.held == 1

    seen = await docket.get_execution("price-7")
    assert seen is not None and seen.state is ExecutionState.SCHEDULED
    assert (seen.function_name, seen.args) == ("price", (7,))
    assert await execution.sync() is ExecutionState.SCHEDULED
    # It waits like any scheduled task: nothing is unavailable, it just has not run yet.
    with pytest.raises(TimeoutError, match="task 'price-7' is still scheduled"):
        await execution.get_result(timeout=timedelta(milliseconds=50))

    result = asyncio.create_task(execution.get_result(timeout=30))
    await docket.restore(price, "customer_id", "==", 7)
    async with quick_worker(docket) as worker:
        await worker.run_until_finished()
    assert await result == 70
    assert execution.state is ExecutionState.COMPLETED


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ((process_order, "customer_id", "=~", 1), ValueError, "operator must be one of"),
        ((process_order, None, ">", 1), ValueError, "operator '>' and value 1 need a parameter"),
        ((process_order, "customer_id", "between", 5), ValueError, "between' needs a value"),
        ((process_order, "customer_id", "between", (1, 2, 3)), ValueError, "got (1, 2, 3)"),
        ((process_order, "customer_id", "between", "ab"), ValueError, "got 'ab'"),
        ((None, None), ValueError, "needs a function, a parameter, or both"),
        ((process_order, "customer id", "==", 1), ValueError, "got 'customer id'"),
        ((process_order, "customer", "==", 1), ValueError, "'customer' is not a parameter"),
        ((42,), TypeError, "got 42"),
        ((process_order, "customer_id", "==", float("nan")), ValueError, "comparable"),
        ((process_order, "customer_id", "==", lambda: 1), TypeError, "picklable"),
    ],
)
async def test_a_bad_strike_is_refused_naming_the_argument_and_nothing_is_written(
    docket: Docket, arguments: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    docket.register(process_order)
    with pytest.raises(error) as raised:
        await docket.strike(*arguments)
    assert message in str(raised.value)
    assert await docket.store.strikes() == (0, [])


async def test_a_producer_may_strike_a_task_name_it_never_registered(docket: Docket) -> None:
    # As in pydocket: the producer that strikes need not know the task; the workers do.
    async with Docket(docket.name, docket.url) as producer:
        await producer.strike("process_order", "customer_id", "==", 2)
        await producer.strike("nobody_registered_this")
        assert producer.tasks == {}
    added = [await docket.add(process_order)(customer) for customer in (1, 2)]
    assert [e.disposition for e in added] == [Disposition.SCHEDULED, Disposition.STRUCK]
    await docket.restore("nobody_registered_this")
    await docket.restore("process_order", "customer_id", "==", 2)
    assert (await docket.store.strikes())[1] == []


async def test_restore_of_a_name_this_docket_does_not_know_is_allowed(docket: Docket) -> None:
    # A producer that never registered the task may still lift a strike made elsewhere.
    async with Docket(docket.name, docket.url) as other:
        other.register(process_order)
        await other.strike(process_order)
    await docket.restore("process_order")
    assert (await docket.store.strikes())[1] == []


# -- argument matching -------------------------------------------------------------------------


def rule(parameter: str, operator: str, value: Any, function: str | None = None) -> Strike:
    return Strike(function, parameter, operator, value)


@pytest.mark.parametrize(
    ("operator", "value", "matching"),
    [
        ("==", 3, [3]),
        ("!=", 3, [1, 2, 4, 5]),
        (">", 3, [4, 5]),
        (">=", 3, [3, 4, 5]),
        ("<", 3, [1, 2]),
        ("<=", 3, [1, 2, 3]),
        ("between", (2, 4), [2, 3, 4]),
    ],
)
def test_each_operator_compares_the_argument_with_the_value(
    operator: str, value: Any, matching: list[int]
) -> None:
    strike = rule("customer_id", operator, value)
    found = [n for n in range(1, 6) if strike.matches("process_order", process_order, (n,), {})]
    assert found == matching


def test_arguments_are_found_by_name_however_they_were_passed() -> None:
    strike = rule("customer_id", "==", 3)
    assert strike.matches("process_order", process_order, (3,), {})
    assert strike.matches("process_order", process_order, (), {"customer_id": 3})
    assert strike.matches("loose", loose, (), {"customer_id": 3})  # caught by **fields
    note = rule("note", "==", "x")
    assert note.matches("process_order", process_order, (1, "x"), {})


def test_a_call_that_leaves_an_argument_out_is_matched_on_its_default() -> None:
    assert argument_of(process_order, "note", (1,), {}) == (True, "")
    assert rule("note", "==", "").matches("process_order", process_order, (1,), {})
    assert not rule("note", "!=", "").matches("process_order", process_order, (1,), {})
    assert rule("subject", "==", "hi").matches("send_email", send_email, (1,), {})
    # A passed value wins over the default.
    assert not rule("note", "==", "").matches("process_order", process_order, (1, "x"), {})


async def with_marker(customer_id: int, retry: Retry = Retry(attempts=2)) -> None: ...


def test_a_parameter_with_neither_an_argument_nor_a_plain_default_does_not_match() -> None:
    # No default at all: the call does not fit, nothing is known.
    assert argument_of(process_order, "customer_id", (), {"note": "x"}) == (False, None)
    # A dependency marker is filled in by the worker: its default is no argument value.
    assert argument_of(with_marker, "retry", (1,), {}) == (False, None)
    assert not rule("retry", "!=", 3).matches("with_marker", with_marker, (1,), {})
    # Nothing under **kwargs has a default.
    assert not rule("customer_id", "==", None).matches("loose", loose, (), {})


async def charge(customer_id: int, amount: int = 0) -> None:
    ran.append(("charge", (customer_id, amount)))


async def test_a_strike_on_a_default_value_pauses_the_calls_that_rely_on_it(
    docket: Docket,
) -> None:
    await docket.add(charge, key="before")(5)  # scheduled before the strike: held later
    await docket.strike(charge, "amount", "==", 0)
    assert (await docket.add(charge)(6)).disposition is Disposition.STRUCK
    assert (await docket.add(charge)(7, 0)).disposition is Disposition.STRUCK
    assert (await docket.add(charge)(8, amount=100)).disposition is Disposition.SCHEDULED
    async with quick_worker(docket) as worker:
        await worker.run_until_finished()
        assert worker.stats.held == 1
    assert ran == [("charge", (8, 100))]
    assert [e.key for e in (await docket.snapshot()).held] == ["before"]


def test_a_call_without_the_argument_or_an_uncomparable_value_does_not_match() -> None:
    assert not rule("customer_id", ">", 3).matches("process_order", process_order, ("x",), {})
    assert not rule("customer_id", "==", 3).matches("process_order", process_order, (1, 2, 3), {})
    assert not rule("customer_id", "==", 3, "send_email").matches(
        "process_order", process_order, (3,), {}
    )


def test_a_rule_survives_its_encoding_and_an_unreadable_one_matches_nothing() -> None:
    strike = rule("customer_id", "between", (1, 2), "process_order")
    assert Strike.decode(strike.encode()) == strike
    assert Strike.decode(b"not a pickle") is None
    assert "1 <= customer_id <= 2" in strike.describe()


async def test_an_operator_given_as_a_string_enum_is_stored_as_a_plain_string(
    docket: Docket,
) -> None:
    class Operator(enum.StrEnum):
        GREATER_THAN = ">"

    await docket.strike(process_order, "customer_id", Operator.GREATER_THAN, 5)
    [stored] = (await docket.store.strikes())[1]
    decoded = Strike.decode(stored)
    assert decoded is not None and type(decoded.operator) is str and decoded.operator == ">"
    assert (await docket.add(process_order)(6)).disposition is Disposition.STRUCK


async def test_a_worker_deciding_on_rules_already_lifted_runs_the_task_instead_of_holding_it(
    store_url: str, docket_name: str
) -> None:
    try:
        async with Docket(docket_name, store_url) as ours, Docket(docket_name, store_url) as ops:
            ours.register(process_order)
            ops.register(process_order)
            ours.strike_book.max_age = 3600  # our copy never refreshes on its own
            await ops.strike("process_order", "customer_id", "==", 1)
            await ours.strike_book.refresh()
            assert len(ours.strike_book.rules) == 1
            await ops.restore("process_order", "customer_id", "==", 1)
            assert (await ops.add("process_order")(1)).disposition is Disposition.SCHEDULED
            async with quick_worker(ours) as worker:
                await worker.run_until_finished()
                assert worker.stats.held == 0
            assert ran == [("process_order", 1)]
            assert ours.strike_book.rules == []
            assert (await ops.snapshot()).held_total == 0
            await ops.store.destroy()
    finally:
        _registry.pop((store_url, docket_name), None)


async def test_a_read_begun_before_a_change_is_not_shared_and_never_lands_over_a_later_one() -> (
    None
):
    class SlowStore:
        """Answers each `strikes` read with what was stored when the read began, once let."""

        def __init__(self) -> None:
            self.rules: list[bytes] = []
            self.began: asyncio.Queue[asyncio.Event] = asyncio.Queue()

        async def strikes(self) -> tuple[int, list[bytes]]:
            seen, gate = list(self.rules), asyncio.Event()
            self.began.put_nowait(gate)
            await gate.wait()
            return len(seen), seen

    store = SlowStore()
    book = StrikeBook(store, {})  # type: ignore[arg-type]
    early = asyncio.ensure_future(book.refresh())  # begins before the strike
    first = await store.began.get()
    store.rules.append(Strike("process_order", None).encode())
    book.invalidate()
    late = asyncio.ensure_future(book.refresh())  # must not share the early read
    second = await store.began.get()
    second.set()
    await late
    assert book.rules == [Strike("process_order", None)]
    first.set()  # the overtaken read finishes last: it must not land
    await early
    assert book.rules == [Strike("process_order", None)] and book.version == 1
