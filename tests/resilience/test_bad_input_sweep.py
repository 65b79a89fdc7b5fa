"""The bad-input sweep: every public entry point, fed what callers get wrong.

tests/resilience/test_bad_input.py covers the common mistakes (naive `when`, bad keys, bad URLs, bad
worker settings); this module extends it to the far edges: datetimes in year 1 and year 9999,
durations past a century, NaN and infinity, huge jitter, unpicklable arguments in a scatter,
wrong types for every argument of replace, plan and Worker, and garbage planted in the store
where a payload should be. Each bad call must raise an error whose message names the argument,
and must leave the store exactly as it was (compared with a raw picture of the store taken
before and after). Where the rule is a range, hypothesis checks it both ways.

A Redis that is down or dies mid-call: tests/resilience/test_bad_input_outage.py. The command line's
options through a real process: tests/resilience/test_bad_input_cli.py.
"""

from __future__ import annotations

import asyncio
import math
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import redis.asyncio as aioredis
from hypothesis import given, settings
from hypothesis import strategies as st

from strew import Agenda, Docket, TaskCall, Worker
from strew.stores.memory.store import _registry
from strew.stores.records import Entry
from strew.task.clock import EARLIEST, LATEST, MAX_DURATION, to_micros

from ..bad_input import WHEN, agenda_of, greet, raw_state, says
from ..cli.test_cli import strew

YEAR_1 = datetime(1, 1, 1, tzinfo=UTC)
YEAR_9999 = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
FAR_DATES = [
    YEAR_1,
    datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    LATEST,
    YEAR_9999,
    datetime(3000, 1, 1, tzinfo=timezone(timedelta(hours=-5))),
]
FAR_IDS = ["year1", "1969", "2250", "year9999", "year3000-0500"]
TOO_LONG = [MAX_DURATION + timedelta(microseconds=1), timedelta.max]


def _generator() -> Iterator[int]:
    yield 1


UNPICKLABLE = [threading.Lock(), _generator()]


@pytest.fixture
async def seeded(docket: Docket) -> tuple[Docket, tuple[object, ...]]:
    """The docket with one task already scheduled, and the raw state before the bad call."""
    await docket.add(greet, when=WHEN, key="already-here")("Ada")
    return docket, await raw_state(docket)


# -- datetimes far out of range -----------------------------------------------------------------


@pytest.mark.parametrize("when", FAR_DATES, ids=FAR_IDS)
async def test_a_far_out_of_range_when_is_refused_by_every_scheduling_call(
    seeded: tuple[Docket, object], when: datetime
) -> None:
    docket, before = seeded
    refusal = says("when must be between 1970-01-01 and 2250-01-01", when.isoformat())
    with pytest.raises(ValueError, match=refusal):
        await docket.add(greet, when=when)("Ada")
    with pytest.raises(ValueError, match=refusal):
        await docket.replace(greet, when=when, key="already-here")("Ada")
    with pytest.raises(ValueError, match=refusal):
        docket.call(greet, when=when)("Ada")
    bad = TaskCall(greet, ("Ada",), {}, "far", when, "greet")
    with pytest.raises(ValueError, match=says("calls[1].when must be between")):
        await docket.add_many([docket.call(greet, key="fine")("Grace"), bad])
    with pytest.raises(ValueError, match=says("calls[0].when must be between")):
        await docket.replace_many([bad])
    assert await raw_state(docket) == before


@pytest.mark.parametrize("when", FAR_DATES, ids=FAR_IDS)
async def test_a_far_out_of_range_start_is_refused_by_scatter_plan_and_histogram(
    seeded: tuple[Docket, object], when: datetime
) -> None:
    docket, before = seeded
    agenda = agenda_of(3)
    with pytest.raises(ValueError, match=says("start must be between", when.isoformat())):
        await agenda.scatter(docket, over=timedelta(minutes=1), start=when)
    with pytest.raises(ValueError, match=says("start must be between")):
        agenda.plan(over=timedelta(minutes=1), start=when)
    with pytest.raises(ValueError, match=says("start must be between")):
        await docket.scheduled_histogram(when, when, 2)
    with pytest.raises(ValueError, match=says("end must be between")):
        await docket.scheduled_histogram(WHEN, LATEST, 2)
    assert await raw_state(docket) == before


