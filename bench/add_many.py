"""Add many: scheduling a batch of 10,000 calls.

strew's ``add_many`` against 10,000 sequential ``await docket.add(fn)(i)`` of pydocket (the
headline: what a pydocket user writes today), and also against pydocket's own ``add_many``
and strew's own sequential adds, each reported separately. The clock covers building the
calls too (``docket.call(...)`` for a batch), since the caller pays for that. Each variant is
run for tasks due now and for tasks due in an hour (pydocket stores the two differently).

    .venv/bin/python -m bench.add_many [--runs 3] [--tasks 10000]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import common

NAME = "add_many"
TARGET_RATIO = 20.0


async def work(i: int) -> None:
    return None


async def measure(docket: Any, way: str, tasks: int, when: datetime | None) -> float:
    """Seconds to schedule ``tasks`` calls of ``work`` one ``way``."""
    started = time.perf_counter()
    if way == "add_many":
        await docket.add_many([docket.call(work, when=when)(i) for i in range(tasks)])
    else:
        # A fresh add() per call, as users write it (pydocket fixes the key inside add()).
        for i in range(tasks):
            await docket.add(work, when=when)(i)
    return time.perf_counter() - started


async def one(system: str, url: str, way: str, tasks: int, future: bool) -> float:
    name = common.docket_name(NAME, system)
    when = datetime.now(UTC) + timedelta(hours=1) if future else None
    try:
        if system == "strew":
            import strew

            async with strew.Docket(name, url) as docket:
                docket.register(work)
                seconds = await measure(docket, way, tasks, when)
                snapshot = await docket.snapshot()
                count = snapshot.total_tasks
        else:
            import docket as pydocket

            async with pydocket.Docket(name, common.pydocket_url(url)) as theirs:
                theirs.register(work)
                seconds = await measure(theirs, way, tasks, when)
                count = (await theirs.snapshot()).total_tasks
    finally:
        await common.forget(url, name)
    if count != tasks:
        raise RuntimeError(f"{system} {way}: {count} tasks scheduled, expected {tasks}")
    return tasks / seconds


VARIANTS = [
    ("strew", "add_many"),
    ("pydocket", "add"),
    ("pydocket", "add_many"),
    ("strew", "add"),
]


async def main(args: argparse.Namespace) -> None:
    with common.redis_server(args.url) as url:
        runs: dict[str, list[float]] = {}
        for i in range(args.runs):
            for future in (False, True):
                due = "future" if future else "now"
                line = []
                for system, way in VARIANTS:
                    rate = await one(system, url, way, args.tasks, future)
                    common.settle()
                    runs.setdefault(f"{system} {way} {due}", []).append(rate)
                    line.append(f"{system} {way} {rate:,.0f}/s")
                print(f"run {i + 1}/{args.runs} due {due}: " + ", ".join(line), flush=True)

        medians = {label: common.median(rates) for label, rates in runs.items()}
        rows: list[common.Row] = []
        for due in ("now", "future"):
            rows += [
                common.Row(
                    f"due {due}: strew add_many vs pydocket sequential add",
                    medians[f"strew add_many {due}"],
                    medians[f"pydocket add {due}"],
                    "/s",
                    target=f">= {TARGET_RATIO:.0f}x",
                ),
                common.Row(
                    f"due {due}: strew add_many vs pydocket add_many",
                    medians[f"strew add_many {due}"],
                    medians[f"pydocket add_many {due}"],
                    "/s",
                ),
                common.Row(
                    f"due {due}: sequential add, both",
                    medians[f"strew add {due}"],
                    medians[f"pydocket add {due}"],
                    "/s",
                ),
            ]
        print()
        print(
            common.table(
                f"add_many: {args.tasks:,} calls, tasks scheduled per second, "
                f"medians of {args.runs} runs",
                rows,
            )
        )
        ratios = {
            due: {
                "vs_sequential_add": common.ratio(
                    medians[f"strew add_many {due}"], medians[f"pydocket add {due}"]
                ),
                "vs_pydocket_add_many": common.ratio(
                    medians[f"strew add_many {due}"], medians[f"pydocket add_many {due}"]
                ),
            }
            for due in ("now", "future")
        }
        for due, r in ratios.items():
            met = r["vs_sequential_add"] >= TARGET_RATIO
            print(
                f"due {due}: strew add_many is {r['vs_sequential_add']:.1f}x pydocket's "
                f"sequential adds (target >= {TARGET_RATIO:.0f}x: {'met' if met else 'MISSED'})"
            )
        common.save(
            NAME,
            args,
            url,
            {"tasks": args.tasks, "medians": medians, "ratios": ratios, "runs": runs},
        )


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000)
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
