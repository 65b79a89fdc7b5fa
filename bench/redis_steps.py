"""The longest single Redis step of each large operation: issue 18 §1, "Never block Redis".

Redis runs one command (or one Lua script) at a time: while a step runs, every other client
of that server waits. strew's rule is that no single step takes more than about 50 ms, at any
size. This script measures it through the public API only, so it runs unchanged before and
after any change to how the store splits its work.

On a redis-server of its own (a free loopback port, nothing persisted, shut down at the end)
with the slow log catching every step over 1 ms (``slowlog-log-slower-than 1000``, a long
``slowlog-max-len``) and the latency monitor on (10 ms), it runs on one docket, ``--runs``
times (default 1: one run takes about a minute on 2 cores; each is the same work):

* an atomic scatter of ``--small`` (100,000) tasks over an hour, the reads below at that
  size (`count_by_function` counts exactly up to 100,000 tasks, so this is its worst case),
  and its cancel;
* an atomic scatter of ``--tasks`` (1,000,000) over an hour (rate, and its ratio to the
  small scatter's: linear cost gives ~1.0);
* at ``--tasks`` scheduled, the reads: ``strew snapshot``'s (`Docket.snapshot(20)`, the load
  ahead `Docket.scheduled_histogram` over an hour in 24 slices and the overdue count,
  `Docket.count_by_function()`), the dashboard's (`snapshot(0)`, a 60-slice histogram,
  `scatters(20)`, `scatter_progress(id, 60)`, `workers()`, `punctuality()`), and pydocket's
  `Docket.snapshot()` of everything;
* a streamed scatter (``atomic=False``) of ``--small`` onto those ``--tasks`` scheduled;
* `Agenda.cancel` of that scatter;
* `Docket.clear()` of a docket holding ``--tasks`` scheduled;
* the catch-up re-spread (docs/catch-up.md) of a ``--tasks`` scatter whose whole window is
  overdue, made with ``CatchUp.respread()``: one worker of concurrency 1 claims a late task
  and sends the re-spread request; it is stopped once that request went out.

For each workload the slow log and latency monitor are reset first and read after: the
longest single step and what it was (an ``EVALSHA`` is named by its script, matching the SHA1
of each ``src/strew/stores/redis/lua/*.lua`` as the store loads it), the steps over 50 ms,
their total, and the wall time. It is a measurement, not a test: it exits 0 whatever it
finds (a workload that raises is reported with its error, and its steps still counted).

    .venv/bin/python -m bench.redis_steps [--tasks 1000000] [--small 100000] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from bench import common
from bench.slowlog import LATENCY_MS, LIMIT_MS, SLOW_US, Observer, Steps, patiently

NAME = "redis_steps"
OVER = timedelta(hours=1)


async def work(i: int, label: str) -> None:
    return None


# -- the workloads ---------------------------------------------------------------------------


def agenda_of(n: int) -> Any:
    import strew

    agenda = strew.Agenda()
    for i in range(n):
        agenda.add(work)(i, f"user-{i}")
    return agenda


class Workloads:
    """Each workload on one docket; ``steps[label]`` gets one `Steps` per run."""

    def __init__(self, docket: Any, observer: Observer, args: argparse.Namespace) -> None:
        self.docket = docket
        self.observer = observer
        self.args = args
        self.steps: dict[str, list[Steps]] = {}
        self.rates: dict[int, list[float]] = {}

    async def note(self, label: str, action: Callable[[], Awaitable[str]]) -> None:
        steps = await self.observer.measure(action)
        self.steps.setdefault(label, []).append(steps)
        over = [
            f"{what.removeprefix('EVALSHA ')} {ms:,.0f}"
            for ms, what in steps.slowest
            if ms > LIMIT_MS
        ]
        more = ", ..." if steps.over_limit > len(over) else ""
        print(
            f"  {label:<44} {steps.wall_s:8.2f} s wall, longest step {steps.longest_ms:8.1f} ms "
            f"({steps.longest}), {steps.over_limit} over {LIMIT_MS:g} ms"
            + (f" ({', '.join(over)}{more})" if over else "")
            + (f"; {steps.note}" if steps.note else "")
            + (f"; ERROR {steps.error}" if steps.error else ""),
            flush=True,
        )

    async def scatter(self, n: int, agenda: Any = None, **options: Any) -> Any:
        agenda = agenda_of(n) if agenda is None else agenda
        common.settle()
        began = time.perf_counter()
        done = await agenda.scatter(self.docket, over=OVER, **options)
        seconds = time.perf_counter() - began
        if len(done) != n:
            raise RuntimeError(f"scattered {len(done)} of {n}")
        return done.scatter_id, seconds

    async def timed_scatter(self, n: int) -> str | None:
        """Scatter ``n`` (measured: its rate noted), and return its id."""
        scatter_id: str | None = None
        agenda = agenda_of(n)  # built before the clock starts, as in bench/scatter.py

        async def action() -> str:
            nonlocal scatter_id
            scatter_id, seconds = await self.scatter(n, agenda)
            self.rates.setdefault(n, []).append(n / seconds)
            return f"{n / seconds:,.0f} tasks/s"

        await self.note(f"atomic scatter of {n:,}", action)
        return scatter_id

    async def streamed(self, n: int, scheduled: int) -> None:
        """A streamed scatter (``atomic=False``) of ``n`` onto ``scheduled`` already there:
        each of its writes is one script on the live schedule (dropped after, unmeasured)."""
        agenda = agenda_of(n)
        done: list[str] = []

        async def action() -> str:
            scatter_id, seconds = await self.scatter(n, agenda, atomic=False)
            done.append(scatter_id)
            return f"{n / seconds:,.0f} tasks/s"

        await self.note(f"streamed scatter of {n:,} onto {scheduled:,}", action)
        if done:
            import strew

            await strew.Agenda.cancel(self.docket, done[0])

    async def cancel(self, n: int, scatter_id: str | None) -> None:
        import strew

        async def action() -> str:
            removed = await strew.Agenda.cancel(self.docket, scatter_id or "")
            return f"{removed:,} removed"

        await self.note(f"cancel of the {n:,} scatter", action)

    async def reads(self, n: int, scatter_id: str | None) -> None:
        from datetime import UTC, datetime

        docket = self.docket
        epoch = datetime(1970, 1, 1, tzinfo=UTC)

        async def cli() -> str:
            taken = await docket.snapshot(20)
            now = taken.taken
            await docket.scheduled_histogram(now, now + OVER, 24)
            [overdue] = await docket.scheduled_histogram(epoch, now, 1)
            await docket.count_by_function()
            return f"{taken.total_tasks:,} tasks, {overdue:,} overdue"

        async def load_ahead() -> str:
            now = (await docket.snapshot(0)).taken
            counts = await docket.scheduled_histogram(now, now + OVER, 24)
            return f"{sum(counts):,} in the next hour"

        async def by_function() -> str:
            counts = await docket.count_by_function()
            return "exact" if counts.scheduled.exact else "estimated from a sample"

        async def dashboard() -> str:
            taken = await docket.snapshot(0)
            await docket.scheduled_histogram(taken.taken, taken.taken + OVER, 60)
            await docket.scatters(20)
            if scatter_id is not None:
                await docket.scatter_progress(scatter_id, 60)
            await docket.workers()
            await docket.punctuality()
            return ""

        async def everything() -> str:
            taken = await docket.snapshot()
            return f"{len(taken.future):,} read"

        await self.note(f"strew snapshot's reads at {n:,}", cli)
        await self.note(f"  of which the load ahead (histogram) at {n:,}", load_ahead)
        await self.note(f"  of which count_by_function() at {n:,}", by_function)
        await self.note(f"dashboard reads at {n:,}", dashboard)
        await self.note(f"snapshot() of everything at {n:,}", everything)

    async def tidy(self) -> None:
        """Between workloads, not measured: wait out any step still running (a reply lost
        to the client's timeout), then empty the schedule."""
        await patiently(self.observer.client.ping)
        try:
            await self.docket.clear()
        except Exception as failed:
            print(f"  (tidying up failed: {type(failed).__name__}: {failed})", flush=True)
            await patiently(self.observer.client.ping)

    async def prepared(self, label: str, setup: Awaitable[Any]) -> Any:
        """``setup``'s result, or None (printed) when it raised: the workload is skipped."""
        try:
            return await setup
        except Exception as failed:
            print(f"  {label}: setting up failed ({type(failed).__name__}: {failed})", flush=True)
            await self.tidy()
            return None

    async def clear(self, n: int) -> None:
        label = f"clear() of {n:,} scheduled"
        if await self.prepared(label, self.scatter(n)) is None:  # not measured
            return

        async def action() -> str:
            return f"{await self.docket.clear():,} dropped"

        await self.note(label, action)
        await self.tidy()

    async def respread(self, n: int) -> None:
        import strew

        label = f"catch-up re-spread of an overdue {n:,}"
        now = (await self.docket.snapshot(0)).taken
        # The whole window in the past: every member is overdue when a worker comes back.
        setup = self.scatter(
            n,
            start=now - OVER - timedelta(minutes=1),
            catch_up=strew.CatchUp.respread(after=timedelta(seconds=1)),
        )
        if await self.prepared(label, setup) is None:  # not measured
            return

        async def action() -> str:
            worker = strew.Worker(self.docket, concurrency=1)
            running = asyncio.create_task(worker.run_until_finished())
            deadline = time.monotonic() + 600
            while worker.catch_up.requests < 1 and not running.done():
                if time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.005)
            worker.stop()  # no more claims; the request in flight is awaited
            await running
            keeper = worker.catch_up
            # A reply that outlasted the client's socket timeout is lost: the worker logs a
            # warning and counts nothing, but the slow log has the step all the same.
            lost = " (reply lost)" if keeper.requests and not keeper.retimed else ""
            return f"{keeper.requests} request(s), {keeper.retimed:,} re-timed{lost}"

        await self.note(label, action)
        await self.tidy()


