"""Cron: our parser against a brute-force minute-by-minute search, the cron rules one by one,
and a worker firing a cron task at the right minute on an injected clock."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from strew import Cron, CurrentExecution, Docket, Execution, Worker
from strew.dependencies.cron import MONTHS, WEEKDAYS, CronError, CronSchedule
from strew.stores.memory.store import _registry, memory_store, system_clock
from strew.task.clock import from_micros, to_micros

from ..helpers import wait_until

NEW_YORK = ZoneInfo("America/New_York")
ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # daylight saving of half an hour
    "Asia/Kathmandu",  # +05:45
    "America/St_Johns",  # -03:30 / -02:30
]

# -- brute force: the reference the parser is compared with ---------------------------------


@dataclass(frozen=True)
class Fields:
    """A generated expression and the sets of values it means, worked out independently of
    the parser (day of week in cron's numbering, 0 = Sunday, 7 folded onto 0)."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    days_star: bool
    weekdays_star: bool


def brute_force(fields: Fields, tz: ZoneInfo, after: datetime, limit: timedelta) -> datetime | None:
    """Walk every UTC minute after ``after``, for up to ``limit``; the first whose local time
    matches. A local time that happens twice counts at its first occurrence only (fold 0);
    one that does not exist is never visited by a walk over real instants."""
    start = after.astimezone(UTC)
    minute = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = start + limit
    while minute <= end:
        local = minute.astimezone(tz)
        if local.fold == 0 and _matches(fields, local):
            return minute
        minute += timedelta(minutes=1)
    return None


def _matches(fields: Fields, local: datetime) -> bool:
    if local.minute not in fields.minutes or local.hour not in fields.hours:
        return False
    if local.month not in fields.months:
        return False
    cron_weekday = local.isoweekday() % 7  # Sunday 0
    in_days = local.day in fields.days
    in_weekdays = cron_weekday in fields.weekdays
    if not fields.days_star and not fields.weekdays_star:
        return in_days or in_weekdays
    return in_days and in_weekdays


FieldText = tuple[str, frozenset[int], bool]


def _field(low: int, high: int, names: list[str] | None, base: int) -> st.SearchStrategy[FieldText]:
    """(text, values, starts with '*') for one field."""

    def show(value: int, use_name: bool) -> str:
        if names is not None and use_name and 0 <= value - base < len(names):
            return names[value - base]
        return str(value)

    star = st.just(("*", frozenset(range(low, high + 1)), True))
    star_step = st.integers(1, high - low + 1).map(
        lambda s: (f"*/{s}", frozenset(range(low, high + 1, s)), True)
    )

    @st.composite
    def item(draw: st.DrawFn) -> tuple[str, frozenset[int]]:
        a = draw(st.integers(low, high))
        kind = draw(st.sampled_from(["value", "range", "range-step", "from-step"]))
        use_name = draw(st.booleans())
        if kind == "value":
            return show(a, use_name), frozenset({a})
        if kind == "from-step":
            s = draw(st.integers(1, 10))
            return f"{show(a, use_name)}/{s}", frozenset(range(a, high + 1, s))
        b = draw(st.integers(a, high))
        text = f"{show(a, use_name)}-{show(b, use_name)}"
        if kind == "range":
            return text, frozenset(range(a, b + 1))
        s = draw(st.integers(1, 10))
        return f"{text}/{s}", frozenset(range(a, b + 1, s))

    listed = st.lists(item(), min_size=1, max_size=3).map(
        lambda items: (
            ",".join(t for t, _ in items),
            frozenset().union(*(v for _, v in items)),
            False,
        )
    )
    return st.one_of(star, star, star_step, listed)


@st.composite
def expressions(draw: st.DrawFn) -> Fields:
    minute = draw(_field(0, 59, None, 0))
    hour = draw(_field(0, 23, None, 0))
    day = draw(_field(1, 31, None, 0))
    month = draw(_field(1, 12, MONTHS, 1))
    weekday = draw(_field(0, 7, WEEKDAYS, 0))
    parts = [minute, hour, day, month, weekday]
    text = " ".join(part[0] for part in parts)
    return Fields(
        text,
        minute[1],
        hour[1],
        day[1],
        month[1],
        frozenset(v % 7 for v in weekday[1]),
        day[2],
        weekday[2],
    )


def _transitions() -> list[tuple[str, datetime]]:
    """The daylight-saving changes of 2026 in the zones above (found by looking)."""
    found: list[tuple[str, datetime]] = []
    for name in ZONES:
        zone = ZoneInfo(name)
        moment = datetime(2026, 1, 1, tzinfo=UTC)
        offset = moment.astimezone(zone).utcoffset()
        for _ in range(366 * 48):
            moment += timedelta(minutes=30)
            current = moment.astimezone(zone).utcoffset()
            if current != offset:
                found.append((name, moment))
                offset = current
    return found


TRANSITIONS = _transitions()


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    kind = draw(st.sampled_from(["around a change", "just before a change", "any"]))
    if kind != "any":
        _, base = draw(st.sampled_from(TRANSITIONS))
        # Just before: the next match may fall in the hour a change skips or repeats.
        low, high = (-3 * 24 * 60, 24 * 60) if kind == "around a change" else (-150, 0)
        moment = base + timedelta(minutes=draw(st.integers(low, high)))
    else:
        moment = draw(
            st.datetimes(datetime(2000, 1, 1), datetime(2040, 12, 31), timezones=st.just(UTC))
        )
    if draw(st.booleans()):
        moment = moment.replace(second=0, microsecond=0)  # exactly on a minute: not itself
    return moment


WINDOW = timedelta(days=8)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=expressions(), zone=st.sampled_from(ZONES), after=instants())
def test_next_after_agrees_with_a_minute_by_minute_search(
    fields: Fields, zone: str, after: datetime
) -> None:
    tz = ZoneInfo(zone)
    try:
        schedule = CronSchedule.parse(fields.text, zone)
    except CronError:
        # Only expressions that never fire are refused: no date in 400 years matches.
        assume(False)
        raise  # pragma: no cover
    found = schedule.next_after(after)
    expected = brute_force(fields, tz, after, WINDOW)
    if expected is None:
        assert found > after + WINDOW
    else:
        # In UTC: an aware time in a repeated hour never equals one in another zone (PEP 495).
        assert found.astimezone(UTC) == expected
        assert found.tzinfo is tz


