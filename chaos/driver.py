"""The chaos driver: run the workload, inflict the faults, then check nothing was lost.

Everything that counts is written outside the Redis under test: producers append the keys
they scheduled (only once the write succeeded), workers append every start and finish of a
task with its attempt (fsynced before the task goes on), and the driver keeps the timeline of
the faults it inflicted. `chaos.check` then compares them (lost, unfinished, extra runs and
their causes against what the faults can cause, late starts against what the faults account
for) and says whether the run passed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from strew import Docket, StoreError

from .check import (
    CONCURRENCY,
    REDELIVERY,
    Events,
    Shape,
    analyse,
    read_journals,
    read_scheduled,
    table,
)
from .server import chaos_redis, die_with_parent

ROOT = Path(__file__).resolve().parent.parent
STOPPED_WELL = (0, -signal.SIGTERM)
"""How a SIGTERMed worker may end: its own clean exit, or, if the signal came before it had
installed its handlers (a replacement still importing), the signal's default action."""

SHORT = Shape(
    tasks=5_000,
    producers=3,
    workers=4,
    seconds=75,
    kills=10,
    restarts=4,
    stops=3,
    drain=90,
)
LONG = Shape(
    tasks=60_000,
    producers=4,
    workers=5,
    seconds=600,
    kills=60,
    restarts=20,
    stops=15,
    drain=240,
)


def now_us() -> int:
    return time.time_ns() // 1000


