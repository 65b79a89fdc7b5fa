"""A fleet of idle workers: claim scripts per task, and start lateness, with 20 processes.

Issue 18 §2: with every idle worker claiming on every wake-up, one new task cost about 20
claim scripts with 20 idle workers. This starts ``--processes`` (20) worker processes
(``strew worker --processes N``, concurrency ``--concurrency``) on a private redis-server,
waits until all are live, then, for each workload:

- **idle**: nothing for ``--idle`` seconds (what the fleet costs doing nothing);
- **live**: a producer adds one task at a time, due at once, ``--rate`` a second for
  ``--seconds`` (wake-ups by the schedule's broadcast);
- **scheduled**: the same number of tasks added beforehand, due ``--rate`` a second from a
  second ahead (wake-ups by the workers' own timers: the schedule's head falling due).

It reports the claim scripts run (``cmdstat_zcount`` from ``INFO commandstats``: claim.lua
is the only script this run calls that runs ZCOUNT, once per call, and commands run by
scripts are counted there; ``CONFIG RESETSTAT`` before each workload), per task and per
second; all scripts (``cmdstat_evalsha``) and Redis CPU per task; and start lateness
p50/p99 (each task notes ``time.time()`` minus its due time, in a file per process).

``--against CHECKOUT`` runs the same fleet from another checkout's ``.venv`` (``strew``
there; ``scripts/setup`` it first), alternating with this one round by round, e.g. main
before the watch:

    .venv/bin/python -m bench.fleet --against /work/main [--runs 3] [--rate 200]

Counts hold on a busy machine; lateness does not: the load average is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from bench import common

NAME = "fleet"
TASKS_MODULE = "bench_fleet_tasks"
MODULE_TEXT = """
import os, time

OUT = os.environ["STREW_BENCH_FLEET_DIR"]


async def tick(due: float) -> None:
    late = time.time() - due
    with open(os.path.join(OUT, f"late-{os.getpid()}.txt"), "a") as file:
        file.write(f"{late:.6f}\\n")


tasks = [tick]
"""


class Lateness:
    """The lateness lines the worker processes appended since the last look: each file is
    read from where the last look stopped, whole lines only (a process may be writing)."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.read: dict[Path, int] = {}

    def new(self) -> list[float]:
        found: list[float] = []
        for path in self.out.glob("late-*.txt"):
            data = path.read_bytes()[self.read.get(path, 0) :]
            whole = data[: data.rfind(b"\n") + 1]
            self.read[path] = self.read.get(path, 0) + len(whole)
            found += [float(line) for line in whole.split()]
        return found


async def stats(client: aioredis.Redis) -> tuple[int, int, float]:
    """Claim scripts, all scripts, Redis CPU seconds, since the last reset."""
    commands = await client.info("commandstats")
    cpu = await client.info("cpu")

    def calls(name: str) -> int:
        return int(commands.get(f"cmdstat_{name}", {}).get("calls", 0))

    used = float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
    return calls("zcount"), calls("evalsha") + calls("eval"), used


async def workload(
    kind: str, client: aioredis.Redis, docket: Any, tick: Any, args: argparse.Namespace, out: Path
) -> dict[str, Any]:
    tasks = int(args.rate * args.seconds)
    lateness = Lateness(out)
    lateness.new()  # anything left from before
    await client.config_resetstat()
    _, _, cpu_before = await stats(client)
    started = time.perf_counter()
    if kind == "idle":
        await asyncio.sleep(args.idle)
        tasks = 0
    elif kind == "live":
        for i in range(tasks):
            planned = started + i / args.rate
            await asyncio.sleep(max(0.0, planned - time.perf_counter()))
            await docket.add(tick)(time.time())
    else:
        first = datetime.now(UTC) + timedelta(seconds=1)
        dues = [first + timedelta(seconds=i / args.rate) for i in range(tasks)]
        await docket.add_many([docket.call(tick, when=d)(d.timestamp()) for d in dues])
        started = time.perf_counter() + 1.0
    seen: list[float] = []
    deadline = time.monotonic() + args.seconds + 30
    while len(seen) < tasks and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        seen += lateness.new()
    elapsed = time.perf_counter() - started
    claims, scripts, cpu = await stats(client)
    cpu -= cpu_before
    per = max(tasks, 1)
    return {
        "tasks": tasks,
        "started": len(seen),
        "seconds": elapsed,
        "claims": claims,
        "claims_per_task": claims / per if tasks else None,
        "claims_per_s": claims / elapsed,
        "scripts_per_task": scripts / per if tasks else None,
        "redis_cpu_us_per_task": cpu / per * 1e6 if tasks else None,
        "redis_cpu_ms_per_s": cpu / elapsed * 1e3,
        "p50_ms": common.percentile(seen, 50) * 1e3 if seen else None,
        "p99_ms": common.percentile(seen, 99) * 1e3 if seen else None,
        "load": os.getloadavg()[0],
    }