@st.composite
def around_changes(draw: st.DrawFn) -> tuple[Fields, str, datetime]:
    """An instant shortly before a daylight-saving change, and an expression that fires in
    the hours about it: the next match is often in the skipped or the repeated hour."""
    zone, change = draw(st.sampled_from(TRANSITIONS))
    after = change + timedelta(minutes=draw(st.integers(-150, 30)))
    if draw(st.booleans()):
        after = after.replace(second=0, microsecond=0)
    hour = (change - timedelta(minutes=1)).astimezone(ZoneInfo(zone)).hour
    hours = draw(st.sets(st.sampled_from([(hour + d) % 24 for d in (-1, 0, 1)]), min_size=1))
    minute = draw(_field(0, 59, None, 0))
    text = f"{minute[0]} {','.join(map(str, sorted(hours)))} * * *"
    every_day = frozenset(range(1, 32))
    fields = Fields(
        text,
        minute[1],
        frozenset(hours),
        every_day,
        frozenset(range(1, 13)),
        frozenset(range(7)),
        days_star=True,
        weekdays_star=True,
    )
    return fields, zone, after


@settings(max_examples=120, deadline=None)
@given(case=around_changes())
def test_next_after_agrees_with_the_search_around_daylight_saving_changes(
    case: tuple[Fields, str, datetime],
) -> None:
    fields, zone, after = case
    found = CronSchedule.parse(fields.text, zone).next_after(after)
    expected = brute_force(fields, ZoneInfo(zone), after, timedelta(days=2))
    assert expected is not None and found.astimezone(UTC) == expected


# -- the rules one by one ------------------------------------------------------------------


def at(text: str, when: datetime, tz: str | None = None) -> datetime:
    return CronSchedule.parse(text, tz).next_after(when)


