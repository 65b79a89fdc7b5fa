"""Smoothness: does a scattered batch *run* as evenly as it was planned?

3,000 tasks (``--tasks``) are scattered with each library's ``Agenda`` over 30 s
(``--seconds``), starting ``--lead`` seconds after the scatter begins, and one worker at its
default settings runs them. Each task reads ``time.time()`` first. Reported: the most starts
in any 250 ms slice divided by the mean per slice (1.0 is perfectly even), and the start
lateness (actual start minus planned time) p50/p99/max; plus a text histogram of starts per
second for each system. pydocket runs at its default concurrency and at 100; a run gives up
``--cap`` seconds after the last due time, and tasks not started by then count as started
then (lower bounds, said so in the output).

    .venv/bin/python -m bench.smoothness [--runs 3] [--tasks 3000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import common

NAME = "smoothness"
SLICE = 0.25
TARGET_PEAK = 1.15
TARGET_P99_MS = 20.0

CONFIGS: list[tuple[str, str, int | None]] = [
    ("strew", "strew", None),
    ("pydocket", "pydocket", None),
    ("pydocket c100", "pydocket", 100),
]


def scattered(seconds: float, lead: float) -> common.Schedule:
    async def schedule(docket: Any, tick: Any, n: int) -> list[datetime]:
        import strew

        if isinstance(docket, strew.Docket):
            agenda: Any = strew.Agenda()
        else:
            from docket.agenda import Agenda as TheirAgenda

            agenda = TheirAgenda()
        for i in range(n):
            agenda.add(tick, key=f"t{i}")(i)
        start = datetime.now(UTC) + timedelta(seconds=lead)
        executions = await agenda.scatter(docket, over=timedelta(seconds=seconds), start=start)
        return [execution.when for execution in executions]

    return schedule


def slices(timed: common.Timed, width: float) -> list[int]:
    """Starts per slice of ``width`` seconds from the first planned time to the last start
    (unstarted tasks left out)."""
    origin = min(timed.dues)
    started = [s for s in timed.starts if s == s]
    last = max(max(started), max(timed.dues))
    counts = [0] * (math.floor((last - origin) / width) + 1)
    for s in started:
        counts[max(0, math.floor((s - origin) / width))] += 1
    return counts


def evenness(timed: common.Timed, window: float) -> dict[str, float]:
    counts = slices(timed, SLICE)
    mean = len(timed.dues) / (window / SLICE)
    return {"peak_slice": max(counts), "mean_slice": mean, "peak_over_mean": max(counts) / mean}


async def main(args: argparse.Namespace) -> None:
    schedule = scattered(args.seconds, args.lead)
    with common.redis_server(args.url) as url:
        runs: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in CONFIGS}
        per_second: dict[str, list[int]] = {}
        for i in range(args.runs):
            for label, system, concurrency in CONFIGS:
                timed = await common.timed_run(
                    system, url, NAME, args.tasks, schedule, concurrency, give_up_after=args.cap
                )
                common.settle()
                summary = {**timed.summary(), **evenness(timed, args.seconds)}
                runs[label].append(summary)
                per_second[label] = slices(timed, 1.0)
                print(
                    f"run {i + 1}/{args.runs} {label:>14}: peak/mean "
                    f"{summary['peak_over_mean']:.2f}  p50 {summary['p50_ms']:7.1f} ms  "
                    f"p99 {summary['p99_ms']:7.1f} ms  max {summary['max_ms']:7.1f} ms"
                    + (
                        f"  ({timed.unstarted} not started {args.cap:g}s after the last due "
                        "time: lower bounds)"
                        if timed.unstarted
                        else ""
                    ),
                    flush=True,
                )

        medians = {
            label: {k: common.median([r[k] for r in runs[label]]) for k in runs[label][0]}
            for label in runs
        }
        print()
        for label in runs:
            print(
                common.histogram(
                    f"{label}: starts per second (last run; {args.tasks / args.seconds:g}/s "
                    "is even)",
                    per_second[label],
                )
            )
            print()
        for other in ("pydocket", "pydocket c100"):
            rows = [
                common.Row(
                    "peak 250 ms slice / mean slice",
                    medians["strew"]["peak_over_mean"],
                    medians[other]["peak_over_mean"],
                    better="lower",
                    target=f"strew <= {TARGET_PEAK:g}",
                    # Below 1 the worker fell behind: a ratio against that would flatter it.
                    compare=medians[other]["peak_over_mean"] >= 1,
                ),
                *common.lateness_rows(medians["strew"], medians[other], TARGET_P99_MS),
            ]
            print(
                common.table(
                    f"smoothness, {args.tasks:,} tasks scattered over {args.seconds:g}s: strew "
                    f"vs {other}, medians of {args.runs} runs",
                    rows,
                )
            )
            if medians[other]["peak_over_mean"] < 1:
                print(
                    f"{other}: a peak below the mean means its worker fell behind the plan "
                    "(fewer starts per slice than were due), not that it ran more evenly."
                )
            if medians[other]["unstarted"]:
                print(
                    f"{other}: a median {medians[other]['unstarted']:.0f} tasks had not "
                    f"started {args.cap:g}s after the last due time; they count as started "
                    "then, so its lateness figures are lower bounds."
                )
            print()
        peak, p99 = medians["strew"]["peak_over_mean"], medians["strew"]["p99_ms"]
        verdicts = {"peak_met": peak <= TARGET_PEAK, "p99_met": p99 < TARGET_P99_MS}
        print(
            f"strew peak/mean {peak:.2f} (target <= {TARGET_PEAK:g}: "
            f"{'met' if verdicts['peak_met'] else 'MISSED'}), p99 {p99:.1f} ms (target < "
            f"{TARGET_P99_MS:g} ms: {'met' if verdicts['p99_met'] else 'MISSED'})"
        )
        common.save(
            NAME,
            args,
            url,
            {
                "medians": medians,
                "verdicts": verdicts,
                "starts_per_second_last_run": per_second,
                "runs": runs,
            },
        )


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=3000)
    p.add_argument("--seconds", type=float, default=30.0, help="the scatter window")
    p.add_argument("--lead", type=float, default=1.5, help="seconds until the window opens")
    p.add_argument(
        "--cap",
        type=float,
        default=10.0,
        help="give up this many seconds after the last due time (lower bounds then)",
    )
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
