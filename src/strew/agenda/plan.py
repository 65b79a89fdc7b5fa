"""When each task of a scatter goes: pure functions of the count, the window, the jitter, a
seed and, for a levelled scatter, the load already scheduled. Nothing here touches a store,
so a plan can be previewed, tested and reproduced exactly."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import timedelta
from fractions import Fraction

from strew.task.clock import check_non_negative, check_positive, micros

LEVEL_SLICES = 500
"""A levelled scatter reads the existing load in at most this many slices of its window."""

Seed = int | str | bytes | None


def window_length(
    count: int,
    over: timedelta | None = None,
    rate: float | None = None,
    every: timedelta | None = None,
) -> int:
    """The window in microseconds: ``over`` itself, or what ``count`` tasks need at one per
    ``every`` (or ``rate`` per second) from the first to the last. Exactly one must be given;
    each is checked here, with an error naming it and its value."""
    given = [
        name
        for name, value in (("over", over), ("rate", rate), ("every", every))
        if value is not None
    ]
    if not given:
        # pydocket's scatter takes `over` as a required argument: the same error type.
        raise TypeError("missing the required argument 'over' (or give rate= or every=)")
    if len(given) != 1:
        raise ValueError(f"give exactly one of over=, rate= or every=, got {', '.join(given)}")
    gaps = max(count - 1, 0)
    if over is not None:
        if isinstance(over, timedelta) and over <= timedelta(0):
            # pydocket's words, so code that matches on them keeps working.
            raise ValueError(f"'over' parameter must be a positive duration, got {over}")
        return micros(check_positive(over, "over"))
    if every is not None:
        return gaps * micros(check_positive(every, "every"))
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise TypeError(f"rate must be a number of tasks per second, got {rate!r}")
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(
            f"rate must be a positive, finite number of tasks per second, got {rate!r}"
        )
    return round(gaps * 1_000_000 / rate)


def plan_offsets(
    count: int,
    window: int,
    jitter: int = 0,
    rng: random.Random | None = None,
    existing: Sequence[int] | None = None,
) -> list[int]:
    """Where each of ``count`` tasks goes, in microseconds from the window's start.

    Evenly spaced, both ends included (one task alone sits in the middle), or, given the
    ``existing`` load per equal slice of the window, water-filled into its valleys. Jitter
    then moves each task by an independent uniform offset in ``[-jitter, +jitter]`` and
    clamps it back into ``[0, window]``: a jittered task never leaves its window.
    """
    if count <= 0:
        return []
    if existing is not None and window > 0 and len(existing) > 0:
        offsets = _levelled(count, window, existing)
    elif count == 1:
        offsets = [window // 2]
    else:
        offsets = [i * window // (count - 1) for i in range(count)]
    if jitter > 0:
        rng = rng or random.Random()
        offsets = [
            min(window, max(0, offset + round(rng.uniform(-jitter, jitter)))) for offset in offsets
        ]
    return offsets


def level_shares(existing: Sequence[int], count: int) -> list[int]:
    """How many of ``count`` new tasks each slice gets so that existing + new is as flat as
    possible: the lowest slices are filled to a common level first (water-filling).

    Each slice's exact share is a fraction; rounding the running total instead of each share
    gives every slice the floor or the ceiling of its share and spreads the extra ones
    evenly. (Handing them to the earliest slices instead, as largest-remainder rounding does
    on ties, piles them at the start of the window: with 600 tasks in 500 slices, the first
    fifth of the window got twice the rest.)"""
    lowest = sorted(existing)
    below = 0
    level = Fraction(0)
    for filled, height in enumerate(lowest, start=1):
        below += height
        level = Fraction(count + below, filled)
        if filled == len(lowest) or level <= lowest[filled]:
            break
    shares: list[int] = []
    total = Fraction(0)
    given = 0
    for height in existing:
        total += max(Fraction(0), level - height)
        shares.append(math.floor(total) - given)
        given += shares[-1]
    return shares


def _levelled(count: int, window: int, existing: Sequence[int]) -> list[int]:
    slices = len(existing)
    edges = [window * b // slices for b in range(slices + 1)]
    offsets: list[int] = []
    for b, share in enumerate(level_shares(existing, count)):
        low, width = edges[b], edges[b + 1] - edges[b]
        # Centred in equal sub-slices, so neighbouring slices' tasks never bunch at an edge.
        offsets.extend(low + (2 * k + 1) * width // (2 * share) for k in range(share))
    return offsets


def level_slices(count: int, window: int) -> int:
    return max(1, min(LEVEL_SLICES, count, window))


def jitter_micros(value: object) -> int:
    """The jitter in microseconds (None means none); an error naming it if it is not a
    duration of zero or more."""
    return 0 if value is None else micros(check_non_negative(value, "jitter"))


def check_seed(value: object) -> Seed:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | str | bytes)):
        raise TypeError(f"seed must be an int, str, bytes or None, got {value!r}")
    return value
