"""Cron schedules against a brute-force minute-by-minute search: generated expressions, time
zones with odd offsets and half-hour daylight saving, instants around the changes. The search
follows Debian cron's daylight-saving rules, which cronsim (and so pydocket) follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from strew.dependencies.cron import MONTHS, WEEKDAYS, CronError, CronSchedule

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    # Not Australia/Lord_Howe, whose clocks change by half an hour: cronsim steps an hour
    # field by real hours from the top of one, so past a change it lands on :30 and skips
    # half an hour of a '* 3 * * *' (test_cron.py pins what it does there).
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
    fixed_time: bool
    """Neither minute nor hour starts with '*': read on the wall clock (see `brute_force`)."""


def brute_force(fields: Fields, tz: ZoneInfo, after: datetime, limit: timedelta) -> datetime | None:
    """The first match after ``after``, within ``limit``, by Debian cron's rules.

    An expression at fixed times (``fixed_time``) is read on the wall clock: walk every local
    minute; one skipped by a jump forward fires at the first real minute after the jump, one
    that happens twice at its first pass only. Any other expression fires at every real minute
    whose local time matches: walk every UTC minute (both passes of a repeated hour are
    visited; a skipped one is not)."""
    start = after.astimezone(UTC)
    one = timedelta(minutes=1)
    if fields.fixed_time:
        wall = start.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
        end = wall + limit
        while wall <= end:
            if _matches(fields, wall):
                instant = _first_real(wall, tz)
                if instant > start:
                    return instant
            wall += one
        return None
    minute = start.replace(second=0, microsecond=0) + one
    while minute <= start + limit:
        if _matches(fields, minute.astimezone(tz)):
            return minute
        minute += one
    return None


def _first_real(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local wall-clock time, its first pass if it happens twice, or of
    the first minute after it that exists if it does not (skipped by a jump forward)."""
    while True:
        instant = wall.replace(tzinfo=tz).astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == wall:
            return instant
        wall += timedelta(minutes=1)


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
        fixed_time=not minute[2] and not hour[2],
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
        # Only expressions that never fire are refused: no date in 50 years matches.
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
        fixed_time=not minute[2],
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
