"""Load: does strew stay fast with a million tasks scheduled, and how much Redis does it use?

On a redis-server of its own (a free loopback port, nothing persisted, shut down at the end)
this fills one docket with future tasks, in `Docket.add_many` chunks, up to each of
``--sizes`` (default 1,000, 100,000 and 1,000,000) and at each size measures the latency of
the operations a producer, a worker and an operator perform against that many tasks:

* ``add`` of one task, ``add_many`` of 100, ``cancel`` of one key;
* ``claim+finish`` of one due task: the store round trips a worker makes per task;
* ``snapshot`` (`Docket.snapshot(limit=100)`: counts, the earliest 100, workers) and a
  24-slice ``histogram`` of the next day, what ``strew snapshot`` reads.

The filling tasks are what a real producer writes: ``work(i, "user-<i>")`` under a key
strew generates (a 36-character time-ordered id), the same tasks `bench/memory.py` measures,
so the two bytes-per-task figures compare.

Every sample is one awaited call, timed on the client (so it includes the loopback round trip
and redis-py), and whatever a sample added is cancelled again before the next size, so the
sizes stay exact. At each size the samples are taken ``--runs`` times; the figures are the
medians of the runs' p50s and p99s (the filling, the slow part, happens once). Redis
``used_memory`` is read at each size; bytes per task is the slope of a least-squares line
through those points (and the fit's worst residual, as a fraction of the largest figure,
says how straight the line is). The whole run is bounded: filling stops
at ``--budget`` seconds and the sizes reached are reported.

    .venv/bin/python -m bench.load [--sizes 1000 100000 1000000] [--samples 200] [--runs 3]
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import common
from strew.stores.records import Finish

NAME = "load"
FILL_CHUNK = 20_000
"""Calls built and handed to `add_many` at a time (it writes them in chunks of 5,000)."""
OPERATIONS = ["add", "add_many(100)", "cancel", "claim+finish", "snapshot", "histogram"]
LEASE = 60_000_000


async def work(i: int, label: str) -> None:
    return None


def future(i: int) -> datetime:
    """Spread over the next 24 hours, an hour ahead at the earliest: never due during a run."""
    return datetime.now(UTC) + timedelta(hours=1, seconds=i % 86_400)


async def fill(docket: Any, have: int, want: int, deadline: float) -> int:
    while have < want and time.monotonic() < deadline:
        n = min(FILL_CHUNK, want - have)
        calls = [
            docket.call(work, when=future(have + i))(have + i, f"user-{have + i}") for i in range(n)
        ]
        executions = await docket.add_many(calls, chunk_size=5_000)
        if len(executions) != n:
            raise RuntimeError(f"scheduled {len(executions)} of {n}")
        have += n
    return have


async def timed(samples: list[float], operation: Awaitable[Any]) -> Any:
    """Await ``operation`` (a coroutine not started yet) and note how long it took."""
    started = time.perf_counter()
    result = await operation
    samples.append((time.perf_counter() - started) * 1000)
    return result


async def measure(docket: Any, samples: int) -> dict[str, list[float]]:
    """Latency samples (ms) of each operation; leaves the docket holding what it held."""
    store = docket.store
    out: dict[str, list[float]] = {op: [] for op in OPERATIONS}
    added: list[str] = []
    tag = uuid.uuid4().hex[:6]

    for i in range(samples):
        key = f"probe-{tag}-add-{i}"
        await timed(out["add"], docket.add(work, when=future(i), key=key)(i, "user"))
        added.append(key)
    for i in range(samples):
        # Cancel what the adds wrote: a key that is there, as a real cancel would be.
        await timed(out["cancel"], docket.cancel(added[i]))
    added.clear()

    for j in range(max(samples // 10, 10)):
        calls = [
            docket.call(work, when=future(k), key=f"probe-{tag}-many-{j}-{k}")(k, "user")
            for k in range(100)
        ]
        await timed(out["add_many(100)"], docket.add_many(calls))
        added.extend(call.key for call in calls)
    await store.cancel(added)

    for i in range(samples):
        key = f"probe-{tag}-due-{i}"
        await docket.add(work, key=key)(i, "user")  # due now: the next claim takes it

        async def claim_and_finish(key: str) -> None:
            result = await store.claim("load-bench", 1, LEASE, 0)
            if [c.key for c in result.claims] != [key]:
                raise RuntimeError(f"claimed {result.claims!r}, expected {key}")
            [claim] = result.claims
            await store.finish([Finish(claim.key, claim.token)])

        await timed(out["claim+finish"], claim_and_finish(key))

    for _ in range(max(samples // 4, 10)):
        await timed(out["snapshot"], docket.snapshot(limit=100))
    for _ in range(max(samples // 4, 10)):
        now = datetime.now(UTC)
        await timed(
            out["histogram"],
            docket.scheduled_histogram(now, now + timedelta(days=1), 24),
        )
    return out


def linear_fit(points: list[tuple[int, int]]) -> tuple[float, float, float]:
    """Least squares: (slope, intercept, worst residual as a fraction of the largest value;
    relative to each point's own value, the tiny first size would look worse than it is)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0
    intercept = mean_y - slope * mean_x
    top = max(y for _, y in points)
    worst = max(abs(y - (slope * x + intercept)) for x, y in points) / top
    return slope, intercept, worst


def report(sizes: list[dict[str, Any]], fit: tuple[float, float, float] | None) -> str:
    header = ["operation", *(f"{s['scheduled']:,} scheduled (p50 / p99)" for s in sizes)]
    rows = [
        [
            op,
            *(
                f"{common.fmt(s['latency_ms'][op]['p50'], 'ms')} / "
                f"{common.fmt(s['latency_ms'][op]['p99'], 'ms')}"
                for s in sizes
            ),
        ]
        for op in OPERATIONS
    ]
    rows.append(["redis used_memory", *(f"{s['used_memory'] / 2**20:,.1f} MiB" for s in sizes)])
    rows.append(
        [
            "bytes per task (vs empty)",
            *(f"{s['bytes_per_task']:,.0f} B" for s in sizes),
        ]
    )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    if fit is not None:
        slope, intercept, worst = fit
        lines.append(
            f"\nlinear fit of used_memory: {slope:,.1f} bytes per task "
            f"+ {intercept / 2**20:,.1f} MiB fixed; worst residual {worst:.2%} of the largest"
        )
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    import strew

    started = time.monotonic()
    deadline = started + args.budget
    with common.redis_server(args.url) as url:
        name = common.docket_name(NAME, "strew")
        sizes: list[dict[str, Any]] = []
        try:
            async with strew.Docket(name, url) as docket:
                docket.register(work)
                # Scripts loaded, per-docket keys created, then taken away again.
                warm = [docket.call(work, when=future(i))(i, f"user-{i}") for i in range(10)]
                await docket.store.cancel([e.key for e in await docket.add_many(warm)])
                common.settle()
                empty = await common.used_memory(url)
                have = 0
                for size in sorted(args.sizes):
                    fill_started = time.monotonic()
                    have = await fill(docket, have, size, deadline)
                    fill_seconds = time.monotonic() - fill_started
                    if have < size:
                        print(f"stopped filling at {have:,} of {size:,}: --budget reached")
                        break
                    common.settle()
                    memory = await common.used_memory(url)
                    runs = [await measure(docket, args.samples) for _ in range(args.runs)]
                    scheduled = (await docket.snapshot(limit=0)).total_tasks
                    if scheduled != size:
                        raise RuntimeError(f"{scheduled:,} scheduled, expected {size:,}")
                    sizes.append(
                        {
                            "scheduled": size,
                            "fill_seconds": round(fill_seconds, 2),
                            "used_memory": memory,
                            "bytes_per_task": (memory - empty) / size,
                            "latency_ms": {
                                op: {
                                    "p50": common.median(
                                        [common.percentile(run[op], 50) for run in runs]
                                    ),
                                    "p99": common.median(
                                        [common.percentile(run[op], 99) for run in runs]
                                    ),
                                    "samples": sum(len(run[op]) for run in runs),
                                }
                                for op in OPERATIONS
                            },
                        }
                    )
                    print(
                        f"{size:,} scheduled: filled in {fill_seconds:.1f}s, "
                        f"{memory / 2**20:,.1f} MiB, measured at "
                        f"{time.monotonic() - started:.0f}s",
                        flush=True,
                    )
        finally:
            await common.forget(url, name)
        points = [(s["scheduled"], s["used_memory"]) for s in sizes]
        fit = linear_fit(points) if len(points) >= 2 else None
        print()
        print(report(sizes, fit))
        print(f"\ntotal {time.monotonic() - started:.0f}s")
        common.save(
            NAME,
            args,
            url,
            {
                "runs": args.runs,
                "empty_used_memory": empty,
                "sizes": sizes,
                "bytes_per_task_fit": None if fit is None else fit[0],
                "fixed_bytes_fit": None if fit is None else fit[1],
                "fit_worst_residual": None if fit is None else fit[2],
                "seconds": round(time.monotonic() - started, 1),
            },
        )


if __name__ == "__main__":
    p = common.parser(__doc__.splitlines()[0] if __doc__ else NAME)
    p.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    p.add_argument("--samples", type=int, default=200, help="samples per operation and size")
    p.add_argument(
        "--budget", type=float, default=240.0, help="stop filling after this many seconds"
    )
    arguments = p.parse_args()
    if arguments.runs < 1:
        p.error(f"--runs must be 1 or more, got {arguments.runs}")
    common.run(main(arguments))
