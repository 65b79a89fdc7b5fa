"""The field, batch enqueue: 10,000 no-op tasks put on the queue, tasks/s and Redis bytes/task.

For each library in turn (order rotated every run) on one private redis-server, FLUSHDB'd
before each, no worker running: a few tasks first (connections opened, scripts loaded, the
library's keys created), then the clock covers enqueueing ``--tasks`` calls of ``noop(i)``
with the library's fastest documented way (its batch API where it has one: strew
``add_many``, rq ``enqueue_many``, streaq ``enqueue_many``; celery one producer connection
for all; the others one call per task). Bytes per task is Redis ``used_memory`` after minus
before, over the tasks. strew is measured twice: ``add_many`` of tasks due now, and an
``Agenda`` scattered over one hour (future tasks: a schedule entry rather than a queue
entry).

    .venv/bin/python -m bench.field_enqueue [--runs 3] [--tasks 10000] [--only strew rq ...]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import common
from bench.field import harness

NAME = "field_enqueue"
WARM_UP = 10


async def enqueue(url: str, label: str, tasks: int) -> dict[str, Any]:
    library = label.split()[0]
    module = harness.adapter(library)
    producer = module.scatter_producer if label == "strew scatter" else module.producer
    async with producer() as put:
        await put(range(-WARM_UP, 0), None)
        common.settle()
        before = await common.used_memory(url)
        started = time.perf_counter()
        await put(range(tasks), None)
        seconds = time.perf_counter() - started
        after = await common.used_memory(url)
    return {
        "tasks": tasks,
        "seconds": seconds,
        "rate": tasks / seconds,
        "bytes_per_task": (after - before) / tasks,
    }


def labels(libraries: list[str]) -> list[str]:
    out = []
    for library in libraries:
        out += ["strew add_many", "strew scatter"] if library == "strew" else [library]
    return out


async def main(args: argparse.Namespace) -> None:
    harness.check_args(args)
    everyone = labels(harness.chosen(args))
    with harness.private_redis() as url:
        runs: dict[str, list[dict[str, Any]]] = {}
        for run in range(args.runs):
            for label in harness.rotated(everyone, run):
                harness.flush(url)
                try:
                    result = await enqueue(url, label, args.tasks)
                    result["load"] = harness.load()
                    print(
                        f"run {run + 1}/{args.runs} {label}: {result['rate']:,.0f} tasks/s, "
                        f"{result['bytes_per_task']:.0f} B/task (load {result['load']:.1f})",
                        flush=True,
                    )
                except Exception as error:  # reported, never a crash
                    result = {"error": f"{type(error).__name__}: {error}"}
                harness.attempt(label, run, runs, result)
            harness.flush(url)
        ordered = {label: runs[label] for label in everyone if label in runs}
        rates = harness.summarise(ordered, "rate")
        memory = harness.summarise(ordered, "bytes_per_task")
        title = f"batch enqueue: {args.tasks:,} no-op tasks; medians of {args.runs} runs"
        for strew_label in ("strew add_many", "strew scatter"):
            if strew_label in rates:
                print()
                print(harness.field_table(f"{title}, tasks/s", rates, "/s", strew_label))
                print()
                print(
                    harness.field_table(
                        f"{title}, Redis bytes per task", memory, "B", strew_label, "lower"
                    )
                )
        common.save(
            NAME,
            args,
            url,
            {
                "libraries": harness.versions(sorted({label.split()[0] for label in everyone})),
                "rates": rates,
                "bytes_per_task": memory,
                "runs": ordered,
            },
        )


def parse() -> argparse.Namespace:
    p = harness.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000)
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