def test_fields_take_values_lists_ranges_steps_and_names() -> None:
    start = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)  # a Thursday
    assert at("*/15 * * * *", start) == datetime(2026, 1, 1, 0, 15, tzinfo=UTC)
    assert at("5,10 9-17/4 * * *", start) == datetime(2026, 1, 1, 9, 5, tzinfo=UTC)
    assert at("0 12 * feb MON-fri", start) == datetime(2026, 2, 2, 12, 0, tzinfo=UTC)
    assert at("0 0 * * 7", start) == datetime(2026, 1, 4, tzinfo=UTC)  # 7 is Sunday too
    assert at("0 0 * * sun", start) == datetime(2026, 1, 4, tzinfo=UTC)
    assert at("30 4/6 * * *", start) == datetime(2026, 1, 1, 4, 30, tzinfo=UTC)
    assert at("0 0 29 2 *", start) == datetime(2028, 2, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@yearly", datetime(2027, 1, 1, tzinfo=UTC)),
        ("@annually", datetime(2027, 1, 1, tzinfo=UTC)),
        ("@monthly", datetime(2026, 7, 1, tzinfo=UTC)),
        ("@weekly", datetime(2026, 6, 21, tzinfo=UTC)),  # the next Sunday
        ("@daily", datetime(2026, 6, 18, tzinfo=UTC)),
        ("@midnight", datetime(2026, 6, 18, tzinfo=UTC)),
        ("@hourly", datetime(2026, 6, 17, 11, tzinfo=UTC)),
        ("@HOURLY", datetime(2026, 6, 17, 11, tzinfo=UTC)),
    ],
)
def test_macros_stand_for_their_usual_expressions(macro: str, expected: datetime) -> None:
    assert at(macro, datetime(2026, 6, 17, 10, 30, tzinfo=UTC)) == expected


def test_day_of_month_and_day_of_week_both_restricted_match_either() -> None:
    start = datetime(2026, 2, 1, tzinfo=UTC)  # a Sunday
    # The 13th, or any Friday: Friday the 6th comes first.
    assert at("0 0 13 * fri", start) == datetime(2026, 2, 6, tzinfo=UTC)
    assert at("0 0 13 * fri", datetime(2026, 2, 10, tzinfo=UTC)) == datetime(
        2026, 2, 13, tzinfo=UTC
    )
    # Day of week starting with '*' does not restrict: only the 13th counts.
    assert at("0 0 13 * */1", start) == datetime(2026, 2, 13, tzinfo=UTC)
    # Day of month starting with '*' does not restrict: only Fridays count.
    assert at("0 0 * * fri", start) == datetime(2026, 2, 6, tzinfo=UTC)
    # Both starting with '*': both apply (odd days that are also Sundays; the 8th is even).
    monday = datetime(2026, 2, 2, tzinfo=UTC)
    assert at("0 0 */2 * sun", monday) == datetime(2026, 2, 15, tzinfo=UTC)


def test_a_local_time_skipped_by_daylight_saving_does_not_fire() -> None:
    # New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT, so there is no 02:30 that day.
    fired = at("30 2 * * *", datetime(2026, 3, 7, 3, 0, tzinfo=NEW_YORK), "America/New_York")
    assert fired == datetime(2026, 3, 9, 2, 30, tzinfo=NEW_YORK)
    assert fired.utcoffset() == timedelta(hours=-4)


def test_a_local_time_that_happens_twice_fires_once() -> None:
    # New York, 1 November 2026: 01:00-01:59 happens in EDT, then again in EST.
    schedule = CronSchedule.parse("30 1 * * *", "America/New_York")
    first = schedule.next_after(datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK))
    assert first.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    after_first = schedule.next_after(first)
    assert after_first.astimezone(UTC) == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)  # next day
    # Asked from inside the repeated hour (its second pass), the repeat is not fired either.
    second_pass = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)  # 01:10 EST
    assert schedule.next_after(second_pass) == after_first