async def test_a_window_that_would_end_past_the_range_is_refused_naming_the_window(
    seeded: tuple[Docket, object],
) -> None:
    docket, before = seeded
    start = datetime(2249, 12, 31, tzinfo=UTC)
    for window in ({"over": timedelta(days=2)}, {"rate": 1e-300}, {"every": timedelta(days=2)}):
        with pytest.raises(ValueError, match=says("window set by over=, rate= or every=")):
            await agenda_of(3).scatter(docket, start=start, **window)
    assert await raw_state(docket) == before


async def test_the_edges_of_the_range_round_trip_exactly_through_the_store(
    docket: Docket,
) -> None:
    last = LATEST - timedelta(microseconds=1)
    await docket.add(greet, when=EARLIEST, key="first")("a")
    await docket.add(greet, when=last, key="last")("b")
    snapshot = await docket.snapshot()
    assert [(e.key, e.when) for e in snapshot.future] == [("first", EARLIEST), ("last", last)]
    claimed = await docket.store.claim("w", 2, 60_000_000, to_micros(LATEST))
    assert [(c.key, c.due) for c in claimed.claims] == [
        ("first", to_micros(EARLIEST)),
        ("last", to_micros(last)),
    ]


aware_datetimes = st.datetimes(
    min_value=datetime(1, 1, 2),
    max_value=datetime(9999, 12, 30),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=9)), timezone(timedelta(hours=-7))]),
)


@settings(max_examples=150, deadline=None)
@given(when=aware_datetimes)
def test_any_aware_when_is_either_kept_exactly_or_refused_naming_it(when: datetime) -> None:
    async def one() -> None:
        url = f"memory://sweep-{uuid.uuid4().hex}"
        async with Docket("sweep", url) as docket:
            try:
                if EARLIEST <= when < LATEST:
                    await docket.add(greet, when=when, key="k")("Ada")
                    [execution] = (await docket.snapshot()).future
                    assert execution.when == when
                    [due] = (await docket.store.snapshot(1)).scheduled
                    assert due.due == to_micros(when)
                else:
                    with pytest.raises(ValueError, match="when must be between"):
                        await docket.add(greet, when=when, key="k")("Ada")
                    assert (await docket.snapshot()).total_tasks == 0
            finally:
                await docket.store.destroy()
                _registry.pop((url, "sweep"), None)

    asyncio.run(one())


# -- durations: zero, negative, past a century --------------------------------------------------

WORKER_DURATIONS = [
    "redelivery_timeout",
    "reconnection_delay",
    "poll_ceiling",
    "unknown_task_delay",
]


@settings(max_examples=200, deadline=None)
@given(
    argument=st.sampled_from([*WORKER_DURATIONS, "heartbeat_interval"]),
    value=st.timedeltas(),
)
def test_a_positive_duration_is_accepted_exactly_up_to_a_century(
    argument: str, value: timedelta
) -> None:
    docket = Docket("sweep-durations", url="memory://sweep-durations")

    def build() -> object:
        if argument == "heartbeat_interval":
            return Docket(
                "sweep-durations", url="memory://sweep-durations", heartbeat_interval=value
            )
        return Worker(docket, **dict[str, Any]({argument: value}))

    if timedelta(0) < value <= MAX_DURATION:
        assert getattr(build(), argument) == value
    else:
        with pytest.raises(ValueError, match=f"^{argument} must be "):
            build()


@pytest.mark.parametrize("argument", ["shutdown_grace", "prefetch"])
@pytest.mark.parametrize("value", TOO_LONG, ids=["century+1us", "max"])
def test_a_grace_or_prefetch_past_a_century_is_refused(argument: str, value: timedelta) -> None:
    docket = Docket("sweep-durations", url="memory://sweep-durations")
    with pytest.raises(ValueError, match=says(argument, "at most 36500 days")):
        Worker(docket, **dict[str, Any]({argument: value}))


