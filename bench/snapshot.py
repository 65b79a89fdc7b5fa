"""How long `strew snapshot` takes on a docket of 50,000 scheduled tasks, run as users run it.

On a redis-server of its own (a free loopback port, nothing persisted, shut down at the end)
this schedules ``--tasks`` future tasks (default 50,000, a minute ahead and spread over the
next 50 minutes, as tests/cli/test_cli.py does) and times, ``--runs`` times each:

* ``strew snapshot`` as a subprocess, from start to exit (the figure docs/cli.md quotes):
  Python's start-up, the imports, three store round trips for the snapshot, the histograms
  and the counts per function, and drawing the tables;
* ``strew version`` the same way: the start-up and imports alone, for comparison;
* in-process, each read the command makes: `Docket.snapshot(20)`, the two histograms and
  `Docket.count_by_function` (which reads the start of every payload: the part that grows
  with the docket).

strew only: pydocket has no such command. A few seconds in all.

    .venv/bin/python -m bench.snapshot [--tasks 50000] [--runs 5]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import common

NAME = "snapshot"
STREW = Path(sys.executable).parent / "strew"


async def work(path: str, n: int) -> None:
    return None


def timed_command(*args: str) -> tuple[float, str]:
    """Seconds from starting ``strew ARGS`` to its exit, and what it printed."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    began = time.perf_counter()
    done = subprocess.run([str(STREW), *args], capture_output=True, text=True, env=env)
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise RuntimeError(f"strew {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return took, done.stdout


async def reads(docket: Any, runs: int) -> dict[str, list[float]]:
    """Milliseconds of each read `strew snapshot` makes, ``runs`` samples each."""
    out: dict[str, list[float]] = {"snapshot(20)": [], "histograms": [], "count_by_function": []}
    for _ in range(runs):
        began = time.perf_counter()
        taken = await docket.snapshot(20)
        out["snapshot(20)"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        await docket.scheduled_histogram(taken.taken, taken.taken + timedelta(hours=1), 24)
        await docket.scheduled_histogram(datetime(1970, 1, 1, tzinfo=UTC), taken.taken, 1)
        out["histograms"].append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        await docket.count_by_function()
        out["count_by_function"].append((time.perf_counter() - began) * 1000)
    return out


async def main(args: Any) -> None:
    import strew

    with common.redis_server(args.url) as url:
        name = common.docket_name(NAME, "strew")
        try:
            async with strew.Docket(name, url) as docket:
                docket.register(work)
                start = datetime.now(UTC) + timedelta(minutes=1)
                calls = [
                    docket.call(work, when=start + timedelta(seconds=i % 3000))("/dev/null", i)
                    for i in range(args.tasks)
                ]
                await docket.add_many(calls, chunk_size=5000)
                where = ("--url", url, "--docket", name)
                snapshot_s, version_s = [], []
                output = ""
                for _ in range(args.runs):
                    took, output = timed_command("snapshot", *where)
                    snapshot_s.append(took)
                    version_s.append(timed_command("version")[0])
                if f"Scheduled (first 20 of {args.tasks:,})" not in output:
                    raise RuntimeError(f"unexpected snapshot output:\n{output}")
                in_process = await reads(docket, args.runs)
        finally:
            await common.forget(url, name)

        def summary(values: list[float]) -> dict[str, float]:
            return {"median": common.median(values), "min": min(values), "max": max(values)}

        seconds = {"strew snapshot": summary(snapshot_s), "strew version": summary(version_s)}
        millis = {read: summary(samples) for read, samples in in_process.items()}
        print(f"{args.tasks:,} scheduled tasks, {args.runs} runs (median / min / max)")
        for label, figures in seconds.items():
            print(
                f"  {label:<20} {figures['median']:.2f} / {figures['min']:.2f} / "
                f"{figures['max']:.2f} s"
            )
        for label, figures in millis.items():
            print(
                f"  {label:<20} {figures['median']:.1f} / {figures['min']:.1f} / "
                f"{figures['max']:.1f} ms (in-process)"
            )
        common.save(
            NAME,
            args,
            url,
            {"command_seconds": seconds, "reads_ms": millis, "last_output": output},
        )


if __name__ == "__main__":
    parser = common.parser(__doc__.splitlines()[0])
    parser.set_defaults(runs=5)
    parser.add_argument("--tasks", type=int, default=50_000, help="scheduled tasks to fill")
    common.run(main(parser.parse_args()))
