"""Lateness: how close to its due time does each future task start?

3,000 tasks (``--rate`` x ``--seconds``) are scheduled up front with one batch add, task i due
at ``start + i/rate`` (start is ``--lead`` seconds after scheduling begins). One worker at its
default settings then runs them all. Each task reads ``time.time()`` as its first statement;
lateness is that minus its planned due time. pydocket is run at its default concurrency and
at concurrency 100. A run gives up ``--cap`` seconds after the last due time (pydocket at its
default concurrency runs about 40 tasks/s, so it cannot keep up with 100/s): tasks not started
by then count as started then, which makes the figures of that run lower bounds.

    .venv/bin/python -m bench.lateness [--runs 3] [--seconds 30] [--rate 100]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import common

NAME = "lateness"
TARGET_P99_MS = 10.0

CONFIGS: list[tuple[str, str, int | None]] = [
    ("strew", "strew", None),
    ("pydocket", "pydocket", None),
    ("pydocket c100", "pydocket", 100),
]


def evenly(rate: float, lead: float) -> common.Schedule:
    async def schedule(docket: Any, tick: Any, n: int) -> list[datetime]:
        start = datetime.now(UTC) + timedelta(seconds=lead)
        dues = [start + timedelta(seconds=i / rate) for i in range(n)]
        calls = [docket.call(tick, when=due, key=f"t{i}")(i) for i, due in enumerate(dues)]
        await docket.add_many(calls)
        return dues

    return schedule


async def main(args: argparse.Namespace) -> None:
    n = round(args.rate * args.seconds)
    schedule = evenly(args.rate, args.lead)
    with common.redis_server(args.url) as url:
        runs: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in CONFIGS}
        for i in range(args.runs):
            for label, system, concurrency in CONFIGS:
                timed = await common.timed_run(
                    system, url, NAME, n, schedule, concurrency, give_up_after=args.cap
                )
                common.settle()
                summary = timed.summary()
                runs[label].append(summary)
                print(
                    f"run {i + 1}/{args.runs} {label:>14}: p50 {summary['p50_ms']:7.1f} ms  "
                    f"p99 {summary['p99_ms']:7.1f} ms  max {summary['max_ms']:7.1f} ms  "
                    f"(scheduled {n} in {summary['schedule_seconds']:.2f}s"
                    + (
                        f"; {timed.unstarted} not started {args.cap:g}s after the last due"
                        " time: lower bounds"
                        if timed.unstarted
                        else ""
                    )
                    + ")",
                    flush=True,
                )

        medians = {
            label: {k: common.median([r[k] for r in runs[label]]) for k in runs[label][0]}
            for label in runs
        }
        print()
        for other in ("pydocket", "pydocket c100"):
            rows = common.lateness_rows(medians["strew"], medians[other], TARGET_P99_MS)
            print(
                common.table(
                    f"lateness, {n:,} tasks at {args.rate:g}/s: strew (default worker) vs "
                    f"{other}, medians of {args.runs} runs",
                    rows,
                )
            )
            if medians[other]["unstarted"]:
                print(
                    f"{other}: a median {medians[other]['unstarted']:.0f} of {n:,} tasks had "
                    f"not started {args.cap:g}s after the last due time (the run gives up "
                    "there to stay short); they count as started then, so its figures are "
                    "lower bounds."
                )
            print()
        p99 = medians["strew"]["p99_ms"]
        print(
            f"strew p99 {p99:.1f} ms: target < {TARGET_P99_MS:.0f} ms "
            f"{'met' if p99 < TARGET_P99_MS else 'MISSED'}"
        )
        common.save(
            NAME,
            args,
            url,
            {
                "tasks": n,
                "medians": medians,
                "p99_target_met": p99 < TARGET_P99_MS,
                "runs": runs,
            },
        )


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=30.0, help="span of the due times")
    p.add_argument("--rate", type=float, default=100.0, help="tasks due per second")
    p.add_argument("--lead", type=float, default=1.5, help="seconds until the first is due")
    p.add_argument(
        "--cap",
        type=float,
        default=10.0,
        help="give up this many seconds after the last due time (unstarted tasks then count "
        "as that late: a lower bound)",
    )
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