def test_tz_may_be_a_name_or_a_tzinfo_and_defaults_to_utc() -> None:
    start = datetime(2026, 6, 1, tzinfo=UTC)
    assert at("0 9 * * *", start, "Asia/Kathmandu") == datetime(2026, 6, 1, 3, 15, tzinfo=UTC)
    assert CronSchedule.parse("0 9 * * *", NEW_YORK).tz is NEW_YORK
    assert at("0 9 * * *", start) == datetime(2026, 6, 1, 9, tzinfo=UTC)
    with pytest.raises(ValueError, match="when must be timezone-aware"):
        CronSchedule.parse("@daily").next_after(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "must have 5 fields .* got 4"),
        ("* * * * * *", "must have 5 fields .* got 6"),
        ("60 * * * *", "minute must be within 0-59, got '60'"),
        ("* 24 * * *", "hour must be within 0-23, got '24'"),
        ("* * 0 * *", "day of month must be within 1-31, got '0'"),
        ("* * * 13 *", "month must be within 1-12, got '13'"),
        ("* * * * 8", "day of week must be within 0-7, got '8'"),
        ("* * * smarch *", "month field has 'smarch', which is not a number or a name"),
        ("* * * * mon-funday", "day of week field has 'funday'"),
        ("*/0 * * * *", "minute step must be at least 1, got '\\*/0'"),
        ("5-1 * * * *", "minute range '5-1' runs backwards"),
        ("1,,2 * * * *", "minute field has '', which is not"),
        ("* * 30 feb *", "never fall on one date"),
        ("@reboot", "not a known macro"),
        ("", "must have 5 fields"),
    ],
)
def test_expressions_that_do_not_parse_say_which_field_is_wrong(
    expression: str, message: str
) -> None:
    with pytest.raises(CronError, match=message):
        CronSchedule.parse(expression)


def test_an_unknown_time_zone_is_refused() -> None:
    with pytest.raises(CronError, match="tz must be a known IANA time zone name, got 'Mars/Base'"):
        CronSchedule.parse("@daily", "Mars/Base")
    assert "tz must be" in (Cron("@daily", tz="Mars/Base").problem() or "")


def test_a_cron_task_that_missed_its_times_runs_once_then_keeps_to_the_clock() -> None:
    cron = Cron("0 * * * *")
    previous = to_micros(datetime(2026, 1, 1, 10, tzinfo=UTC))
    now = to_micros(datetime(2026, 1, 1, 15, 20, tzinfo=UTC))  # five hours without a worker
    assert from_micros(cron.next_due(previous, now)) == datetime(2026, 1, 1, 16, tzinfo=UTC)
    # A run that started a moment early (claimed ahead of its due time) is not run twice.
    early = previous - 1000
    assert from_micros(cron.next_due(previous, early)) == datetime(2026, 1, 1, 11, tzinfo=UTC)


# -- a worker on an injected clock ---------------------------------------------------------


class ShiftedClock:
    """The memory store's clock: real time moved to a chosen instant, so that the worker (which
    measures the store's clock against its own) waits for due times as usual."""

    def __init__(self) -> None:
        self.shift = 0

    def __call__(self) -> int:
        return system_clock() + self.shift

    def set(self, when: datetime) -> None:
        self.shift = to_micros(when) - system_clock()

    def now(self) -> datetime:
        return from_micros(self())


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
async def clocked_docket(docket_name: str, clock: ShiftedClock) -> AsyncIterator[Docket]:
    url = f"memory://{docket_name}"
    memory_store(url, docket_name, clock)  # the docket below opens this very store
    try:
        async with Docket(docket_name, url) as docket:
            yield docket
    finally:
        _registry.pop((url, docket_name), None)


@pytest.fixture
def fired() -> list[tuple[datetime, datetime]]:
    """(due time, store clock at the start) of each run of the cron tasks below."""
    return []


def within_its_minute(started: datetime, due: datetime) -> bool:
    """Started at its due time (the worker sleeps until then; the 300 ms it waited since the
    worker started are far more than the tolerance for clock measurement here), and within
    the minute however loaded the machine."""
    return due - timedelta(milliseconds=100) <= started < due + timedelta(minutes=1)


async def _next_scheduled(docket: Docket, key: str) -> datetime | None:
    for execution in (await docket.snapshot()).future:
        if execution.key == key:
            return execution.when
    return None


