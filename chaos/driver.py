"""The chaos driver: run the workload, inflict the faults, then check nothing was lost.

Everything that counts is written outside the Redis under test: producers append the keys
they scheduled (only once the write succeeded), workers append every start and finish of a
task (fsynced before the task goes on). At the end a key scheduled but never started is
*lost*, and any lost key fails the run. A key started more than once is a *duplicate*: the
promise is at-least-once, so duplicates are allowed, but each is explained (its earlier run's
worker was killed or stopped, its lease could lapse while Redis was down or was logged as
lost, or its producer had to retry the write) or reported as unexplained. A key that started
but never once completed (every run cut short) is *unfinished*, and fails the run too.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from strew import Docket, StoreError

from .server import RedisServer, die_with_parent

ROOT = Path(__file__).resolve().parent.parent
STOPPED_WELL = (0, -signal.SIGTERM)
"""How a SIGTERMed worker may end: its own clean exit, or, if the signal came before it had
installed its handlers (a replacement still importing), the signal's default action."""

REDELIVERY = 2.0
"""The workers' lease, in seconds: a killed worker's task runs again this long after."""


@dataclass(frozen=True)
class Shape:
    tasks: int
    producers: int
    workers: int
    seconds: float  # how long the faults go on; producers schedule over most of it
    kills: int
    restarts: int
    stops: int  # workers asked to stop (SIGTERM): running tasks get the grace, then go back
    drain: float  # the most the driver waits afterwards for the schedule to empty


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


@dataclass
class Events:
    kills: list[tuple[int, int]] = field(default_factory=list)  # (pid, micros)
    crashes: list[tuple[int, int]] = field(default_factory=list)  # workers that died unasked
    stops: list[tuple[int, int]] = field(default_factory=list)  # (pid, micros) of SIGTERMs
    outages: list[tuple[int, int, str]] = field(default_factory=list)  # (down, up, how)


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
        self.redis = RedisServer(directory / "redis")
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
            "-m", "chaos.worker", self.redis.url, self.docket, str(self.logs), str(REDELIVERY)
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
        down = now_us()
        self.redis.stop(kill=how == "SIGKILL")
        # Sometimes longer than the lease: running tasks' leases may lapse while it is down.
        time.sleep(self.rng.uniform(0.2, REDELIVERY * 1.75))
        self.redis.start()
        self.events.outages.append((down, now_us(), how))

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


# -- reading what happened ----------------------------------------------------------------


@dataclass
class Scheduled:
    due: int
    kind: str
    retries: int


def read_scheduled(logs: Path) -> dict[str, Scheduled]:
    scheduled: dict[str, Scheduled] = {}
    for path in sorted(logs.glob("producer-*.keys")):
        for line in path.read_text(encoding="ascii").splitlines():
            parts = line.split()
            if len(parts) == 4:  # a torn last line would be shorter
                key, due, kind, retries = parts
                scheduled[key] = Scheduled(int(due), kind, int(retries))
    return scheduled


Runs = dict[str, list[tuple[int, int]]]  # key -> [(micros, pid)], in time order


def read_journals(logs: Path) -> tuple[Runs, dict[tuple[str, int], str]]:
    starts: Runs = {}
    finishes: dict[tuple[str, int], str] = {}
    for path in sorted(logs.glob("worker-*.log")):
        for line in path.read_text(encoding="ascii").splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0] == "S":
                starts.setdefault(parts[1], []).append((int(parts[3]), int(parts[2])))
            elif len(parts) == 5 and parts[0] == "F":
                finishes[(parts[1], int(parts[2]))] = parts[4]
    for runs in starts.values():
        runs.sort()
    return starts, finishes


@dataclass
class Report:
    seed: int
    shape: dict[str, float]
    seconds: float
    scheduled: int
    executed: int
    lost: int
    lost_keys: list[str]
    unfinished: int
    unfinished_keys: list[str]
    duplicated: int
    duplicates_by_reason: dict[str, int]
    unexplained_keys: list[str]
    extra_runs: int
    unscheduled_runs: int
    retried_writes: int
    late: int
    lateness_ms: dict[str, float]
    raised: int
    hung: int
    worker_kills: int
    worker_crashes: int
    worker_stops: int
    redis_restarts: int
    drained: bool
    producers_ok: bool
    failures: list[str]


def read_lease_losses(logs: Path) -> set[str]:
    """Keys whose worker logged that it lost the lease while running them."""
    lost: set[str] = set()
    for path in sorted(logs.glob("worker-*.err")):
        lost.update(LEASE_LOST.findall(path.read_text(encoding="utf-8", errors="replace")))
    return lost


LEASE_LOST = re.compile(r"lost the lease on task (\S+);")


def why_again(
    pid: int, started: int, until: int, events: Events, retries: int, lease_lost: bool = False
) -> str:
    """Why a key ran again after the run (pid, started): the first fault that explains it."""
    if any(killed == pid and at >= started for killed, at in events.kills + events.crashes):
        return "worker killed"
    if any(stopped == pid and at >= started for stopped, at in events.stops):
        return "worker stopped"
    lease = int(REDELIVERY * 1_000_000)
    if any(down <= until and up + lease >= started for down, up, _ in events.outages):
        return "redis outage"
    if lease_lost:
        return "lease lapsed"
    if retries:
        return "producer retry"
    return "unexplained"