class Run:
    def __init__(self, shape: Shape, seed: int, directory: Path) -> None:
        self.shape = shape
        self.seed = seed
        self.rng = random.Random(seed)
        self.directory = directory
        self.logs = directory / "logs"
        self.logs.mkdir()
        (directory / "redis").mkdir()
        self.redis = chaos_redis(directory / "redis")
        self.docket = f"chaos-{seed}-{os.getpid()}"
        self.workers: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping: list[subprocess.Popen[bytes]] = []
        self.stop_failures: list[str] = []
        self.producers: list[subprocess.Popen[bytes]] = []
        self.events = Events()
        self.python = sys.executable

    # -- processes ----------------------------------------------------------------------

    def _spawn(self, *argv: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [self.python, *argv],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C reaches the driver only; it stops the rest
            preexec_fn=die_with_parent,
        )

    def start_worker(self) -> None:
        process = self._spawn(
            "-m",
            "chaos.worker",
            self.redis.url,
            self.docket,
            str(self.logs),
            str(REDELIVERY),
            str(CONCURRENCY),
        )
        self.workers[process.pid] = process

    def start_producers(self) -> None:
        per = -(-self.shape.tasks // self.shape.producers)
        pace = self.shape.seconds * 0.8
        for index in range(self.shape.producers):
            count = min(per, self.shape.tasks - per * index)
            out = self.logs / f"producer-{index}.keys"
            self.producers.append(
                self._spawn(
                    "-m",
                    "chaos.producer",
                    self.redis.url,
                    self.docket,
                    str(out),
                    str(self.seed),
                    str(index),
                    str(count),
                    str(pace),
                )
            )

    def kill_worker(self) -> None:
        pid = self.rng.choice(sorted(self.workers))
        process = self.workers.pop(pid)
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.events.kills.append((pid, now_us()))
        self.start_worker()

    def stop_worker(self) -> None:
        """SIGTERM a random worker and start its replacement without waiting for it: it hands
        back what it has not started and gives running tasks the shutdown grace."""
        pid = self.rng.choice(sorted(self.workers))
        process = self.workers.pop(pid)
        process.send_signal(signal.SIGTERM)
        self.events.stops.append((pid, now_us()))
        self.stopping.append(process)
        self.start_worker()

    def reap_stopped(self) -> None:
        for process in list(self.stopping):
            if process.poll() is not None:
                self.stopping.remove(process)
                if process.returncode not in STOPPED_WELL:
                    self.stop_failures.append(
                        f"worker {process.pid} exited {process.returncode} on SIGTERM"
                    )

    def restart_redis(self) -> None:
        how = self.rng.choice(["SIGKILL", "SIGTERM"])
        alive = len(self.workers) + sum(p.poll() is None for p in self.stopping)
        down = now_us()
        self.redis.stop(kill=how == "SIGKILL")
        # Sometimes longer than the lease: running tasks' leases may lapse while it is down.
        time.sleep(self.rng.uniform(0.2, REDELIVERY * 1.75))
        self.redis.start()
        self.events.outages.append((down, now_us(), how, alive))

    def replace_crashed(self) -> None:
        self.reap_stopped()
        for pid, process in list(self.workers.items()):
            if process.poll() is not None:
                del self.workers[pid]
                self.events.crashes.append((pid, now_us()))
                print(f"chaos: worker {pid} exited on its own ({process.returncode})", flush=True)
                self.start_worker()

    # -- phases -------------------------------------------------------------------------

    def faults(self) -> list[tuple[float, str]]:
        """When each fault happens, seconds into the run: spread out, each a little random."""
        plan: list[tuple[float, str]] = []
        for count, what in (
            (self.shape.kills, "kill"),
            (self.shape.restarts, "restart"),
            (self.shape.stops, "stop"),
        ):
            for i in range(count):
                plan.append((self.shape.seconds * (i + self.rng.uniform(0.15, 0.85)) / count, what))
        return sorted(plan)

    def inflict(self) -> None:
        began = time.monotonic()
        for at, what in self.faults():
            while time.monotonic() - began < at:
                self.replace_crashed()
                time.sleep(min(0.1, max(0.0, at - (time.monotonic() - began))))
            if what == "kill":
                self.kill_worker()
            elif what == "stop":
                self.stop_worker()
            else:
                self.restart_redis()
            print(
                f"chaos: {time.monotonic() - began:5.1f}s {what:7} "
                f"(kills {len(self.events.kills)}, restarts {len(self.events.outages)}, "
                f"stops {len(self.events.stops)})",
                flush=True,
            )
        while time.monotonic() - began < self.shape.seconds:
            self.replace_crashed()
            time.sleep(0.1)

    async def remaining(self) -> int | None:
        try:
            async with Docket(self.docket, self.redis.url) as docket:
                return (await docket.snapshot(limit=0)).total_tasks
        except StoreError:
            return None

    def drain(self) -> bool:
        """Wait (bounded) until every scheduled key started and nothing is left in Redis."""
        deadline = time.monotonic() + self.shape.drain
        for producer in self.producers:
            try:
                producer.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"chaos: producer {producer.pid} is still writing", flush=True)
                return False
        while time.monotonic() < deadline:
            self.replace_crashed()
            scheduled = read_scheduled(self.logs)
            started = read_journals(self.logs)[0]
            waiting = len(scheduled.keys() - started.keys())
            left = asyncio.run(self.remaining())
            if waiting == 0 and left == 0:
                return True
            print(f"chaos: draining, {waiting} not started, {left} in redis", flush=True)
            time.sleep(1.0)
        return False

    def stop_all(self) -> None:
        everyone = [*self.workers.values(), *self.stopping, *self.producers]
        for process in everyone:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in everyone:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.reap_stopped()
        for process in self.workers.values():
            if process.returncode not in STOPPED_WELL:
                self.stop_failures.append(
                    f"worker {process.pid} exited {process.returncode} on SIGTERM"
                )
        self.redis.stop(kill=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chaos/run", description=__doc__.splitlines()[0])
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--short", action="store_true", help="the CI form (default), ~2 min")
    form.add_argument("--long", action="store_true", help="ten minutes of faults")
    parser.add_argument("--seed", type=int, default=None, help="default: random, printed")
    parser.add_argument("--tasks", type=int, help="override the number of tasks")
    parser.add_argument("--seconds", type=float, help="override how long faults go on")
    parser.add_argument("--keep", action="store_true", help="keep the run directory")
    parser.add_argument("--json", type=Path, help="also write the report here as JSON")
    args = parser.parse_args(argv)
    shape = LONG if args.long else SHORT
    if args.tasks is not None:
        shape = Shape(**{**asdict(shape), "tasks": args.tasks})
    if args.seconds is not None:
        shape = Shape(**{**asdict(shape), "seconds": args.seconds})
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    directory = Path(tempfile.mkdtemp(prefix="strew-chaos-"))
    print(f"chaos: seed {seed}, {shape}, run directory {directory}", flush=True)

    began = time.monotonic()
    run = Run(shape, seed, directory)
    drained = False
    try:
        run.redis.start()
        for _ in range(shape.workers):
            run.start_worker()
        run.start_producers()
        run.inflict()
        drained = run.drain()
    except KeyboardInterrupt:
        # Still worth a report: what ran so far is checked, and the run counts as failed.
        print("chaos: interrupted; stopping everything, then reporting", flush=True)
        run.stop_failures.append("interrupted")
    finally:
        run.stop_all()
    producers_ok = all(p.returncode == 0 for p in run.producers)
    report = analyse(
        run.logs,
        run.events,
        shape,
        seed,
        time.monotonic() - began,
        drained,
        producers_ok,
        run.stop_failures,
    )
    (directory / "report.json").write_text(json.dumps(asdict(report), indent=2))
    # What was done when, in the journals' clock (microseconds), to replay the analysis.
    (directory / "events.json").write_text(json.dumps(asdict(run.events), indent=2))
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    print(table(report), flush=True)
    if report.lost_keys:
        print(f"lost keys (first 50): {' '.join(report.lost_keys)}")
    if report.unfinished_keys:
        print(f"unfinished keys (first 50): {' '.join(report.unfinished_keys)}")
    if report.unexplained_keys:
        print(f"unexplained extra runs (first 50): {' '.join(report.unexplained_keys)}")
    if report.late_beyond_keys:
        print(f"later than their faults explain (first 50): {' '.join(report.late_beyond_keys)}")
    if report.failures or args.keep:
        print(f"chaos: run directory kept: {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)
    return 1 if report.failures else 0