async def one_run(url: str, observer: Observer, args: argparse.Namespace, out: Workloads) -> None:
    import strew

    name = common.docket_name(NAME, "strew")
    try:
        async with strew.Docket(name, url) as docket:
            docket.register(work)
            out.docket = docket
            small = await out.timed_scatter(args.small)
            await out.reads(args.small, small)
            await out.cancel(args.small, small)
            await out.tidy()
            big = await out.timed_scatter(args.tasks)
            await out.reads(args.tasks, big)
            await out.streamed(args.small, args.tasks)
            await out.cancel(args.tasks, big)
            await out.tidy()
            await out.clear(args.tasks)
            await out.respread(args.tasks)
    finally:
        await common.forget(url, name)
        common.settle()


# -- the table -------------------------------------------------------------------------------


def summary(runs: list[Steps]) -> dict[str, Any]:
    worst = max(runs, key=lambda s: s.longest_ms)
    middle = sorted(runs, key=lambda s: s.wall_s)[len(runs) // 2]  # its note goes with "wall"
    return {
        "wall_s": common.median([s.wall_s for s in runs]),
        "longest_ms": common.median([s.longest_ms for s in runs]),
        "longest": worst.longest,
        "over_limit": common.median([s.over_limit for s in runs]),
        "over_limit_ms": common.median([s.over_limit_ms for s in runs]),
        "latency_max_ms": common.median([s.latency_max_ms for s in runs]),
        "load_1m": common.median([s.load_1m for s in runs]),
        "logged": max(s.logged for s in runs),
        "errors": sorted({s.error for s in runs if s.error}),
        "runs_with_errors": sum(1 for s in runs if s.error),
        "note": middle.note,
    }


def report(out: Workloads, args: argparse.Namespace) -> dict[str, Any]:
    medians = {label: summary(runs) for label, runs in out.steps.items()}
    header = (
        "workload",
        "wall",
        "longest step",
        "which",
        f"> {LIMIT_MS:g} ms",
        "their total",
        "latency monitor",
        "load",
        "note",
    )
    lines = [
        (
            label,
            common.fmt(m["wall_s"], "s"),
            common.fmt(m["longest_ms"], "ms")
            if m["longest_ms"] >= SLOW_US / 1000
            else f"< {SLOW_US / 1000:g} ms",
            m["longest"],
            f"{m['over_limit']:g}",
            common.fmt(m["over_limit_ms"], "ms"),
            common.fmt(m["latency_max_ms"], "ms"),
            f"{m['load_1m']:.2f}",
            (
                f"ERROR in {m['runs_with_errors']} of {len(out.steps[label])}: {m['errors'][0]}"
                if m["errors"]
                else m["note"]
            )[:90],
        )
        for label, m in medians.items()
    ]
    load = os.getloadavg()
    print()
    print(
        common.text_table(
            f"Redis steps, medians of {args.runs} run(s); slow log over {SLOW_US} us, "
            f"limit {LIMIT_MS:g} ms; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
            header,
            lines,
        )
    )
    small = common.median(out.rates.get(args.small, []))
    big = common.median(out.rates.get(args.tasks, []))
    linearity = common.ratio(big, small)
    print(
        f"\natomic scatter: {small:,.0f} tasks/s at {args.small:,}, {big:,.0f} tasks/s at "
        f"{args.tasks:,}; rate ratio {linearity:.2f} (linear cost: ~1.0)"
    )
    over = [label for label, m in medians.items() if m["longest_ms"] > LIMIT_MS]
    print(
        f"workloads with a step over {LIMIT_MS:g} ms: {len(over)} of {len(medians)}"
        + (f" ({', '.join(label.strip() for label in over)})" if over else "")
    )
    return {
        "medians": medians,
        "scatter_rates": {"small": small, "tasks": big, "ratio": linearity},
        "runs": {label: [asdict(s) for s in runs] for label, runs in out.steps.items()},
        "load_average_at_table": load,
    }


async def main(args: argparse.Namespace) -> None:
    from strew.testing import RedisServer, RedisServerMissing

    extra = [
        "--slowlog-log-slower-than",
        str(SLOW_US),
        "--slowlog-max-len",
        "1000000",
        "--latency-monitor-threshold",
        str(LATENCY_MS),
    ]
    try:
        server = RedisServer(appendonly=False, extra=extra)
        server.start()
    except RedisServerMissing as missing:
        sys.exit(str(missing))
    try:
        print(f"redis-server {common.redis_version(server.url)} on port {server.port}", flush=True)
        observer = Observer(server.url)
        out = Workloads(None, observer, args)
        try:
            for i in range(args.runs):
                print(f"run {i + 1}/{args.runs}", flush=True)
                await one_run(server.url, observer, args, out)
            data = report(out, args)
            common.save(NAME, args, server.url, data)
        finally:
            await observer.close()
    finally:
        server.cleanup()


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.set_defaults(runs=1)
    p.add_argument("--tasks", type=int, default=1_000_000, help="the large scatter's size")
    p.add_argument("--small", type=int, default=100_000, help="the small scatter's size")
    args = p.parse_args()
    if args.url is not None:
        # Always a server of its own: its slow log and latency monitor are reconfigured,
        # which is not ours to do to another (bench/run_all passes --url to every script).
        print("redis_steps: --url ignored; it always starts a redis-server of its own")
        args.url = None
    return args


if __name__ == "__main__":
    common.run(main(parse()))