def analyse(
    logs: Path,
    events: Events,
    shape: Shape,
    seed: int,
    seconds: float,
    drained: bool = True,
    producers_ok: bool = True,
    other_failures: Sequence[str] = (),
) -> Report:
    """Compare what the producers scheduled (their files in ``logs``) with what the workers
    started (their journals there)."""
    scheduled = read_scheduled(logs)
    starts, finishes = read_journals(logs)
    lease_losses = read_lease_losses(logs)
    lost = sorted(scheduled.keys() - starts.keys())
    # At least once means *completed* at least once: a run cut short by a kill must be
    # followed by one that finished (or raised). A key whose every run was cut short was
    # lost just the same, only later.
    finished = {key for key, _ in finishes}
    unfinished = sorted((scheduled.keys() & starts.keys()) - finished)
    reasons: Counter[str] = Counter()
    unexplained: list[str] = []
    duplicated = 0
    extra = 0
    for key, runs in starts.items():
        if len(runs) < 2:
            continue
        duplicated += 1
        extra += len(runs) - 1
        retries = scheduled[key].retries if key in scheduled else 0
        for (began, pid), (again, _) in itertools.pairwise(runs):
            reason = why_again(pid, began, again, events, retries, key in lease_losses)
            reasons[reason] += 1
            if reason == "unexplained":
                unexplained.append(key)
    lateness = [
        (starts[key][0][0] - item.due) / 1000 for key, item in scheduled.items() if key in starts
    ]
    late = sum(ms > REDELIVERY * 1000 for ms in lateness)
    quantiles = [0.0] * 99
    if len(lateness) > 1:
        quantiles = statistics.quantiles(lateness, n=100, method="inclusive")
    failures = list(other_failures)
    if lost:
        failures.append(f"{len(lost)} task(s) lost")
    if unfinished:
        failures.append(f"{len(unfinished)} task(s) started but never finished")
    if not producers_ok:
        failures.append("a producer failed (see its output above)")
    if not drained:
        failures.append(f"the schedule did not drain in {shape.drain:.0f}s")
    if len(events.kills) < shape.kills:
        failures.append(f"only {len(events.kills)} worker kills")
    if len(events.outages) < shape.restarts:
        failures.append(f"only {len(events.outages)} redis restarts")
    return Report(
        seed=seed,
        shape={k: float(v) for k, v in asdict(shape).items()},
        seconds=round(seconds, 1),
        scheduled=len(scheduled),
        executed=len(scheduled.keys() & starts.keys()),
        lost=len(lost),
        lost_keys=lost[:50],
        unfinished=len(unfinished),
        unfinished_keys=unfinished[:50],
        duplicated=duplicated,
        duplicates_by_reason=dict(reasons),
        unexplained_keys=unexplained[:50],
        extra_runs=extra,
        unscheduled_runs=len(starts.keys() - scheduled.keys()),
        retried_writes=sum(item.retries > 0 for item in scheduled.values()),
        late=late,
        lateness_ms={
            "p50": round(quantiles[49], 1),
            "p99": round(quantiles[98], 1),
            "max": round(max(lateness, default=0.0), 1),
        },
        raised=sum(outcome == "raised" for outcome in finishes.values()),
        hung=sum(item.kind == "hang" for item in scheduled.values()),
        worker_kills=len(events.kills),
        worker_crashes=len(events.crashes),
        worker_stops=len(events.stops),
        redis_restarts=len(events.outages),
        drained=drained,
        producers_ok=producers_ok,
        failures=failures,
    )


def table(report: Report) -> str:
    reasons = ", ".join(f"{n} {why}" for why, n in sorted(report.duplicates_by_reason.items()))
    rows = [
        ("seed", str(report.seed)),
        ("wall time", f"{report.seconds:.0f} s"),
        ("worker kills (SIGKILL)", str(report.worker_kills)),
        ("worker crashes (unasked)", str(report.worker_crashes)),
        ("worker stops (SIGTERM)", str(report.worker_stops)),
        ("redis restarts", str(report.redis_restarts)),
        ("tasks scheduled", str(report.scheduled)),
        ("  whose write was retried", str(report.retried_writes)),
        ("tasks executed", str(report.executed)),
        ("  of which raised", str(report.raised)),
        ("  hanging tasks scheduled", str(report.hung)),
        ("LOST (never started)", str(report.lost)),
        ("UNFINISHED (no run completed)", str(report.unfinished)),
        ("duplicated (started twice+)", str(report.duplicated)),
        ("  extra runs, by cause", f"{report.extra_runs} ({reasons or 'none'})"),
        ("late > redelivery window", f"{report.late} (> {REDELIVERY:.0f} s)"),
        (
            "first-start lateness ms",
            "p50 {p50}, p99 {p99}, max {max}".format(**report.lateness_ms),
        ),
        ("runs of unscheduled keys", str(report.unscheduled_runs)),
        ("result", "FAIL: " + "; ".join(report.failures) if report.failures else "PASS"),
    ]
    width = max(len(name) for name, _ in rows)
    rule = "-" * (width + 30)
    lines = [rule, *(f"{name:<{width}}  {value}" for name, value in rows), rule]
    return "\n".join(lines)


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
        print(f"unexplained duplicates (first 50): {' '.join(report.unexplained_keys)}")
    if report.failures or args.keep:
        print(f"chaos: run directory kept: {directory}")
    else:
        shutil.rmtree(directory, ignore_errors=True)
    return 1 if report.failures else 0