async def one(url: str, checkout: Path, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    import strew

    name = common.docket_name(NAME, checkout.name)
    workdir = Path(tempfile.mkdtemp(prefix="strew-bench-fleet-"))
    (workdir / f"{TASKS_MODULE}.py").write_text(MODULE_TEXT)
    out = workdir / "out"
    out.mkdir()
    env = {**os.environ, "STREW_BENCH_FLEET_DIR": str(out), "PYTHONPATH": str(workdir)}
    command = [str(checkout / ".venv" / "bin" / "strew"), "worker"]
    command += ["--tasks", f"{TASKS_MODULE}:tasks", "--url", url, "--docket", name]
    command += ["--concurrency", str(args.concurrency), "--processes", str(args.processes)]
    command += ["--logging-level", "warning"]
    fleet = await asyncio.create_subprocess_exec(*command, cwd=workdir, env=env)
    client = aioredis.Redis.from_url(url)
    results: dict[str, dict[str, Any]] = {}
    try:
        os.environ["STREW_BENCH_FLEET_DIR"] = str(out)
        sys.path.insert(0, str(workdir))
        module = __import__(TASKS_MODULE)
        sys.path.remove(str(workdir))
        async with strew.Docket(name, url) as docket:
            docket.register(module.tick)
            while len((await docket.snapshot(limit=0)).workers) < args.processes:  # noqa: ASYNC110 - polls Redis
                await asyncio.sleep(0.1)
            await asyncio.sleep(2.0)  # every process past its first claims
            for kind in ("idle", "live", "scheduled"):
                results[kind] = await workload(kind, client, docket, module.tick, args, out)
    finally:
        fleet.send_signal(signal.SIGTERM)
        await asyncio.wait_for(fleet.wait(), 60)
        await client.aclose()
        await common.forget(url, name)
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def report(label: str, runs: list[dict[str, dict[str, Any]]]) -> None:
    print(f"\n{label}")
    for kind in ("idle", "live", "scheduled"):
        rows = [run[kind] for run in runs]

        def med(key: str, rows: list[dict[str, Any]] = rows) -> float | None:
            values = [row[key] for row in rows if row[key] is not None]
            return common.median(values) if values else None

        parts = [
            f"claims/task {common.fmt(med('claims_per_task'))}",
            f"claims/s {common.fmt(med('claims_per_s'))}",
            f"scripts/task {common.fmt(med('scripts_per_task'))}",
            f"redis cpu {common.fmt(med('redis_cpu_us_per_task'), ' us/task')}",
            f"{common.fmt(med('redis_cpu_ms_per_s'), ' ms/s')}",
            f"late p50 {common.fmt(med('p50_ms'), ' ms')} p99 {common.fmt(med('p99_ms'), ' ms')}",
            f"started {min(r['started'] for r in rows)}/{rows[0]['tasks']}",
            f"load {common.fmt(med('load'))}",
        ]
        print(f"  {kind:9} " + ", ".join(parts))


HERE = Path(__file__).resolve().parent.parent


async def main(args: argparse.Namespace) -> None:
    checkouts = [HERE] + ([args.against.resolve()] if args.against else [])
    runs: dict[Path, list[dict[str, dict[str, Any]]]] = {c: [] for c in checkouts}
    with common.redis_server(args.url) as url:
        for round_ in range(1, args.runs + 1):
            for checkout in checkouts:
                runs[checkout].append(await one(url, checkout, args))
                print(f"round {round_} {checkout}: done", flush=True)
        for checkout in checkouts:
            report(
                f"{checkout} ({args.processes} processes, concurrency {args.concurrency})",
                runs[checkout],
            )
        common.save(NAME, args, url, {str(c): runs[c] for c in checkouts})


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--against", type=Path, default=None, help="another checkout, with .venv")
    p.add_argument("--processes", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=10)
    p.add_argument("--rate", type=float, default=100.0, help="tasks a second")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--idle", type=float, default=5.0, help="seconds of the idle workload")
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
