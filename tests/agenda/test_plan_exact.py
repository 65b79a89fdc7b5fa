"""Exact plans: the whole-microsecond offsets `plan_offsets` gives, pinned literally.

test_agenda_planning.py checks properties (inside the window, reproducible with a seed,
level within one task) and windows that divide evenly; a change of rounding, of the edges or
of the random draws keeps every one of those properties. These write the expected offsets
out, so any such change fails.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from strew import Agenda
from strew.agenda.plan import LEVEL_SLICES, level_slices, plan_offsets, window_length

START = datetime(2030, 1, 1, tzinfo=UTC)


async def task(n: int) -> None:
    pass


def agenda_of(count: int) -> Agenda:
    agenda = Agenda()
    for i in range(count):
        agenda.add(task)(i)
    return agenda


def test_a_window_that_does_not_divide_evenly_rounds_each_offset_down_to_a_microsecond() -> None:
    assert plan_offsets(4, 10) == [0, 3, 6, 10]
    assert plan_offsets(7, 1_000_000) == [0, 166_666, 333_333, 500_000, 666_666, 833_333, 1_000_000]
    assert all(type(offset) is int for offset in plan_offsets(7, 1_000_000))


def test_an_agenda_plans_the_same_rounded_down_microseconds() -> None:
    times = agenda_of(7).plan(over=timedelta(seconds=1), start=START)
    assert [(when - START) // timedelta(microseconds=1) for when in times] == [
        0,
        166_666,
        333_333,
        500_000,
        666_666,
        833_333,
        1_000_000,
    ]


def test_one_task_in_an_odd_window_sits_half_a_microsecond_before_the_middle() -> None:
    assert plan_offsets(1, 11) == [5]
    assert plan_offsets(1, 1) == [0]


def test_two_tasks_sit_at_both_ends_of_the_window() -> None:
    assert plan_offsets(2, 7) == [0, 7]


def test_no_tasks_plan_nothing() -> None:
    assert plan_offsets(0, 1_000) == []
    assert plan_offsets(-1, 1_000) == []


def test_a_seeded_jittered_plan_is_exactly_this_one() -> None:
    # Jitter of 400 in a window of 1,000: some offsets are clamped to each end.
    assert plan_offsets(6, 1_000, 400, random.Random(7)) == [0, 0, 521, 258, 829, 893]
    assert plan_offsets(8, 1_000_000, 300_000, random.Random("strew")) == [
        0,
        0,
        281_691,
        193_221,
        356_778,
        972_559,
        1_000_000,
        1_000_000,
    ]


def test_an_agenda_with_a_seed_plans_exactly_these_times() -> None:
    times = agenda_of(8).plan(
        over=timedelta(seconds=1), start=START, jitter=timedelta(milliseconds=300), seed="strew"
    )
    assert [(when - START) // timedelta(microseconds=1) for when in times] == [
        0,
        0,
        281_691,
        193_221,
        356_778,
        972_559,
        1_000_000,
        1_000_000,
    ]


def test_jitter_of_zero_leaves_the_plan_even_and_draws_nothing() -> None:
    rng = random.Random(3)
    assert plan_offsets(4, 10, 0, rng) == [0, 3, 6, 10]
    assert rng.random() == random.Random(3).random()


def test_a_levelled_plan_centres_each_task_in_its_slice_of_an_uneven_window() -> None:
    # Three slices of a 10 us window: [0, 3), [3, 6), [6, 10).
    assert plan_offsets(3, 10, existing=[0, 0, 0]) == [1, 4, 8]
    assert plan_offsets(5, 10, existing=[0, 2, 0]) == [0, 2, 6, 8, 9]


def test_a_levelled_plan_of_an_empty_load_or_window_is_the_even_plan() -> None:
    assert plan_offsets(4, 10, existing=[]) == [0, 3, 6, 10]
    assert plan_offsets(3, 0, existing=[5]) == [0, 0, 0]


def test_a_load_of_one_slice_still_levels_the_plan() -> None:
    # One slice is the whole window: tasks are centred in equal sub-slices of it, which is
    # not the even plan with both ends included ([0, 5, 10]).
    assert plan_offsets(3, 10, existing=[0]) == [1, 5, 8]


def test_a_levelled_plan_of_a_one_microsecond_window_puts_every_task_at_its_start() -> None:
    assert plan_offsets(3, 1, existing=[0]) == [0, 0, 0]
    assert plan_offsets(3, 1) == [0, 0, 1]  # the even plan, for comparison


def test_a_jitter_of_one_microsecond_still_moves_tasks() -> None:
    assert plan_offsets(6, 10, 1, random.Random(7)) == [0, 1, 4, 5, 8, 10]
    assert plan_offsets(6, 10) == [0, 2, 4, 6, 8, 10]


def test_level_slices_stop_at_the_cap_of_500() -> None:
    assert LEVEL_SLICES == 500
    assert level_slices(10_000, 10**9) == 500
    assert level_slices(501, 10**9) == 500
    assert level_slices(500, 10**9) == 500
    assert level_slices(499, 10**9) == 499


def test_level_slices_are_never_fewer_than_one() -> None:
    assert level_slices(1, 10**9) == 1
    assert level_slices(0, 10**9) == 1
    assert level_slices(1_000, 0) == 1
    assert level_slices(1_000, 1) == 1


def test_level_slices_never_exceed_the_window_in_microseconds() -> None:
    assert level_slices(1_000, 3) == 3
    assert level_slices(3, 1_000) == 3


@pytest.mark.parametrize(
    ("count", "kwargs", "window"),
    [
        (4, {"rate": 7}, 428_571),  # 3,000,000 / 7 = 428,571.43
        (3, {"rate": 0.75}, 2_666_667),  # 2,666,666.67: rounded, not truncated
        (1, {"every": timedelta(seconds=1)}, 0),
        (0, {"every": timedelta(seconds=1)}, 0),
        (3, {"over": timedelta(microseconds=1)}, 1),
    ],
)
def test_window_length_is_rounded_to_the_nearest_microsecond(
    count: int, kwargs: dict[str, object], window: int
) -> None:
    assert window_length(count, **kwargs) == window  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "shown"),
    [
        ({"rate": 1, "every": timedelta(seconds=1)}, "rate, every"),
        ({"over": timedelta(seconds=1), "every": timedelta(seconds=1)}, "over, every"),
        (
            {"over": timedelta(seconds=1), "rate": 1, "every": timedelta(seconds=1)},
            "over, rate, every",
        ),
    ],
)
def test_giving_more_than_one_window_names_each_one_given(
    kwargs: dict[str, object], shown: str
) -> None:
    with pytest.raises(ValueError, match=f"exactly one of over=, rate= or every=, got {shown}$"):
        window_length(3, **kwargs)  # type: ignore[arg-type]
