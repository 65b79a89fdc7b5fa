"""`format_duration` at the edges of each of its forms: the exact strings it prints today.

The unit tests in test_cli_units.py check round numbers, which every rounding and every
threshold mutant of `format_duration` also prints correctly. These pin the values either side
of each threshold (1 ms, 1 s, 10 s) and the rounding on the way, so a changed comparison or
a changed rounding shows.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from strew.cli.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(microseconds=1), "1us"),
        (timedelta(microseconds=999), "999us"),
        (timedelta(milliseconds=1), "1ms"),
        (timedelta(microseconds=1_499), "1ms"),
        (timedelta(microseconds=1_500), "2ms"),
        (timedelta(microseconds=999_499), "999ms"),
    ],
)
def test_under_a_second_prints_whole_microseconds_then_milliseconds_rounded_half_up(
    value: timedelta, text: str
) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(microseconds=999_500), "1s"),  # rounds up to a whole second: no fraction
        (timedelta(seconds=1, milliseconds=1), "1.001s"),
        (timedelta(seconds=9, milliseconds=999), "9.999s"),
        (timedelta(seconds=9, microseconds=999_500), "10s"),
        (timedelta(seconds=10), "10s"),
    ],
)
def test_under_ten_seconds_keeps_the_milliseconds_and_from_ten_seconds_it_does_not(
    value: timedelta, text: str
) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=12.5), "13s"),
        (timedelta(seconds=90.5), "1m31s"),
        (timedelta(seconds=59.5), "1m"),
        # Rounded twice, to the millisecond and then to the second: 10.4995 s prints as 11s,
        # not the nearer 10s (pinned as it is today).
        (timedelta(microseconds=10_499_500), "11s"),
        (timedelta(microseconds=10_499_499), "10s"),
    ],
)
def test_from_ten_seconds_the_seconds_are_rounded_half_up(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=1), "1d"),
        (timedelta(days=2, hours=3, minutes=4, seconds=5), "2d3h4m5s"),
        (timedelta(days=1, seconds=1), "1d1s"),
        (timedelta(days=400), "400d"),
        (timedelta(hours=23, minutes=59, seconds=59), "23h59m59s"),
    ],
)
def test_days_lead_and_empty_units_are_left_out(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(microseconds=-1), "-1us"),
        (timedelta(microseconds=-1_500), "-2ms"),
        (timedelta(milliseconds=-1_500), "-1.5s"),
        (timedelta(seconds=-12.5), "-13s"),
        (timedelta(days=-1), "-1d"),
    ],
)
def test_a_negative_duration_prints_its_size_rounded_away_from_zero_after_a_minus(
    value: timedelta, text: str
) -> None:
    assert format_duration(value) == text


def test_what_it_prints_under_ten_seconds_parses_back_to_the_same_millisecond() -> None:
    for millis in (1, 999, 1_001, 1_500, 9_999):
        value = timedelta(milliseconds=millis)
        assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("36500d", timedelta(days=36_500)),  # exactly the 100-year bound is allowed
        ("1.5us", timedelta(microseconds=2)),  # to whole microseconds, half to even
        ("2.5us", timedelta(microseconds=2)),
        ("0.0000015", timedelta(microseconds=2)),
        ("1d1h1m1s1ms1us", timedelta(days=1, hours=1, minutes=1, seconds=1, microseconds=1_001)),
        (" 1h 30m ", timedelta(hours=1, minutes=30)),
        (".5s", timedelta(milliseconds=500)),
        ("5.", timedelta(seconds=5)),
    ],
)
def test_parse_duration_at_its_edges(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("36500d1us", "too long a duration"),
        ("36501d", "too long a duration"),
        ("1s1s", "units go largest first, each once"),
        ("1ms1s", "units go largest first, each once"),
        ("1h 5", "is not a duration: use"),
        ("", "is not a duration: use"),
        ("-0", "durations cannot be negative"),
    ],
)
def test_parse_duration_refuses_what_lies_just_past_an_edge(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("05:00", timedelta(minutes=5)),  # pydocket's mm:ss
        ("0:5", timedelta(seconds=5)),
        ("90:00", timedelta(minutes=90)),  # the first field is not bounded
        ("01:02:03", timedelta(hours=1, minutes=2, seconds=3)),  # and hh:mm:ss
        (" 2:30 ", timedelta(minutes=2, seconds=30)),
    ],
)
def test_pydockets_clock_forms_are_durations_too(text: str, value: timedelta) -> None:
    assert parse_duration(text) == value


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("00:60", "'00:60' is not a duration: minutes and seconds go up to 59"),
        ("1:60:00", "minutes and seconds go up to 59"),
        ("1:2:3:4", "'1:2:3:4' is not a duration: a clock time is mm:ss or hh:mm:ss"),
        ("1:", "a clock time is mm:ss or hh:mm:ss"),
        ("1.5:00", "a clock time is mm:ss or hh:mm:ss"),
        ("-1:00", "durations cannot be negative"),
        ("876001:00:00", "too long a duration"),
    ],
)
def test_a_clock_form_that_is_not_one_is_refused_by_name(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        parse_duration(text)
