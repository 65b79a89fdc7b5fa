"""Where an agenda puts its tasks: pure planning, no store involved."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from strew import Agenda
from strew.agenda.plan import level_shares, plan_offsets, window_length

START = datetime(2030, 1, 1, tzinfo=UTC)


async def task(n: int) -> None:
    pass


def agenda_of(count: int) -> Agenda:
    agenda = Agenda()
    for i in range(count):
        agenda.add(task)(i)
    return agenda


def test_entries_are_spread_evenly_with_both_ends_included() -> None:
    times = agenda_of(5).plan(over=timedelta(seconds=4), start=START)
    assert times == [START + timedelta(seconds=i) for i in range(5)]


def test_a_single_entry_goes_in_the_middle_of_the_window() -> None:
    assert agenda_of(1).plan(over=timedelta(minutes=10), start=START) == [
        START + timedelta(minutes=5)
    ]


def test_an_empty_agenda_plans_nothing_but_still_checks_over() -> None:
    assert Agenda().plan(over=timedelta(seconds=1), start=START) == []
    with pytest.raises(
        ValueError, match=r"'over' parameter must be a positive duration, got 0:00:00"
    ):
        Agenda().plan(over=timedelta(0), start=START)


def test_every_spaces_entries_exactly_and_the_window_follows_from_the_count() -> None:
    times = agenda_of(4).plan(every=timedelta(milliseconds=50), start=START)
    assert times == [START + timedelta(milliseconds=50 * i) for i in range(4)]


def test_rate_is_tasks_per_second() -> None:
    times = agenda_of(21).plan(rate=20, start=START)
    assert times[0] == START and times[-1] == START + timedelta(seconds=1)
    assert times[1] - times[0] == timedelta(milliseconds=50)


def test_exactly_one_of_over_rate_and_every_is_required() -> None:
    with pytest.raises(TypeError, match="missing the required argument 'over'"):
        agenda_of(2).plan(start=START)
    with pytest.raises(ValueError, match="got over, rate"):
        agenda_of(2).plan(over=timedelta(seconds=1), rate=5, start=START)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"over": timedelta(seconds=-5)},
            ValueError,
            r"'over' parameter must be a positive duration, got -1 day",
        ),
        ({"over": 5}, TypeError, r"over must be a timedelta, got 5"),
        ({"rate": 0}, ValueError, r"rate must be a positive, finite number .* got 0"),
        ({"rate": float("inf")}, ValueError, r"got inf"),
        ({"rate": True}, TypeError, r"rate must be a number .* got True"),
        ({"every": timedelta(0)}, ValueError, r"every must be a positive duration, got 0:00:00"),
        (
            {"over": timedelta(1), "jitter": timedelta(seconds=-1)},
            ValueError,
            r"jitter must be a non-negative duration, got -1 day, 23:59:59",
        ),
        ({"over": timedelta(1), "seed": 1.5}, TypeError, r"seed must be .* got 1.5"),
        (
            {"over": timedelta(1), "start": datetime(2030, 1, 1)},
            ValueError,
            r"start must be timezone-aware .* naive",
        ),
        (
            {"over": timedelta.max, "start": START},
            ValueError,
            r"over must be at most 36500 days",
        ),
    ],
)
def test_bad_plan_arguments_are_named_with_their_value(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        agenda_of(3).plan(**kwargs)  # type: ignore[arg-type]


def test_a_seed_makes_jitter_reproducible() -> None:
    agenda = agenda_of(50)
    args = {"over": timedelta(minutes=1), "start": START, "jitter": timedelta(seconds=5)}
    first = agenda.plan(**args, seed=7)  # type: ignore[arg-type]
    assert agenda.plan(**args, seed=7) == first  # type: ignore[arg-type]
    assert agenda.plan(**args, seed=8) != first  # type: ignore[arg-type]
    assert first != agenda.plan(over=timedelta(minutes=1), start=START)


def test_times_keep_the_timezone_of_start() -> None:
    tz = timezone(timedelta(hours=5))
    start = START.astimezone(tz)
    [when] = agenda_of(1).plan(over=timedelta(seconds=2), start=start)
    assert when.tzinfo == tz and when == START + timedelta(seconds=1)


@settings(max_examples=300, deadline=None)
@given(
    count=st.integers(0, 200),
    window=st.integers(1, 10**12),
    jitter=st.integers(0, 10**13),
    seed=st.integers(),
    start=st.datetimes(
        min_value=datetime(1980, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
    ),
)
def test_jittered_times_never_leave_the_window(
    count: int, window: int, jitter: int, seed: int, start: datetime
) -> None:
    over = timedelta(microseconds=window)
    times = agenda_of(count).plan(
        over=over, start=start, jitter=timedelta(microseconds=jitter), seed=seed
    )
    assert len(times) == count
    assert all(start <= when <= start + over for when in times)


@settings(max_examples=200, deadline=None)
@given(
    count=st.integers(1, 300),
    window=st.integers(1, 10**9),
    existing=st.lists(st.integers(0, 500), min_size=1, max_size=40),
    jitter=st.integers(0, 10**9),
)
def test_levelled_plans_place_every_task_inside_the_window(
    count: int, window: int, existing: list[int], jitter: int
) -> None:
    offsets = plan_offsets(count, window, jitter, random.Random(1), existing)
    assert len(offsets) == count
    assert all(0 <= offset <= window for offset in offsets)
    assert offsets == sorted(offsets) or jitter > 0


@given(existing=st.lists(st.integers(0, 1000), min_size=1, max_size=50), count=st.integers(0, 5000))
def test_water_filling_hands_out_every_task_and_never_raises_a_peak(
    existing: list[int], count: int
) -> None:
    shares = level_shares(existing, count)
    assert sum(shares) == count and all(s >= 0 for s in shares)
    totals = [e + s for e, s in zip(existing, shares, strict=True)]
    filled = [t for t, s in zip(totals, shares, strict=True) if s > 0]
    if filled:
        # Only valleys get new tasks, and they end level with each other (within one task).
        assert max(filled) - min(filled) <= 1
        assert max(filled) <= max(max(existing), min(filled) + 1)


def test_levelling_fills_the_valleys_of_a_burst() -> None:
    existing = [100, 0, 0, 0]
    assert level_shares(existing, 200) == [0, 66, 67, 67]
    offsets = plan_offsets(4, 400, existing=[0, 10, 10, 0])
    assert offsets == [25, 75, 325, 375]


def test_the_tasks_a_level_leaves_over_are_spread_over_the_window_not_piled_at_its_start() -> None:
    # 600 tasks over 500 slices, a burst of 60 in the first 42: about 1.3 a slice, so most
    # slices get one task and every third or so a second; those must not bunch together.
    existing = [0] * 500
    for i in range(60):
        existing[i * 500 // 72] += 1
    shares = level_shares(existing, 600)
    assert sum(shares) == 600
    sixths = [
        sum(existing[b] + shares[b] for b in range(k * 500 // 6, (k + 1) * 500 // 6))
        for k in range(6)
    ]
    assert max(sixths) - min(sixths) <= 3, sixths


def water_level(existing: list[int], count: int) -> Fraction:
    """The level ``count`` new tasks fill the valleys of ``existing`` to, found as the one
    candidate level (from the k lowest slices) that no higher slice lies under."""
    lowest = sorted(existing)
    for k in range(1, len(lowest) + 1):
        level = Fraction(count + sum(lowest[:k]), k)
        if k == len(lowest) or level <= lowest[k]:
            return level
    raise AssertionError("unreachable")


@settings(max_examples=200, deadline=None)
@given(
    existing=st.lists(st.integers(0, 50), min_size=1, max_size=60),
    count=st.integers(1, 3_000),
)
def test_any_stretch_of_slices_gets_its_exact_share_to_within_one_task(
    existing: list[int], count: int
) -> None:
    shares = level_shares(existing, count)
    level = water_level(existing, count)
    exact = [max(Fraction(0), level - height) for height in existing]
    assert sum(shares) == count
    # What rounding leaves over is spread evenly, never gathered in one part of the window.
    for low in range(len(existing)):
        for high in range(low + 1, len(existing) + 1):
            error = Fraction(sum(shares[low:high])) - sum(exact[low:high], Fraction(0))
            assert -1 < error < 1


def test_window_length_follows_the_count_for_rate_and_every() -> None:
    assert window_length(11, every=timedelta(seconds=1)) == 10_000_000
    assert window_length(1, rate=3) == 0
    assert window_length(4, rate=3) == 1_000_000
