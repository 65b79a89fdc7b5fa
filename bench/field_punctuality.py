"""The field, start punctuality: tasks due at future times, start lateness p50/p99.

For each library that can run a task at a future time (taskiq cannot without a separate
scheduler process: it is listed and skipped), in turn (order rotated every run) on one private
redis-server, FLUSHDB'd before each: the library's worker command starts as a subprocess at
concurrency ``--concurrency`` and is waited for (it has run one task due now), then
``--tasks`` no-op tasks are scheduled with the library's own way to say "at this time", due
``--spacing-ms`` apart from ``--lead`` seconds ahead. Each task notes when it started
(`bench.field.record`); lateness is that minus its due time. A run gives up ``--cap`` seconds
after the last due time: tasks not started by then count as started then (a lower bound,
printed when it happens).

    .venv/bin/python -m bench.field_punctuality [--runs 3] [--tasks 200] [--only strew huey ...]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import common
from bench.field import harness

NAME = "field_punctuality"


async def punctuality(url: str, library: str, args: argparse.Namespace) -> dict[str, Any]:
    module = harness.adapter(library)
    tasks = args.tasks
    with harness.worker(module, args.concurrency) as running:
        await harness.ready(url, module, running)
        first = time.time() + args.lead
        dues = [first + i * args.spacing_ms / 1000 for i in range(tasks)]
        async with module.producer() as enqueue:
            await enqueue(range(tasks), dues)
        gave_up = dues[-1] + args.cap
        seen = await harness.starts(url, lambda s: len(s) >= tasks, gave_up, running)
    unstarted = tasks - len(seen)
    late = [(seen.get(i, gave_up) - due) * 1000 for i, due in enumerate(dues)]
    return {
        "tasks": tasks,
        "unstarted": unstarted,
        "p50_ms": common.percentile(late, 50),
        "p99_ms": common.percentile(late, 99),
        "max_ms": max(late),
        "min_ms": min(late),
    }


async def main(args: argparse.Namespace) -> None:
    harness.check_args(args)
    with harness.private_redis() as url:
        # Imported only now: some adapters connect at import, to FIELD_URL.
        libraries = []
        for library in harness.chosen(args):
            reason = harness.adapter(library).DELAYED
            if reason:
                print(f"skipping {library}: {reason}", flush=True)
            else:
                libraries.append(library)
        runs: dict[str, list[dict[str, Any]]] = {}
        for run in range(args.runs):
            for library in harness.rotated(libraries, run):
                harness.flush(url)
                try:
                    result = await punctuality(url, library, args)
                    result["load"] = harness.load()
                    print(
                        f"run {run + 1}/{args.runs} {library}: lateness p50 "
                        f"{result['p50_ms']:,.1f} ms, p99 {result['p99_ms']:,.1f} ms, max "
                        f"{result['max_ms']:,.1f} ms (load {result['load']:.1f})"
                        + (
                            f"; {result['unstarted']} never started within {args.cap:g} s of "
                            "the last due time: its figures are lower bounds"
                            if result["unstarted"]
                            else ""
                        ),
                        flush=True,
                    )
                except Exception as error:  # reported, never a crash
                    result = {"error": f"{type(error).__name__}: {error}"}
                harness.attempt(library, run, runs, result)
            harness.flush(url)
        title = (
            f"start punctuality: {args.tasks} tasks due {args.spacing_ms:g} ms apart, one "
            f"worker process, concurrency {args.concurrency}; medians of {args.runs} runs"
        )
        summary = {}
        for stat in ("p50_ms", "p99_ms"):
            summary[stat] = harness.summarise(runs, stat)
            print()
            print(
                harness.field_table(
                    f"{title}, lateness {stat[:3]}", summary[stat], "ms", "strew", "lower"
                )
            )
        common.save(
            NAME,
            args,
            url,
            {"libraries": harness.versions(libraries), "lateness": summary, "runs": runs},
        )


def parse() -> argparse.Namespace:
    p = harness.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=200)
    p.add_argument("--spacing-ms", type=float, default=20.0)
    p.add_argument("--lead", type=float, default=1.5, help="seconds to the first due time")
    p.add_argument("--cap", type=float, default=10.0, help="seconds past the last due time")
    p.add_argument("--concurrency", type=int, default=10)
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