@pytest.mark.parametrize("value", TOO_LONG, ids=["century+1us", "max"])
async def test_huge_jitter_over_or_every_is_refused_naming_it(
    seeded: tuple[Docket, object], value: timedelta
) -> None:
    docket, before = seeded
    agenda = agenda_of(3)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"over": timedelta(minutes=1), "jitter": value}, "jitter"),
        ({"over": value}, "over"),
        ({"every": value}, "every"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=says(f"{name} must be at most 36500 days")):
            await agenda.scatter(docket, **kwargs)
        with pytest.raises(ValueError, match=says(f"{name} must be at most 36500 days")):
            agenda.plan(**kwargs)
    assert await raw_state(docket) == before


@pytest.mark.parametrize("value", [timedelta(0), timedelta(microseconds=-1)], ids=str)
async def test_zero_or_negative_windows_are_refused_even_for_an_empty_agenda(
    seeded: tuple[Docket, object], value: timedelta
) -> None:
    docket, before = seeded
    for name, words in (("over", "'over' parameter"), ("every", "every")):
        with pytest.raises(ValueError, match=says(f"{words} must be a positive duration")):
            await Agenda().scatter(docket, **{name: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=says("heartbeat_interval", "positive")):
        Docket(docket.name, docket.url, heartbeat_interval=value)
    assert await raw_state(docket) == before


# -- NaN, infinity, and numbers of the wrong kind ------------------------------------------------

NOT_A_RATE = [math.nan, math.inf, -math.inf, 0.0, -1.0, 1e-300]


@pytest.mark.parametrize("rate", NOT_A_RATE, ids=str)
async def test_a_rate_that_is_nan_infinite_or_vanishing_is_refused_naming_it(
    seeded: tuple[Docket, object], rate: float
) -> None:
    docket, before = seeded
    agenda = agenda_of(3)
    if rate == 1e-300:  # a real rate, but three tasks at it would end past the range
        refusal = says("the window set by over=, rate= or every=", "ends past 2250-01-01")
    else:
        refusal = says("rate must be a positive, finite number of tasks per second, got", str(rate))
    with pytest.raises(ValueError, match=refusal) as raised:
        await agenda.scatter(docket, rate=rate)
    assert "Traceback" not in str(raised.value)
    with pytest.raises(ValueError, match=refusal):
        agenda.plan(rate=rate)
    assert await raw_state(docket) == before


@pytest.mark.parametrize("value", [math.nan, math.inf, True, 2.0, "10", None], ids=repr)
async def test_counts_refuse_nan_infinity_bools_floats_and_strings(
    seeded: tuple[Docket, object], value: Any
) -> None:
    docket, before = seeded
    with pytest.raises(ValueError, match=says("chunk_size", repr(value))):
        await docket.add_many([docket.call(greet)("x")], chunk_size=value)
    with pytest.raises(ValueError, match=says("chunk_size", repr(value))):
        await agenda_of(2).scatter(docket, over=timedelta(seconds=1), chunk_size=value)
    if value is not None:
        with pytest.raises(ValueError, match=says("limit", repr(value))):
            await docket.snapshot(limit=value)
    with pytest.raises(ValueError, match=says("buckets", repr(value))):
        await docket.scheduled_histogram(WHEN, WHEN + timedelta(1), value)
    with pytest.raises(ValueError, match=says("missed_heartbeats", repr(value))):
        Docket(docket.name, docket.url, missed_heartbeats=value)
    with pytest.raises(ValueError, match=says("concurrency", repr(value))):
        Worker(docket, concurrency=value)
    assert await raw_state(docket) == before


async def test_a_histogram_of_a_million_slices_is_refused_before_asking_the_store(
    seeded: tuple[Docket, object],
) -> None:
    docket, before = seeded
    with pytest.raises(ValueError, match=says("buckets", "100,000", "1000000")):
        await docket.scheduled_histogram(WHEN, WHEN + timedelta(1), 1_000_000)
    assert await raw_state(docket) == before


@pytest.mark.parametrize(
    ("existing", "error"),
    [
        ("ab", TypeError),
        (42, TypeError),
        ([math.nan], TypeError),
        ([None], TypeError),
        ([1.5], TypeError),
        ([True], TypeError),
        ([-1], ValueError),
    ],
    ids=repr,
)
def test_a_plan_refuses_existing_loads_that_are_not_counts(existing: Any, error: type) -> None:
    shown = repr(existing[0] if isinstance(existing, list) else existing)
    with pytest.raises(error, match=says("existing must", shown)):
        agenda_of(3).plan(over=timedelta(seconds=1), existing=existing)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"atomic": "yes"}, "atomic"),
        ({"level": 1}, "level"),
        ({"on_progress": 5}, "on_progress"),
        ({"seed": 1.5}, "seed"),
        ({"seed": True}, "seed"),
    ],
    ids=repr,
)
async def test_scatter_options_of_the_wrong_type_are_refused_naming_them(
    seeded: tuple[Docket, object], kwargs: dict[str, Any], named: str
) -> None:
    docket, before = seeded
    with pytest.raises(TypeError, match=says(named, repr(next(iter(kwargs.values()))))):
        await agenda_of(2).scatter(docket, over=timedelta(seconds=1), **kwargs)
    assert await raw_state(docket) == before


