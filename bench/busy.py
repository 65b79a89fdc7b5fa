"""Busy: do tasks still start on time while someone scatters a million tasks?

A worker follows a live stream of tasks (``--rate`` a second for ``--seconds``, added up front
with one batch add, each due at its own moment); another process, started once the stream is
under way, scatters ``--tasks`` (1,000,000) more over an hour starting in five minutes (so
that none of them competes for the worker: what is measured is Redis), all-or-nothing, on the
same docket (``--streamed``: ``atomic=False``). Each stream task reads ``time.time()`` as its
first statement; its lateness is that minus its due time. The figures are for the stream
tasks due while the scatter ran (from the moment its ``scatter()`` was called to its return)
and for the whole stream.

This is what "never block Redis" is for: a Redis step of several seconds (the one-script
commit a million-task scatter used to be) makes every task due meanwhile that late, whatever
the worker does. It runs through the public API only, so the same file runs against an older
checkout of strew (``cd old && python -m bench.busy``) to compare.

On a redis-server of its own (a free loopback port, nothing persisted, shut down at the end),
``--runs`` times (default 3); medians of the runs' percentiles.

    .venv/bin/python -m bench.busy [--runs 3] [--tasks 1000000] [--rate 200] [--seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import common

NAME = "busy"
LEAD = 1.0
"""Seconds from adding the stream to its first due time."""
SCATTER_AFTER = 3.0
"""Seconds into the stream at which the scatter is called."""

PRODUCER = """
import asyncio, sys, time
from datetime import UTC, datetime, timedelta
import strew

async def work(i: int, label: str) -> None:
    return None

async def main(url: str, name: str, n: int, atomic: bool) -> None:
    async with strew.Docket(name, url) as docket:
        docket.register(work)
        agenda = strew.Agenda()
        for i in range(n):
            agenda.add(work)(i, f"user-{i}")
        print("ready", flush=True)
        sys.stdin.readline()
        began = time.time()
        start = datetime.now(UTC) + timedelta(minutes=5)
        await agenda.scatter(docket, over=timedelta(hours=1), start=start, atomic=atomic)
        print(f"{began} {time.time()}", flush=True)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "atomic"))
"""


async def one(url: str, args: argparse.Namespace) -> dict[str, Any]:
    import strew

    n = round(args.rate * args.seconds)
    starts = [float("nan")] * n
    name = common.docket_name(NAME, "strew")
    producer = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PRODUCER,
        url,
        name,
        str(args.tasks),
        "streamed" if args.streamed else "atomic",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert producer.stdin is not None and producer.stdout is not None
    all_started = asyncio.Event()
    started: list[int] = []
    try:
        if (await producer.stdout.readline()).strip() != b"ready":
            raise RuntimeError("the producer did not start")

        async def tick(i: int) -> None:
            starts[i] = time.time()
            started.append(i)
            if len(started) == n:
                all_started.set()

        async def work(i: int, label: str) -> None:  # the scatter's own, due meanwhile
            return None

        async with strew.Docket(name, url) as docket:
            docket.register(tick)
            docket.register(work)
            first = datetime.now(UTC) + timedelta(seconds=LEAD)
            dues = [first + timedelta(seconds=i / args.rate) for i in range(n)]
            await docket.add_many(
                [docket.call(tick, when=due, key=f"t{i}")(i) for i, due in enumerate(dues)]
            )
            worker = strew.Worker(docket, concurrency=10)
            running = asyncio.create_task(worker.run_forever())
            await asyncio.sleep(max(first.timestamp() + SCATTER_AFTER - time.time(), 0))
            producer.stdin.write(b"go\n")
            await producer.stdin.drain()
            span = await producer.stdout.readline()
            scatter_began, scatter_ended = (float(x) for x in span.split())
            with suppress(TimeoutError):
                await asyncio.wait_for(all_started.wait(), dues[-1].timestamp() + 60 - time.time())
            worker.stop()
            await running
            await asyncio.wait_for(producer.wait(), 60)
    finally:
        if producer.returncode is None:
            with suppress(ProcessLookupError):
                producer.kill()
            await producer.wait()
        await common.forget(url, name)
        common.settle()
    late = [
        ((s if s == s else time.time()) - d.timestamp()) * 1000
        for s, d in zip(starts, dues, strict=True)
    ]
    during = [
        ms
        for ms, d in zip(late, dues, strict=True)
        if scatter_began <= d.timestamp() <= scatter_ended
    ]
    return {
        "scatter_seconds": scatter_ended - scatter_began,
        "tasks_during": len(during),
        "during_p50_ms": common.percentile(during, 50) if during else float("nan"),
        "during_p99_ms": common.percentile(during, 99) if during else float("nan"),
        "during_max_ms": max(during) if during else float("nan"),
        "all_p99_ms": common.percentile(late, 99),
        "unstarted": sum(1 for s in starts if s != s),
        "load_1m": os.getloadavg()[0],
    }


async def main(args: argparse.Namespace) -> None:
    with common.redis_server(args.url) as url:
        runs: list[dict[str, Any]] = []
        for i in range(args.runs):
            result = await one(url, args)
            runs.append(result)
            print(
                f"run {i + 1}/{args.runs}: {'streamed' if args.streamed else 'atomic'} scatter "
                f"of {args.tasks:,} took "
                f"{result['scatter_seconds']:.1f} s; the {result['tasks_during']:,} stream tasks "
                f"due meanwhile started p50 {result['during_p50_ms']:.1f} ms, "
                f"p99 {result['during_p99_ms']:.1f} ms, max {result['during_max_ms']:.1f} ms "
                f"late (whole stream p99 {result['all_p99_ms']:.1f} ms; "
                f"{result['unstarted']} unstarted; load {result['load_1m']:.2f})",
                flush=True,
            )
        medians = {key: common.median([r[key] for r in runs]) for key in runs[0]}
        print(
            f"\nmedians of {args.runs}: start lateness during the scatter p50 "
            f"{medians['during_p50_ms']:.1f} ms, p99 {medians['during_p99_ms']:.1f} ms, max "
            f"{medians['during_max_ms']:.1f} ms; whole stream p99 {medians['all_p99_ms']:.1f} ms"
        )
        if not args.no_save:
            common.save(NAME, args, url, {"runs": runs, "medians": medians})


def parse() -> argparse.Namespace:
    p = common.parser(__doc__ or "")
    p.add_argument("--tasks", type=int, default=1_000_000, help="the scatter's size")
    p.add_argument("--rate", type=float, default=200.0, help="stream tasks a second")
    p.add_argument("--seconds", type=float, default=30.0, help="the stream's length")
    p.add_argument("--streamed", action="store_true", help="scatter with atomic=False")
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
