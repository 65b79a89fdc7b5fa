"""Drain: one worker empties a queue of no-op tasks that are all due now.

Both systems get the same treatment: the tasks are queued first (untimed, with each library's
batch add), then one worker in this process runs ``run_until_finished()``; the rate is tasks
divided by the wall time of that call, start-up and shutdown included, as a user would see it.
pydocket is far slower, so it drains fewer tasks (``--pydocket-tasks``) to keep the run short;
its rate is still tasks per second of the same kind of run.

    .venv/bin/python -m bench.drain [--runs 3] [--tasks 20000] [--url redis://...]
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from typing import Any

from bench import common

NAME = "drain"
TARGET_RATIO = 8.0
TARGET_RATE = 10_000.0


def recorder() -> tuple[list[float], Any]:
    """A no-op task that notes when it ran (the same for both systems)."""
    starts: list[float] = []

    async def noop() -> None:
        starts.append(time.perf_counter())

    return starts, noop


def result(tasks: int, elapsed: float, starts: list[float]) -> dict[str, Any]:
    if len(starts) != tasks:
        raise RuntimeError(f"ran {len(starts)} of {tasks} tasks")
    span = max(starts) - min(starts)
    return {
        "tasks": tasks,
        "seconds": elapsed,
        "rate": tasks / elapsed,
        # First start to last start: the steady rate, without start-up and shutdown.
        "steady_rate": (tasks - 1) / span if span > 0 else float("nan"),
    }


async def drain_strew(url: str, tasks: int, concurrency: int) -> dict[str, Any]:
    import strew

    name = common.docket_name(NAME, "strew")
    starts, noop = recorder()
    try:
        async with strew.Docket(name, url) as docket:
            docket.register(noop)
            calls = [docket.call(noop)() for _ in range(tasks)]
            await docket.add_many(calls)
            common.settle()
            worker = strew.Worker(docket, concurrency=concurrency)
            started = time.perf_counter()
            await worker.run_until_finished()
            elapsed = time.perf_counter() - started
    finally:
        await common.forget(url, name)
    return result(tasks, elapsed, starts)


async def drain_pydocket(url: str, tasks: int, concurrency: int) -> dict[str, Any]:
    import docket as pydocket

    name = common.docket_name(NAME, "pydocket")
    starts, noop = recorder()
    try:
        async with pydocket.Docket(name, common.pydocket_url(url)) as docket:
            docket.register(noop)
            calls = [docket.call(noop)() for _ in range(tasks)]
            await docket.add_many(calls)
            common.settle()
            async with pydocket.Worker(
                docket,
                concurrency=concurrency,
                schedule_automatic_tasks=False,
                redelivery_timeout=timedelta(minutes=5),
            ) as worker:
                started = time.perf_counter()
                await worker.run_until_finished()
                elapsed = time.perf_counter() - started
    finally:
        await common.forget(url, name)
    return result(tasks, elapsed, starts)


async def main(args: argparse.Namespace) -> None:
    with common.redis_server(args.url) as url:
        runs: dict[str, list[dict[str, Any]]] = {}
        for i in range(args.runs):
            for concurrency in args.concurrency:
                pyd_tasks = args.pydocket_tasks.get(concurrency, args.tasks)
                s = await drain_strew(url, args.tasks, concurrency)
                common.settle()
                p = await drain_pydocket(url, pyd_tasks, concurrency)
                common.settle()
                runs.setdefault(f"strew c{concurrency}", []).append(s)
                runs.setdefault(f"pydocket c{concurrency}", []).append(p)
                print(
                    f"run {i + 1}/{args.runs} concurrency {concurrency}: "
                    f"strew {s['rate']:,.0f}/s ({s['tasks']} in {s['seconds']:.2f}s), "
                    f"pydocket {p['rate']:,.0f}/s ({p['tasks']} in {p['seconds']:.2f}s)",
                    flush=True,
                )

        rows: list[common.Row] = []
        medians: dict[str, Any] = {}
        for concurrency in args.concurrency:
            s_rate = common.median([r["rate"] for r in runs[f"strew c{concurrency}"]])
            p_rate = common.median([r["rate"] for r in runs[f"pydocket c{concurrency}"]])
            s_steady = common.median([r["steady_rate"] for r in runs[f"strew c{concurrency}"]])
            p_steady = common.median([r["steady_rate"] for r in runs[f"pydocket c{concurrency}"]])
            pyd_tasks = args.pydocket_tasks.get(concurrency, args.tasks)
            rows.append(
                common.Row(
                    f"tasks/s, concurrency {concurrency} "
                    f"(strew {args.tasks:,}, pydocket {pyd_tasks:,} tasks)",
                    s_rate,
                    p_rate,
                    "/s",
                    target=f">= {TARGET_RATIO:.0f}x; strew {TARGET_RATE:,.0f}/s",
                )
            )
            rows.append(
                common.Row(
                    f"  steady (first to last start), concurrency {concurrency}",
                    s_steady,
                    p_steady,
                    "/s",
                )
            )
            medians[f"c{concurrency}"] = {
                "strew_rate": s_rate,
                "pydocket_rate": p_rate,
                "strew_steady_rate": s_steady,
                "pydocket_steady_rate": p_steady,
                "ratio": common.ratio(s_rate, p_rate),
                "strew_tasks": args.tasks,
                "pydocket_tasks": pyd_tasks,
                "ratio_target_met": common.ratio(s_rate, p_rate) >= TARGET_RATIO,
                "rate_target_met": s_rate >= TARGET_RATE,
            }
        print()
        print(common.table(f"drain: medians of {args.runs} runs", rows))
        common.save(NAME, args, url, {"medians": medians, "runs": runs})


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=20_000, help="tasks strew drains")
    p.add_argument("--concurrency", type=int, nargs="+", default=[10, 100])
    p.add_argument(
        "--pydocket-tasks",
        type=str,
        default="10:500,100:5000",
        help="tasks pydocket drains, per concurrency (c:n,c:n); the rest use --tasks",
    )
    p.add_argument(
        "--loop",
        choices=["asyncio", "uvloop"],
        default="asyncio",
        help="the event loop both sides run on (strew worker takes uvloop when installed)",
    )
    args = p.parse_args()
    args.pydocket_tasks = {
        int(c): int(n) for c, n in (pair.split(":") for pair in args.pydocket_tasks.split(","))
    }
    return args


if __name__ == "__main__":
    arguments = parse()
    common.run(main(arguments), loop=arguments.loop)