@pytest.mark.parametrize("target", ["memory://x", None, 42], ids=repr)
async def test_scatter_needs_a_docket(target: object) -> None:
    with pytest.raises(TypeError, match=says("docket must be a Docket", repr(target))):
        await agenda_of(1).scatter(target, over=timedelta(seconds=1))  # type: ignore[arg-type]


@pytest.mark.parametrize("calls", [None, 42, greet], ids=repr)
async def test_add_many_names_calls_that_are_not_a_collection(
    seeded: tuple[Docket, object], calls: Any
) -> None:
    docket, before = seeded
    with pytest.raises(TypeError, match=says("calls must be an iterable of TaskCall")):
        await docket.add_many(calls)
    assert await raw_state(docket) == before


# -- wrong types and naive times: replace, plan, Agenda.add, Worker, Docket ------------------

NAIVE = datetime(2030, 1, 1, 12, 0)


@pytest.mark.parametrize(
    ("when", "error", "refusal"),
    [
        (NAIVE, ValueError, says("when must be timezone-aware", repr(NAIVE))),
        (
            "2030-01-01T00:00:00Z",
            TypeError,
            says("when must be a timezone-aware datetime", "'2030"),
        ),
        (1_893_456_000, TypeError, says("when must be a timezone-aware datetime, got 1893456000")),
        (
            timedelta(seconds=5),
            TypeError,
            says("when must be a timezone-aware datetime", "timedelta(seconds=5)"),
        ),
    ],
    ids=["naive", "str", "int", "timedelta"],
)
async def test_replace_with_a_naive_or_wrong_type_when_keeps_the_earlier_schedule(
    seeded: tuple[Docket, object], when: Any, error: type[Exception], refusal: str
) -> None:
    docket, before = seeded
    with pytest.raises(error, match=refusal):
        await docket.replace(greet, when=when, key="already-here")("Grace")
    with pytest.raises(error, match=refusal):
        await docket.replace(greet, when=when, key="a-new-key")("Grace")
    assert await raw_state(docket) == before


PLAN_CASES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"over": timedelta(1), "start": NAIVE}, ValueError, says("start must be timezone-aware")),
    ({"over": timedelta(1), "start": "2030-01-01"}, TypeError, says("start must be a", "'2030")),
    ({"over": timedelta(1), "start": 1_893_456_000}, TypeError, says("start must be a", "1893")),
    (
        {"over": timedelta(0)},
        ValueError,
        says("'over' parameter must be a positive duration, got 0:00:00"),
    ),
    (
        {"over": timedelta(seconds=-1)},
        ValueError,
        says("'over' parameter must be a positive", "-1 day"),
    ),
    ({"every": timedelta(0)}, ValueError, says("every must be a positive duration, got 0:00:00")),
    ({"every": timedelta(seconds=-1)}, ValueError, says("every must be a positive", "-1 day")),
    ({"over": 60}, TypeError, says("over must be a timedelta, got 60")),
    ({"over": "5m"}, TypeError, says("over must be a timedelta, got '5m'")),
    ({"every": 1.5}, TypeError, says("every must be a timedelta, got 1.5")),
    ({"over": timedelta(1), "jitter": 5}, TypeError, says("jitter must be a timedelta, got 5")),
    ({"rate": "2"}, TypeError, says("rate must be a number of tasks per second, got '2'")),
    ({"over": timedelta(1), "seed": 1.5}, TypeError, says("seed must be an int", "got 1.5")),
    ({"over": timedelta(1), "seed": True}, TypeError, says("seed must be an int", "got True")),
    ({"over": timedelta(1), "seed": [1]}, TypeError, says("seed must be an int", "got [1]")),
    ({}, TypeError, says("missing the required argument 'over' (or give rate= or every=)")),
]