async def _fire_once(
    docket: Docket, fired: list[tuple[datetime, datetime]], key: str, count: int
) -> datetime:
    """Run a worker until the cron task ``key`` has fired ``count`` times in all and its next
    step is scheduled; return that next step's due time."""
    worker = Worker(docket, poll_ceiling=timedelta(milliseconds=20))
    run = asyncio.create_task(worker.run_forever())
    try:
        await wait_until(lambda: len(fired) == count, message=f"run {count}")

        async def rescheduled() -> bool:
            return await _next_scheduled(docket, key) is not None

        await wait_until(rescheduled, message="the next step to be scheduled")
    finally:
        worker.stop()
        await asyncio.wait_for(run, timeout=10)
    found = await _next_scheduled(docket, key)
    assert found is not None
    return found


async def test_a_cron_task_fires_at_the_right_minute_and_skips_a_time_dst_removes(
    clocked_docket: Docket, clock: ShiftedClock, fired: list[tuple[datetime, datetime]]
) -> None:
    async def nightly(
        cron: Cron = Cron("30 2 * * *", tz="America/New_York"),
        execution: Execution = CurrentExecution(),
    ) -> None:
        fired.append((execution.when, clock.now()))

    clocked_docket.register(nightly)
    clock.set(datetime(2026, 3, 7, 2, 29, 59, 700_000, tzinfo=NEW_YORK))
    following = await _fire_once(clocked_docket, fired, "nightly", 1)

    due, started = fired[0]
    assert due == datetime(2026, 3, 7, 2, 30, tzinfo=NEW_YORK)
    assert within_its_minute(started, due)
    # 8 March has no 02:30 in New York (clocks jump from 02:00 to 03:00): the 9th is next.
    assert following == datetime(2026, 3, 9, 2, 30, tzinfo=NEW_YORK)
    assert following.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-4)

    # Two days later, a fresh worker finds the chain where the last one left it.
    clock.set(datetime(2026, 3, 9, 2, 29, 59, 700_000, tzinfo=NEW_YORK))
    following = await _fire_once(clocked_docket, fired, "nightly", 2)
    due, started = fired[1]
    assert due == datetime(2026, 3, 9, 2, 30, tzinfo=NEW_YORK)
    assert within_its_minute(started, due)
    assert following == datetime(2026, 3, 10, 2, 30, tzinfo=NEW_YORK)


async def test_a_cron_task_fires_once_in_an_hour_that_happens_twice(
    clocked_docket: Docket, clock: ShiftedClock, fired: list[tuple[datetime, datetime]]
) -> None:
    async def early(
        cron: Cron = Cron("30 1 * * *", tz=NEW_YORK),
        execution: Execution = CurrentExecution(),
    ) -> None:
        fired.append((execution.when, clock.now()))

    clocked_docket.register(early)
    clock.set(datetime(2026, 11, 1, 5, 29, 59, 700_000, tzinfo=UTC))  # 01:29:59.7 EDT
    following = await _fire_once(clocked_docket, fired, "early", 1)
    assert fired[0][0] == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    # Not again at 01:30 EST an hour later: the next day.
    assert following == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


async def test_a_cron_that_is_not_automatic_runs_where_it_was_added_then_on_the_clock(
    clocked_docket: Docket, clock: ShiftedClock, fired: list[tuple[datetime, datetime]]
) -> None:
    hourly = Cron("0 * * * *", automatic=False)

    async def report(region: str, cron: Cron = hourly) -> None:
        fired.append((datetime.now(UTC), clock.now()))

    clock.set(datetime(2026, 5, 4, 10, 59, 59, 700_000, tzinfo=UTC))
    start = hourly.next_after(clock.now())
    await clocked_docket.add(report, when=start, key="report-eu")("eu")
    following = await _fire_once(clocked_docket, fired, "report-eu", 1)
    assert within_its_minute(fired[0][1], datetime(2026, 5, 4, 11, tzinfo=UTC))
    assert following == datetime(2026, 5, 4, 12, tzinfo=UTC)
    # Not automatic: nothing else was started under the task's name.
    assert [e.key for e in (await clocked_docket.snapshot()).future] == ["report-eu"]
