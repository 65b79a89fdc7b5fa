"""Cron: the rules one by one, and a worker firing a cron task at the right minute on an
injected clock (test_cron_schedule.py compares schedules with a brute-force search)."""

# Dependency markers are calls in defaults by design (pydocket's spelling).

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from strew import Cron, CurrentExecution, Docket, Execution, Worker
from strew.dependencies.cron import CronError, CronSchedule
from strew.stores.memory.store import _registry, memory_store, system_clock
from strew.task.clock import from_micros, to_micros

from ..helpers import wait_until

NEW_YORK = ZoneInfo("America/New_York")


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


def test_a_fixed_time_skipped_by_daylight_saving_fires_when_the_clocks_jump() -> None:
    # New York, 8 March 2026: 02:00 EST jumps to 03:00 EDT, so there is no 02:30 that day:
    # a daily 02:30 runs at 03:00 instead (Debian cron's rule, cronsim's and pydocket's).
    schedule = CronSchedule.parse("30 2 * * *", "America/New_York")
    fired = schedule.next_after(datetime(2026, 3, 7, 3, 0, tzinfo=NEW_YORK))
    assert fired.astimezone(UTC) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT
    assert schedule.next_after(fired) == datetime(2026, 3, 9, 2, 30, tzinfo=NEW_YORK)
    # An expression whose hour starts with '*' fires at the times that exist: no 02:30.
    hourly = CronSchedule.parse("30 * * * *", "America/New_York")
    after_one = hourly.next_after(datetime(2026, 3, 8, 6, 30, tzinfo=UTC))  # 01:30 EST
    assert after_one.astimezone(UTC) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT


def test_a_local_time_that_happens_twice_fires_once() -> None:
    # New York, 1 November 2026: 01:00-01:59 happens in EDT, then again in EST.
    schedule = CronSchedule.parse("30 1 * * *", "America/New_York")
    first = schedule.next_after(datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK))
    assert first.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    after_first = schedule.next_after(first)
    assert after_first.astimezone(UTC) == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)  # next day
    # Asked from inside the repeated hour (its second pass), the repeat is not fired either.
    # (cronsim alone would answer 01:30 EDT, in the past: strew answers strictly after.)
    second_pass = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)  # 01:10 EST
    assert schedule.next_after(second_pass) == after_first
    # An expression whose hour starts with '*' fires in both passes: every real hour.
    hourly = CronSchedule.parse("30 * * * *", "America/New_York")
    second = hourly.next_after(first)
    assert second.astimezone(UTC) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST


def test_a_half_hour_change_is_stepped_as_cronsim_steps_it() -> None:
    # Lord Howe Island, 5 April 2026: 02:00 (+11) goes back to 01:30 (+10:30). cronsim steps
    # an hour field by real hours from the top of one, so past the change it lands on :30:
    # '* 0 * * *' next fires at 00:30, not 00:00 (pydocket does the same; pinned here so a
    # cronsim that fixes it is noticed).
    after = datetime(2026, 4, 4, 15, 0, tzinfo=UTC)  # 01:30 +10:30, just after the change
    found = at("* 0 * * *", after, "Australia/Lord_Howe")
    assert found.astimezone(UTC) == datetime(2026, 4, 5, 14, 0, tzinfo=UTC)  # 00:30 +10:30


def test_cronsim_extensions_last_days_and_nth_weekdays_are_read() -> None:
    start = datetime(2026, 2, 1, tzinfo=UTC)  # a Sunday
    assert at("0 0 L * *", start) == datetime(2026, 2, 28, tzinfo=UTC)  # last day
    assert at("0 0 LW * *", start) == datetime(2026, 2, 27, tzinfo=UTC)  # last weekday
    assert at("0 9 * * 5L", start) == datetime(2026, 2, 27, 9, tzinfo=UTC)  # last Friday
    assert at("0 9 * * mon#2", start) == datetime(2026, 2, 9, 9, tzinfo=UTC)  # 2nd Monday


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
        ("* * * * * *", "must have 5 fields .* got 6"),  # cronsim's seconds form: not here
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
        ("0 0 31 4,6 *", "never fall on one date"),
        ("* * * * 1#6", "day of week field has '1#6', which is not a number"),
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
    # pydocket's Cron("@daily", False) means automatic=False; strew's second argument is tz.
    assert "pass it by name, automatic=" in (Cron("@daily", False).problem() or "")  # type: ignore[arg-type]


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


async def test_a_cron_task_fires_at_the_right_minute_and_at_the_jump_on_a_day_dst_skips_it(
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
    # 8 March has no 02:30 in New York (clocks jump from 02:00 to 03:00): it runs at 03:00.
    jump = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert following == jump

    # A day later, a fresh worker finds the chain where the last one left it.
    clock.set(jump - timedelta(milliseconds=300))
    following = await _fire_once(clocked_docket, fired, "nightly", 2)
    due, started = fired[1]
    assert due == jump
    assert within_its_minute(started, due)
    assert following == datetime(2026, 3, 9, 2, 30, tzinfo=NEW_YORK)
    assert following.astimezone(NEW_YORK).utcoffset() == timedelta(hours=-4)


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