@pytest.mark.parametrize(("kwargs", "error", "refusal"), PLAN_CASES, ids=repr)
async def test_plan_and_scatter_refuse_naive_starts_bad_windows_wrong_types_and_seeds(
    seeded: tuple[Docket, object], kwargs: dict[str, Any], error: type[Exception], refusal: str
) -> None:
    docket, before = seeded
    agenda = agenda_of(3)
    with pytest.raises(error, match=refusal):
        agenda.plan(**kwargs)
    with pytest.raises(error, match=refusal):
        await agenda.scatter(docket, **kwargs)
    assert len(agenda) == 3
    assert await raw_state(docket) == before


@pytest.mark.parametrize("function", [42, None, b"greet", [greet]], ids=repr)
async def test_agenda_add_refuses_a_non_callable_and_changes_neither_agenda_nor_store(
    seeded: tuple[Docket, object], function: Any
) -> None:
    docket, before = seeded
    agenda = agenda_of(2)
    with pytest.raises(
        TypeError, match=says("function must be a callable or a task name", repr(function))
    ):
        agenda.add(function)
    assert len(agenda) == 2
    assert await raw_state(docket) == before
    # What the agenda holds still scatters: the refused entry left nothing half-added.
    executions = await agenda.scatter(docket, over=timedelta(seconds=1), start=WHEN)
    assert [e.args for e in executions] == [("n0",), ("n1",)]
    assert (await docket.snapshot()).total_tasks == 3


WORKER_DURATION_ARGUMENTS = [*WORKER_DURATIONS, "shutdown_grace", "prefetch"]


@pytest.mark.parametrize("argument", WORKER_DURATION_ARGUMENTS)
@pytest.mark.parametrize("value", [5, 2.5, "5s", None], ids=repr)
def test_every_worker_duration_refuses_a_plain_number_or_string_with_a_type_error(
    argument: str, value: object
) -> None:
    # shutdown_grace=5 and prefetch=5 used to be ValueErrors while the others were
    # TypeErrors: a number is the wrong type for every one of them, not a wrong value.
    docket = Docket("sweep-durations", url="memory://sweep-durations")
    with pytest.raises(TypeError, match=says(f"{argument} must be a timedelta, got {value!r}")):
        Worker(docket, **dict[str, Any]({argument: value}))


def test_an_execution_ttl_of_zero_means_no_records_and_wrong_types_are_refused() -> None:
    # Zero is meaningful (docs/results-and-progress.md: keep no result records at all, the
    # cheapest setting for fire-and-forget work), so it is accepted, not refused.
    assert Docket("sweep-ttl", "memory://sweep-ttl", execution_ttl=timedelta(0)).execution_ttl == (
        timedelta(0)
    )
    for value in (900, 1.5, "15m", None):
        with pytest.raises(
            TypeError, match=says(f"execution_ttl must be a timedelta, got {value!r}")
        ):
            Docket("sweep-ttl", "memory://sweep-ttl", execution_ttl=value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=says("execution_ttl must be a non-negative duration")):
        Docket("sweep-ttl", "memory://sweep-ttl", execution_ttl=timedelta(seconds=-1))
    with pytest.raises(ValueError, match=says("execution_ttl must be at most 36500 days")):
        Docket("sweep-ttl", "memory://sweep-ttl", execution_ttl=TOO_LONG[0])


