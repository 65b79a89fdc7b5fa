"""The field, drain: one worker process empties a queue of no-op tasks, tasks/s.

For each library in turn (order rotated every run) on one private redis-server, FLUSHDB'd
before each: ``--tasks`` no-op tasks are queued (untimed, with the library's fastest way),
then the library's own worker command starts as a subprocess, one process at concurrency
``--concurrency`` where the library has it (rq runs one job at a time), and each task notes
when it started (`bench.field.record`). The rate is (tasks - 1) over first start to last start:
the worker's start-up (imports, connecting) is left out for every library alike. Async tasks
where the library runs them, sync where it is sync-only (huey, dramatiq, rq, celery threads).
The libraries that drained under 1,000 tasks/s here (streaq, arq, rq, celery, saq) drain
``--slow-tasks`` (2,000) instead, to keep the default run near 5 minutes; the rate is the same
kind of figure (the output says so).

    .venv/bin/python -m bench.field_drain [--runs 3] [--tasks 10000] [--only strew huey ...]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import common
from bench.field import harness

NAME = "field_drain"
SLOW = {"streaq", "arq", "rq", "celery", "saq"}


async def drain(
    url: str, library: str, tasks: int, concurrency: int, timeout: float
) -> dict[str, Any]:
    module = harness.adapter(library)
    async with module.producer() as enqueue:
        await enqueue(range(tasks), None)
    common.settle()
    with harness.worker(module, concurrency) as running:
        seen = await harness.starts(url, lambda s: len(s) >= tasks, time.time() + timeout, running)
    if len(seen) < tasks:
        raise RuntimeError(f"{len(seen)} of {tasks} tasks started within {timeout:.0f} s")
    first, last = min(seen.values()), max(seen.values())
    return {"tasks": tasks, "seconds": last - first, "rate": (tasks - 1) / (last - first)}


async def main(args: argparse.Namespace) -> None:
    harness.check_args(args)
    libraries = harness.chosen(args)
    with harness.private_redis() as url:
        runs: dict[str, list[dict[str, Any]]] = {}
        for run in range(args.runs):
            for library in harness.rotated(libraries, run):
                harness.flush(url)
                tasks = args.slow_tasks if library in SLOW else args.tasks
                try:
                    result = await drain(url, library, tasks, args.concurrency, args.timeout)
                    result["load"] = harness.load()
                    print(
                        f"run {run + 1}/{args.runs} {library}: {result['rate']:,.0f} tasks/s "
                        f"(load {result['load']:.1f})",
                        flush=True,
                    )
                except Exception as error:  # reported, never a crash
                    result = {"error": f"{type(error).__name__}: {error}"}
                harness.attempt(library, run, runs, result)
            harness.flush(url)
        medians = harness.summarise(runs, "rate")
        print()
        print(
            harness.field_table(
                f"drain: {args.tasks:,} no-op tasks ({', '.join(sorted(SLOW))}: "
                f"{args.slow_tasks:,}), one worker process, concurrency {args.concurrency}; "
                f"medians of {args.runs} runs",
                medians,
                "/s",
                "strew",
            )
        )
        notes = {lib: harness.adapter(lib).CONCURRENCY for lib in libraries}
        common.save(
            NAME,
            args,
            url,
            {
                "libraries": harness.versions(libraries),
                "medians": medians,
                "how": notes,
                "runs": runs,
            },
        )


def parse() -> argparse.Namespace:
    p = harness.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--slow-tasks", type=int, default=2_000, help="for " + ", ".join(sorted(SLOW)))
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds a drain may take")
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
