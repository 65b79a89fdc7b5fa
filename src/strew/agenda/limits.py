"""A scatter meets its tasks' rate limits: the rate a `RateLimit` allows (for
``scatter(rate="limit")``), and where a plan asks for more starts than a limit lets through
(warned about, or refused, before anything is written).

Limits are read the way the worker will apply them (`gates_for`): a `RateLimit` default is
one limit for the task, an annotated one a limit per argument value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from strew.dependencies import RateLimit, controls_of, gates_for
from strew.stores.records import Gate
from strew.task.execution import TaskFunction


class RateLimitWarning(UserWarning):
    """A scatter plans more starts than a task's `RateLimit` lets through: the excess will be
    put back by the limit (or dropped, with ``drop=True``) instead of running on its planned
    time."""


@dataclass(frozen=True, slots=True)
class Overrun:
    """A rate limit the plan goes over: at most ``gate.limit`` starts in a window, and the
    plan puts ``peak`` of them in one."""

    gate: Gate
    peak: int

    def describe(self) -> str:
        where = self.gate.name if self.gate.scope is None else f"{self.gate.scope}/{self.gate.name}"
        return (
            f"{self.peak:,} starts within {self.gate.window / 1_000_000:g}s for rate limit "
            f"{where} (it allows {self.gate.limit:,})"
        )


def _function_of(
    entry_function: TaskFunction | str, tasks: dict[str, TaskFunction]
) -> tuple[str, TaskFunction] | None:
    if isinstance(entry_function, str):
        function = tasks.get(entry_function)
        return None if function is None else (entry_function, function)
    return getattr(entry_function, "__name__", repr(entry_function)), entry_function


def limit_rate(calls: Sequence[Any], tasks: dict[str, TaskFunction]) -> float:
    """The fastest rate (starts per second) every per-task `RateLimit` of the calls'
    functions allows; ValueError when none of them has one."""
    rates: dict[str, float] = {}
    for call in calls:
        resolved = _function_of(call.function, tasks)
        if resolved is None:
            continue
        name, function = resolved
        for control in controls_of(function):
            if control.parameter is None and isinstance(control.control, RateLimit):
                rates[name] = min(rates.get(name, float("inf")), control.control.rate)
    if not rates:
        raise ValueError(
            "rate='limit' follows the RateLimit of the task (a RateLimit default), but no task "
            "on this agenda has one; give rate= a number of tasks per second, or over="
        )
    return min(rates.values())


def overruns(
    calls: Sequence[Any],
    tasks: dict[str, TaskFunction],
    begin: int,
    offsets: Sequence[int],
) -> list[Overrun]:
    """The rate limits the planned start times (``begin + offset``) go over, worst first."""
    times: dict[tuple[str | None, str], list[int]] = {}
    gates: dict[tuple[str | None, str], Gate] = {}
    for call, offset in zip(calls, offsets, strict=True):
        resolved = _function_of(call.function, tasks)
        if resolved is None or not controls_of(resolved[1]):
            continue
        name, function = resolved
        for gate in gates_for(function, name, call.args, call.kwargs):
            if gate.kind == "rate":
                key = (gate.scope, gate.name)
                times.setdefault(key, []).append(begin + offset)
                gates.setdefault(key, gate)
    found: list[Overrun] = []
    for key, starts in times.items():
        gate = gates[key]
        if len(starts) <= gate.limit:
            continue
        starts.sort()
        # A start counts the starts less than a window before it (as the store does).
        peak, first = 0, 0
        for last, at in enumerate(starts):
            while at - starts[first] >= gate.window:
                first += 1
            peak = max(peak, last - first + 1)
        if peak > gate.limit:
            found.append(Overrun(gate, peak))
    found.sort(key=lambda overrun: (-overrun.peak / overrun.gate.limit, overrun.gate.name))
    return found