# -- keys and names ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "error", "refusal"),
    [
        ("", ValueError, says("key must not be empty, got ''")),
        ("k" * 10_240, ValueError, says("key must be at most 1024 characters, got 10240")),
        (42, TypeError, says("key must be a string, got int 42")),
        (None, TypeError, says("key must be a string, got NoneType None")),
        (b"k", TypeError, says("key must be a string, got bytes b'k'")),
    ],
    ids=["empty", "10KB", "int", "None", "bytes"],
)
async def test_a_bad_key_is_refused_by_cancel_agenda_add_and_replace(
    seeded: tuple[Docket, object], key: Any, error: type[Exception], refusal: str
) -> None:
    docket, before = seeded
    with pytest.raises(error, match=refusal):
        await docket.cancel(key)
    if key is not None:  # None means "make one up" for an agenda entry
        with pytest.raises(error, match=refusal):
            Agenda().add(greet, key=key)
    if key is None:  # replace names what it needs the key for
        with pytest.raises(TypeError, match=says("replace needs a key: key=None")):
            await docket.replace(greet, key=key)("Ada")
    else:
        with pytest.raises(error, match=refusal):
            await docket.replace(greet, key=key)("Ada")
    with pytest.raises(error, match=refusal):
        await docket.drop_quarantined([key])
    assert await raw_state(docket) == before


@settings(max_examples=100, deadline=None)
@given(key=st.one_of(st.text(max_size=40), st.text(min_size=1000, max_size=1100)))
def test_any_text_key_is_either_kept_exactly_or_refused_naming_it(key: str) -> None:
    async def one() -> None:
        url = f"memory://sweep-{uuid.uuid4().hex}"
        async with Docket("sweep", url) as docket:
            try:
                if 1 <= len(key) <= 1024:
                    await docket.add(greet, when=WHEN, key=key)("Ada")
                    assert [e.key for e in (await docket.snapshot()).future] == [key]
                    await docket.cancel(key)
                else:
                    with pytest.raises(ValueError, match=r"^key must "):
                        await docket.add(greet, when=WHEN, key=key)("Ada")
                    with pytest.raises(ValueError, match=r"^key must "):
                        await docket.cancel(key)
                assert (await docket.snapshot()).total_tasks == 0
            finally:
                await docket.store.destroy()
                _registry.pop((url, "sweep"), None)

    asyncio.run(one())


@pytest.mark.parametrize(
    "scatter_id", ["", "s" * 10_240, "a*b", 42], ids=["empty", "10KB", "glob", "int"]
)
async def test_cancelling_a_scatter_by_a_bad_id_is_refused_naming_it(
    seeded: tuple[Docket, object], scatter_id: Any
) -> None:
    docket, before = seeded
    with pytest.raises((TypeError, ValueError), match="scatter_id"):
        await Agenda.cancel(docket, scatter_id)
    assert await raw_state(docket) == before


async def test_unknown_task_names_are_refused_by_replace_and_scatter(
    seeded: tuple[Docket, object],
) -> None:
    docket, before = seeded
    with pytest.raises(KeyError, match=says("unknown task name", "'nope'", "greet")):
        await docket.replace("nope", key="already-here")()
    agenda = agenda_of(2)
    agenda.add("nope")()
    with pytest.raises(KeyError, match=says("agenda entry 2", "'nope'")):
        await agenda.scatter(docket, over=timedelta(seconds=1))
    with pytest.raises(ValueError, match=says("function", "''")):
        Agenda().add("")
    assert await raw_state(docket) == before


@pytest.mark.parametrize(
    "name", ["a\nb", "x" * 201, "a/b", "nul\0"], ids=["nl", "long", "slash", "nul"]
)
def test_a_worker_name_with_line_breaks_or_too_long_is_refused(name: str) -> None:
    docket = Docket("sweep-names", url="memory://sweep-names")
    with pytest.raises(ValueError, match=says("name must be 1 to 200 characters", repr(name)[:20])):
        Worker(docket, name=name)


# -- unpicklable arguments in batches ------------------------------------------------------------


