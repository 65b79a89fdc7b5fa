"""Cron expressions, parsed and stepped by cronsim, the library pydocket uses, so that a
schedule fires at exactly the times it fires under pydocket.

`CronSchedule.parse("*/5 9-17 * * mon-fri", tz)` reads an expression; ``next_after(when)``
is the first match strictly after ``when``. Pure functions of their input: no clock is read
here, so a test can ask about any instant.

What strew adds around cronsim:

* the Vixie shorthands (``@daily``...), which cronsim does not read, expanded as pydocket
  expands them (and, unlike pydocket, in any case: ``@DAILY`` too);
* exactly five fields: cronsim (2.7+) also reads a six-field form with seconds first, which
  pydocket does not document and which cronsim 2.6 (pydocket's floor) refuses;
* errors that name the field and the item at fault (cronsim says only ``Bad minute``), and a
  refusal of an expression that never fires, both at parse time;
* ``next_after`` is stateless and strictly after ``when``: cronsim steps the wall clock for an
  expression at fixed times, so asked from the second pass of an hour that happens twice it
  would answer the first pass, in the past (see docs/perpetual-and-cron.md, "Daylight saving").

Syntax and daylight saving are cronsim's (Debian cron's rules): see the docs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

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

# (strew's name, cronsim's name, lowest, highest, names, value of the first name)
_FIELDS = (
    ("minute", "minute", 0, 59, None, 0),
    ("hour", "hour", 0, 23, None, 0),
    ("day of month", "day-of-month", 1, 31, None, 0),
    ("month", "month", 1, 12, MONTHS, 1),
    ("day of week", "day-of-week", 0, 7, WEEKDAYS, 0),
)

# cronsim gives up after 50 years without a match; an expression that has none in the 50
# years from here has none at all (the calendar's longest gap, 29 February on a given
# weekday, is 40 years), so it is refused at parse time instead of at its first step.
_PROBE_FROM = datetime(2000, 1, 1, tzinfo=UTC)


class CronError(ValueError):
    """An expression that does not parse, naming the field and the value at fault."""


@dataclass(frozen=True)
class CronSchedule:
    """A parsed cron expression and the time zone its wall clock is read in."""

    expression: str
    """As written (``@daily`` stays ``@daily``)."""
    tz: tzinfo
    fields: str
    """The five fields cronsim reads (a shorthand expanded)."""

    @classmethod
    def parse(cls, expression: str, tz: tzinfo | str | None = None) -> CronSchedule:
        """Read ``expression``; raise `CronError` naming the field and value at fault.
        ``tz`` is a `tzinfo` or an IANA name (``"Europe/Paris"``); None means UTC."""
        if not isinstance(expression, str):
            raise CronError(f"cron expression must be a string, got {expression!r}")
        zone = _zone(tz)
        fields = _expand(expression)
        try:
            probe = CronSim(fields, _PROBE_FROM)
        except CronSimError as error:
            raise CronError(_explain(expression, fields, str(error))) from None
        try:
            next(probe)
        except StopIteration:
            raise CronError(_never(expression, fields)) from None
        return cls(expression, zone, fields)

    def next_after(self, when: datetime) -> datetime:
        """The first instant strictly after ``when`` whose local wall-clock time matches, in
        this schedule's time zone (daylight saving as cronsim handles it). ``when`` must be
        timezone-aware.

        Compare results with times in other zones after ``.astimezone(UTC)``: Python never
        considers a time in a repeated hour equal to one in another zone (PEP 495)."""
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"when must be timezone-aware, got naive {when!r}")
        after = when.astimezone(UTC)
        # cronsim reads its start on the local wall clock. For an expression at fixed times it
        # steps that wall clock, forgetting which pass of a repeated hour ``when`` was in: from
        # the second pass it answers a time of the first, already past. Such answers (at most
        # an hour of them) are passed over: a repeated time fires once.
        for found in CronSim(self.fields, after.astimezone(self.tz)):
            if found.astimezone(UTC) > after:
                return found
        raise CronError(  # pragma: no cover - parse refuses the schedules that never match
            f"cron expression {self.expression!r} has no match within 50 years after "
            f"{when.isoformat()}"
        )


def _expand(expression: str) -> str:
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in MACROS:
            raise CronError(
                f"cron expression {expression!r} is not a known macro (known: {', '.join(MACROS)})"
            )
        return MACROS[text.lower()]
    parts = text.split()
    if len(parts) != 5:
        raise CronError(
            f"cron expression {expression!r} must have 5 fields (minute hour "
            f"day-of-month month day-of-week), got {len(parts)}"
        )
    return " ".join(parts)


def _explain(expression: str, fields: str, error: str) -> str:
    """A message for cronsim's ``Bad <field>``: which item of the field it refuses, and why."""
    parts = fields.split()
    index = next((i for i, f in enumerate(_FIELDS) if error == f"Bad {f[1]}"), None)
    if index is None:  # pragma: no cover - cronsim's messages all name a field
        return f"cron expression {expression!r} is not valid: {error}"
    for item in parts[index].split(","):
        alone = ["*"] * 5
        alone[index] = item
        try:
            CronSim(" ".join(alone), _PROBE_FROM)
        except CronSimError:
            return f"cron expression {expression!r}: {_why(index, item)}"
    # Every item is valid alone: the days named are in none of the months named.
    return _never(expression, fields)


def _why(index: int, item: str) -> str:
    name, _, low, high, names, base = _FIELDS[index]
    body, slash, step = item.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        return f"{name} step must be at least 1, got {item!r}"
    values: list[int] = []
    for end in [] if body == "*" else body.split("-", 1):
        if end.isdigit():
            value = int(end)
        elif names is not None and end.lower() in names:
            value = names.index(end.lower()) + base
        else:
            named = f" or a name ({', '.join(names)})" if names else ""
            return f"{name} field has {end!r}, which is not a number{named}"
        if not low <= value <= high:
            return f"{name} must be within {low}-{high}, got {end!r}"
        values.append(value)
    if len(values) == 2 and values[1] < values[0]:
        return (
            f"{name} range {item!r} runs backwards; write it as two ranges (for example 22-23,0-2)"
        )
    extras = " (or L, LW, 5L, 1#2 for the last day, last weekday, last Friday, second Monday)"
    return (
        f"{name} field has {item!r}, which is not '*', a value, a range a-b, or one of "
        f"those with a /step{extras if index in (2, 4) else ''}"
    )


def _never(expression: str, fields: str) -> str:
    _, _, days, months, weekdays = fields.split()
    return (
        f"cron expression {expression!r}: day of month {days!r}, month {months!r} and day "
        f"of week {weekdays!r} never fall on one date, so it would never fire"
    )


def _zone(tz: tzinfo | str | None) -> tzinfo:
    given: object = tz
    if isinstance(given, bool):  # Cron("@daily", False), written for pydocket
        raise CronError(
            f"tz must be a tzinfo, an IANA zone name or None, got {given!r} (pydocket's Cron "
            "takes automatic second: pass it by name, automatic=...)"
        )
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
