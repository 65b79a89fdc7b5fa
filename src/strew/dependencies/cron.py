"""Cron expressions: parse the classic five fields, find the next wall-clock match.

`CronSchedule.parse("*/5 9-17 * * mon-fri", tz)` reads an expression; ``next_after(when)``
is the first matching minute strictly after ``when``. Pure functions of their input: no
clock is read here, so a test can ask about any instant.

Fields, in order: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or
``jan``-``dec``), day of week (0-7, both 0 and 7 are Sunday, or ``sun``-``sat``). Each field is
a comma-separated list of items; an item is ``*``, a value, a range ``a-b``, or either of
those with a step (``*/15``, ``10-50/20``; ``a/s`` means ``a`` to the field's end by ``s``).
Names are case-insensitive. ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``, ``@daily``
(``@midnight``) and ``@hourly`` stand for their usual expressions.

Day of month and day of week follow the cron rule: when both are restricted (neither starts
with ``*``), a day matches if **either** matches (``0 0 13 * fri``: every 13th and every
Friday); when one starts with ``*``, only the other counts.

Time zones (``zoneinfo``): matching is on the local wall clock. A local time that does not
exist (skipped by a daylight-saving jump forward) does not fire; a local time that happens
twice (the hour repeated when clocks go back) fires once, at its first occurrence.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

# The Gregorian calendar repeats, weekdays included, every 400 years: a day that matches
# at all matches within any 400 consecutive years (29 February on a Sunday, say, can be
# 40 years apart). `parse` refuses expressions that never match, so the bound is never hit.
CYCLE_YEARS = 400


class CronError(ValueError):
    """An expression that does not parse, naming the field and the value at fault."""


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: list[str] | None = None
    name_base: int = 0


FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, MONTHS, 1),
    _Field("day of week", 0, 7, WEEKDAYS, 0),
)

_ITEM = re.compile(r"^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:/([0-9]+))?$")

# Days each month can have (February in a leap year): for spotting expressions that can
# never match, such as the 30th of February.
_LONGEST = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def _value(field: _Field, text: str, expression: str) -> int:
    if text.isdigit():
        number = int(text)
    elif field.names is not None and text in field.names:
        number = field.names.index(text) + field.name_base
    else:
        names = f" or a name ({', '.join(field.names)})" if field.names else ""
        raise CronError(
            f"cron expression {expression!r}: {field.name} field has {text!r}, which is not "
            f"a number{names}"
        )
    if not field.low <= number <= field.high:
        raise CronError(
            f"cron expression {expression!r}: {field.name} must be within "
            f"{field.low}-{field.high}, got {text!r}"
        )
    return number


def _parse_field(field: _Field, text: str, expression: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.lower().split(","):
        match = _ITEM.match(item)
        if match is None:
            raise CronError(
                f"cron expression {expression!r}: {field.name} field has {item!r}, which is "
                "not '*', a value, a range a-b, or one of those with a /step"
            )
        star, first, last, step_text = match.groups()
        step = 1
        if step_text is not None:
            step = int(step_text)
            if step == 0:
                raise CronError(
                    f"cron expression {expression!r}: {field.name} step must be at least 1, "
                    f"got {item!r}"
                )
        if star:
            low, high = field.low, field.high
        else:
            low = _value(field, first, expression)
            if last is not None:
                high = _value(field, last, expression)
            elif step_text is not None:
                high = field.high  # 'a/s': from a to the end of the field
            else:
                high = low
            if high < low:
                raise CronError(
                    f"cron expression {expression!r}: {field.name} range {item!r} runs "
                    "backwards; write it as two ranges (for example 22-23,0-2)"
                )
        values.update(range(low, high + 1, step))
    return frozenset(values)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression and the time zone its wall clock is read in."""

    expression: str
    tz: tzinfo
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 is Monday, as `date.weekday` counts (cron's 0 and 7, Sunday, are 6 here)."""
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expression: str, tz: tzinfo | str | None = None) -> CronSchedule:
        """Read ``expression``; raise `CronError` naming the field and value at fault.
        ``tz`` is a `tzinfo` or an IANA name (``"Europe/Paris"``); None means UTC."""
        if not isinstance(expression, str):
            raise CronError(f"cron expression must be a string, got {expression!r}")
        zone = _zone(tz)
        text = expression.strip()
        if text.startswith("@"):
            if text.lower() not in MACROS:
                raise CronError(
                    f"cron expression {expression!r} is not a known macro "
                    f"(known: {', '.join(MACROS)})"
                )
            text = MACROS[text.lower()]
        parts = text.split()
        if len(parts) != 5:
            raise CronError(
                f"cron expression {expression!r} must have 5 fields (minute hour "
                f"day-of-month month day-of-week), got {len(parts)}"
            )
        minutes, hours, days, months, cron_weekdays = (
            _parse_field(field, part, expression) for field, part in zip(FIELDS, parts, strict=True)
        )
        # cron counts Sunday as 0 (and 7); date.weekday() counts Monday as 0.
        weekdays = frozenset((day - 1) % 7 for day in cron_weekdays)
        schedule = cls(
            expression,
            zone,
            tuple(sorted(minutes)),
            tuple(sorted(hours)),
            days,
            months,
            weekdays,
            days_restricted=not parts[2].startswith("*"),
            weekdays_restricted=not parts[4].startswith("*"),
        )
        if not schedule._ever_matches():
            raise CronError(
                f"cron expression {expression!r}: day of month {parts[2]!r}, month "
                f"{parts[3]!r} and day of week {parts[4]!r} never fall on one date, so it "
                "would never fire"
            )
        return schedule

    def _ever_matches(self) -> bool:
        if self.days_restricted and self.weekdays_restricted:
            return True  # either suffices, and every month has every day of the week
        pairs = [(m, d) for m in sorted(self.months) for d in sorted(self.days)]
        pairs = [(m, d) for m, d in pairs if d <= _LONGEST[m - 1]]
        if len(self.weekdays) == 7:
            return bool(pairs)
        for year in range(2000, 2000 + CYCLE_YEARS):
            for month, day in pairs:
                if (month, day) == (2, 29) and not calendar.isleap(year):
                    continue
                if date(year, month, day).weekday() in self.weekdays:
                    return True
        return False

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_days = day.day in self.days
        in_weekdays = day.weekday() in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_days or in_weekdays
        return in_days and in_weekdays

    def next_after(self, when: datetime) -> datetime:
        """The first instant strictly after ``when`` whose local wall-clock minute matches,
        in this schedule's time zone. ``when`` must be timezone-aware.

        Compare results with times in other zones after ``.astimezone(UTC)``: Python never
        considers a time in a repeated hour equal to one in another zone (PEP 495)."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"when must be timezone-aware, got naive {when!r}")
        # Compare instants in UTC: aware datetimes sharing a tzinfo compare by wall clock.
        after = when.astimezone(UTC)
        local = after.astimezone(self.tz).replace(tzinfo=None)
        day = local.date()
        # Wall-clock minutes are searched forward from the local minute of ``when``; those
        # whose instant is not after ``when`` (the repeated hour after a fall-back, when
        # ``when`` lies in its second pass) are passed over by the comparison below.
        floor = local.replace(second=0, microsecond=0)
        last = day + timedelta(days=366 * CYCLE_YEARS)
        while day <= last:
            if day.month not in self.months:
                # Straight to the first of the next month.
                day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
                continue
            if self.matches_day(day):
                for hour in self.hours:
                    if day == floor.date() and hour < floor.hour:
                        continue
                    for minute in self.minutes:
                        wall = datetime.combine(day, time(hour, minute))
                        if wall < floor:
                            continue
                        instant = self._instant(wall)
                        if instant is not None and instant > after:
                            return instant.astimezone(self.tz)
            day += timedelta(days=1)
        raise CronError(  # pragma: no cover - parse refuses the schedules that never match
            f"cron expression {self.expression!r} has no match within {CYCLE_YEARS} years "
            f"after {when.isoformat()}"
        )

    def _instant(self, wall: datetime) -> datetime | None:
        """The UTC instant of a local wall-clock time (its first occurrence when it happens
        twice), or None when the time does not exist in this zone (skipped by a DST jump)."""
        instant = wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        if instant.astimezone(self.tz).replace(tzinfo=None) != wall:
            return None
        return instant


def _zone(tz: tzinfo | str | None) -> tzinfo:
    if tz is None:
        return UTC
    if isinstance(tz, tzinfo):
        return tz
    if isinstance(tz, str):
        try:
            return ZoneInfo(tz)
        except (KeyError, ValueError, OSError) as error:  # not found is a KeyError
            raise CronError(f"tz must be a known IANA time zone name, got {tz!r}") from error
    raise CronError(f"tz must be a tzinfo, an IANA zone name or None, got {tz!r}")