@pytest.mark.parametrize("value", UNPICKLABLE, ids=["lock", "generator"])
@pytest.mark.parametrize("atomic", [True, False], ids=["atomic", "streamed"])
async def test_one_unpicklable_argument_keeps_a_whole_scatter_out(
    seeded: tuple[Docket, object], value: object, atomic: bool
) -> None:
    docket, before = seeded
    agenda = agenda_of(10)
    agenda.add(greet)(name=value)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=says("kwargs['name']", "'greet'")):
        await agenda.scatter(docket, over=timedelta(seconds=5), atomic=atomic, chunk_size=3)
    assert await raw_state(docket) == before


@pytest.mark.parametrize("value", UNPICKLABLE, ids=["lock", "generator"])
async def test_replace_with_an_unpicklable_argument_keeps_the_earlier_schedule(
    seeded: tuple[Docket, object], value: object
) -> None:
    docket, before = seeded
    with pytest.raises(TypeError, match=says("args[0]", "'greet'")):
        await docket.replace(greet, key="already-here")(value)  # type: ignore[arg-type]
    assert await raw_state(docket) == before


# -- garbage planted where a payload should be ---------------------------------------------------

ran: list[str] = []


async def note(label: str) -> None:
    ran.append(label)


@settings(max_examples=60, deadline=None)
@given(garbage=st.binary(max_size=300))
def test_any_garbage_payload_is_quarantined_and_the_worker_goes_on(garbage: bytes) -> None:
    async def one() -> None:
        url = f"memory://sweep-{uuid.uuid4().hex}"
        async with Docket("sweep", url) as docket:
            try:
                ran.clear()
                docket.register(note)
                now = await docket.store.now()
                await docket.store.schedule([Entry("planted", now - 1, garbage)], replace=False)
                await docket.add(note, key="good")("good")
                assert [e.key for e in (await docket.snapshot()).future] == ["planted", "good"]
                await Worker(docket, poll_ceiling=timedelta(milliseconds=10)).run_until_finished()
                [task] = await docket.quarantined()
                assert ran == ["good"] and (task.key, task.payload) == ("planted", garbage)
            finally:
                await docket.store.destroy()
                _registry.pop((url, "sweep"), None)

    asyncio.run(one())


async def test_a_key_scheduled_by_hand_without_a_payload_is_quarantined_not_jamming_claims(
    redis_docket: Docket, redis_url: str
) -> None:
    ran.clear()
    redis_docket.register(note)
    store = redis_docket.store
    client = aioredis.Redis.from_url(redis_url)
    try:
        now = await store.now()
        schedule = f"strew:{{{redis_docket.name}}}:schedule"
        payloads = f"strew:{{{redis_docket.name}}}:payloads"
        await client.zadd(schedule, {"orphan": now - 2})
        await client.zadd(schedule, {b"\xff\xfe-not-utf8": now - 1})
        await client.hset(payloads, b"\xff\xfe-not-utf8", b"\x80\x05junk")
    finally:
        await client.aclose()
    await redis_docket.add(note, key="good")("good")
    snapshot = await redis_docket.snapshot()  # readable, not a crash
    assert [e.function_name for e in snapshot.future] == ["<corrupt>", "<corrupt>", "note"]
    await Worker(redis_docket, poll_ceiling=timedelta(milliseconds=20)).run_until_finished()
    assert ran == ["good"]
    quarantined = {
        t.key.encode("utf-8", "surrogateescape"): t for t in await redis_docket.quarantined()
    }
    assert set(quarantined) == {b"orphan", b"\xff\xfe-not-utf8"}
    assert quarantined[b"orphan"].payload_size == 0
    assert quarantined[b"\xff\xfe-not-utf8"].payload == b"\x80\x05junk"
    assert await redis_docket.clear_quarantine() == 2


async def test_strew_snapshot_shows_a_planted_payload_as_corrupt_and_changes_nothing(
    redis_docket: Docket, redis_url: str
) -> None:
    now = await redis_docket.store.now()
    await redis_docket.store.schedule(
        [Entry("zz-planted-key", now + 60_000_000, b"\x00garbage")], replace=False
    )
    before = await raw_state(redis_docket)
    result = await strew("snapshot", "--url", redis_url, "--docket", redis_docket.name)
    assert result.code == 0, result.err
    row = next(line for line in result.out.splitlines() if "zz-planted-key" in line)
    assert "<corrupt>" in row
    assert await raw_state(redis_docket) == before
