"""The chaos run's check: what the producers scheduled against what the workers ran.

Everything it reads was written outside the Redis under test: the producers' key lists (a
key is there only once its write succeeded) and the workers' journals (every start and
finish, with the run's attempt, fsynced before the task goes on), plus the fault timeline the
driver kept. From them:

- a key scheduled but never started is **lost**, and a key whose last attempt never ran to
  the end (every run of it cut short, or a retry that never came) is **unfinished**: either
  fails the run;
- a run of a key with the attempt one higher than a failed run is a **retry** (the task's
  `Retry` doing its job, not a duplicate);
- a run with the same attempt as an earlier run of the key is a **redelivery**, an extra
  run. Each is explained by the first fault that can cause it, and each fault can cause only
  so many (see `Fault.cap`): an unexplained extra run, or a fault explaining more than it
  could cause, fails the run;
- a first start later than the lease after the due time is **late**, put down to the faults
  around it; later than those faults can account for (`late_allowance`) fails the run.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .tasks import LAST_ATTEMPT

REDELIVERY = 2.0
"""The workers' lease, in seconds: a killed worker's task runs again this long after."""

CONCURRENCY = 25
"""How many tasks each worker runs at once."""

IN_FLIGHT = 2
"""How many slot-fulls of runs one worker can lose at once: the ``CONCURRENCY`` runs in its
slots, plus runs that ended but whose acknowledgement is still on its way (the worker sends
them in batches while it claims and starts more)."""

LATE_SLACK = 3.0
"""Seconds of start delay put down to the machine itself (a shared, loaded 2-core machine
stalls processes for a while), on top of what the faults account for."""

LOOK_BACK = 5.0
"""Seconds before a task's due time from which faults can make it late: a producer plans a
batch up to 3 s ahead, and a claim can hold a task up to a lease before its start."""

MICROS = 1_000_000


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


@dataclass
class Events:
    kills: list[tuple[int, int]] = field(default_factory=list)  # (pid, micros)
    crashes: list[tuple[int, int]] = field(default_factory=list)  # workers that died unasked
    stops: list[tuple[int, int]] = field(default_factory=list)  # (pid, micros) of SIGTERMs
    outages: list[tuple[int, int, str, int]] = field(default_factory=list)
    """(down, up, how, workers alive when it went down)"""


# -- reading what happened ----------------------------------------------------------------


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Start:
    micros: int
    pid: int
    attempt: int


@dataclass(frozen=True)
class Finished:
    attempt: int
    pid: int
    outcome: str  # "ok", "raised" or "timedout"


Runs = dict[str, list[Start]]  # key -> its starts, in time order


def read_journals(logs: Path) -> tuple[Runs, dict[str, list[Finished]]]:
    starts: Runs = {}
    finishes: dict[str, list[Finished]] = {}
    for path in sorted(logs.glob("worker-*.log")):
        for line in path.read_text(encoding="ascii").splitlines():
            parts = line.split()
            if len(parts) == 5 and parts[0] == "S":
                _, key, attempt, pid, micros = parts
                starts.setdefault(key, []).append(Start(int(micros), int(pid), int(attempt)))
            elif len(parts) == 6 and parts[0] == "F":
                _, key, attempt, pid, _micros, outcome = parts
                finishes.setdefault(key, []).append(Finished(int(attempt), int(pid), outcome))
    for runs in starts.values():
        runs.sort(key=lambda start: start.micros)
    return starts, finishes


LEASE_LOST = re.compile(r"lost the lease on task (\S+);")


def read_lease_losses(logs: Path) -> set[tuple[int, str]]:
    """(worker pid, key) for each task a worker logged it lost the lease on while running."""
    lost: set[tuple[int, str]] = set()
    for path in sorted(logs.glob("worker-*.err")):
        pid = int(path.stem.removeprefix("worker-"))
        text = path.read_text(encoding="utf-8", errors="replace")
        lost.update((pid, key) for key in LEASE_LOST.findall(text))
    return lost


# -- explaining extra runs ----------------------------------------------------------------


@dataclass
class Fault:
    """One fault (or one kind of cause) and how many extra runs it can explain at most."""

    cause: str
    label: str
    cap: int
    explained: int = 0


def faults_of(events: Events, concurrency: int) -> list[tuple[Fault, tuple[int, int, int]]]:
    """Each fault with (pid or -1 for any, from, to): an earlier run on ``pid`` started before
    ``to`` and its redelivery started after ``from`` (micros) is the fault's doing."""
    lease = int(REDELIVERY * MICROS)
    per_worker = IN_FLIGHT * concurrency
    faults: list[tuple[Fault, tuple[int, int, int]]] = []
    for cause, happened in (
        ("worker killed", events.kills),
        ("worker crashed", events.crashes),
        ("worker stopped", events.stops),
    ):
        for pid, at in happened:
            fault = Fault(cause, f"{cause} (pid {pid} at {at})", per_worker)
            faults.append((fault, (pid, at, at)))
    for down, up, how, alive in events.outages:
        # Every live worker's runs in flight can lose their leases while Redis is away.
        fault = Fault("redis outage", f"redis outage ({how} at {down})", alive * per_worker)
        faults.append((fault, (-1, down, up + lease)))
    return faults


def explain(
    faults: Sequence[tuple[Fault, tuple[int, int, int]]], earlier: Start, again: int
) -> Fault | None:
    """The first fault that explains running ``earlier``'s attempt again at ``again``: its
    worker was killed, crashed or stopped after the earlier run started and before the
    redelivery, or Redis went down before the redelivery and came back less than a lease
    before the earlier run started (so its lease could lapse)."""
    for fault, (pid, since, until) in faults:
        if pid == -1:
            if since <= again and until >= earlier.micros:
                return fault
        elif pid == earlier.pid and earlier.micros <= since <= again:
            return fault
    return None


def late_allowance(due: int, start: int, events: Events) -> tuple[str, float]:
    """Why a first start at ``start`` came late for ``due``, and the most (seconds) the faults
    between ``LOOK_BACK`` before the due time and the start can account for: a lease for each
    worker killed, crashed or stopped (its claims wait for their leases to lapse), each
    outage's length plus a lease, and `LATE_SLACK`."""
    since = due - int(LOOK_BACK * MICROS)
    outages = [(down, up) for down, up, _, _ in events.outages if down <= start and up >= since]
    workers = {
        cause: sum(since <= at <= start for _, at in happened)
        for cause, happened in (
            ("worker killed", events.kills),
            ("worker crashed", events.crashes),
            ("worker stopped", events.stops),
        )
    }
    allowance = LATE_SLACK + REDELIVERY * sum(workers.values())
    allowance += sum((up - down) / MICROS + REDELIVERY for down, up in outages)
    if outages:
        cause = "redis outage"
    else:
        cause = next((cause for cause, n in workers.items() if n), "no fault")
    return cause, allowance


# -- the report ---------------------------------------------------------------------------


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
    retries: int  # runs with the attempt after a failed one: the tasks' Retry at work
    duplicated: int  # keys with an extra run (an attempt started twice)
    extra_runs: int
    extra_runs_bound: int  # the most the faults of this run could cause
    duplicates_by_reason: dict[str, int]
    unexplained_keys: list[str]  # an extra run no fault explains, or an attempt from nowhere
    faults_over_cap: list[str]
    most_from_one_fault: str  # the fault that explains the most extra runs, against its cap
    unscheduled_runs: int
    retried_writes: int
    late: int
    late_by_cause: dict[str, int]
    late_beyond_allowance: int
    late_beyond_keys: list[str]
    lateness_ms: dict[str, float]
    raised: int
    timed_out: int
    slow: int
    hung: int
    worker_kills: int
    worker_crashes: int
    worker_stops: int
    redis_restarts: int
    drained: bool
    producers_ok: bool
    failures: list[str]


def analyse(
    logs: Path,
    events: Events,
    shape: Shape,
    seed: int,
    seconds: float,
    drained: bool = True,
    producers_ok: bool = True,
    other_failures: Sequence[str] = (),
    concurrency: int = CONCURRENCY,
) -> Report:
    """Compare what the producers scheduled (their files in ``logs``) with what the workers
    ran (their journals there), given the faults in ``events``."""
    scheduled = read_scheduled(logs)
    starts, finishes = read_journals(logs)
    lease_losses = read_lease_losses(logs)
    lost = sorted(scheduled.keys() - starts.keys())

    # At least once means the task *completed*: its last attempt ran to the end. A run cut
    # short by a kill must be followed by one that finished, a failed attempt by its retry.
    completed = {
        key
        for key, done in finishes.items()
        if key in scheduled
        and any(f.outcome == "ok" and f.attempt == LAST_ATTEMPT[scheduled[key].kind] for f in done)
    }
    unfinished = sorted((scheduled.keys() & starts.keys()) - completed)

    failed = {(key, f.attempt) for key, done in finishes.items() for f in done if f.outcome != "ok"}
    retried_keys = {key: item.retries for key, item in scheduled.items() if item.retries}
    faults = faults_of(events, concurrency)
    lease_fault = Fault("lease lapsed", "leases logged as lost", len(lease_losses))
    retry_fault = Fault("producer retry", "retried writes", sum(retried_keys.values()))
    reasons: Counter[str] = Counter()
    unexplained: list[str] = []
    duplicated: set[str] = set()
    retries = extra = 0
    for key, runs in starts.items():
        for index, run in enumerate(runs):
            earlier = [r for r in runs[:index] if r.attempt == run.attempt]
            if not earlier:
                if run.attempt == 1 or (key, run.attempt - 1) in failed:
                    retries += run.attempt > 1
                else:  # an attempt no failure led to: a retry from nowhere
                    unexplained.append(key)
                continue
            extra += 1
            duplicated.add(key)
            fault = explain(faults, earlier[-1], run.micros)
            if fault is None and (earlier[-1].pid, key) in lease_losses:
                fault = lease_fault
            if fault is None and key in retried_keys:
                fault = retry_fault
            if fault is None:
                reasons["unexplained"] += 1
                unexplained.append(key)
                continue
            fault.explained += 1
            reasons[fault.cause] += 1
    every_fault = [fault for fault, _ in faults] + [lease_fault, retry_fault]
    over_cap = [
        f"{f.label} explains {f.explained} extra runs, more than the {f.cap} it can cause"
        for f in every_fault
        if f.explained > f.cap
    ]

    top = max(every_fault, key=lambda f: f.explained, default=None)
    worst = f"{top.explained} of {top.cap}: {top.label}" if top and top.explained else "none"

    late_causes: Counter[str] = Counter()
    beyond: list[str] = []
    lateness: list[float] = []
    for key, item in scheduled.items():
        if key not in starts:
            continue
        first = starts[key][0].micros
        lateness.append((first - item.due) / 1000)
        if first - item.due > REDELIVERY * MICROS:
            cause, allowance = late_allowance(item.due, first, events)
            late_causes[cause] += 1
            if first - item.due > allowance * MICROS:
                beyond.append(key)
    quantiles = [0.0] * 99
    if len(lateness) > 1:
        quantiles = statistics.quantiles(lateness, n=100, method="inclusive")

    failures = list(other_failures)
    if lost:
        failures.append(f"{len(lost)} task(s) lost")
    if unfinished:
        failures.append(f"{len(unfinished)} task(s) whose last attempt never completed")
    if unexplained:
        failures.append(f"{len(unexplained)} unexplained run(s)")
    failures.extend(over_cap)
    if beyond:
        failures.append(f"{len(beyond)} task(s) later than their faults account for")
    if not producers_ok:
        failures.append("a producer failed (see its output above)")
    if not drained:
        failures.append(f"the schedule did not drain in {shape.drain:.0f}s")
    if len(events.kills) < shape.kills:
        failures.append(f"only {len(events.kills)} worker kills")
    if len(events.outages) < shape.restarts:
        failures.append(f"only {len(events.outages)} redis restarts")
    every_finish = list(itertools.chain.from_iterable(finishes.values()))
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
        retries=retries,
        duplicated=len(duplicated),
        extra_runs=extra,
        extra_runs_bound=sum(f.cap for f in every_fault),
        duplicates_by_reason=dict(reasons),
        unexplained_keys=unexplained[:50],
        faults_over_cap=over_cap,
        most_from_one_fault=worst,
        unscheduled_runs=len(starts.keys() - scheduled.keys()),
        retried_writes=sum(item.retries > 0 for item in scheduled.values()),
        late=sum(late_causes.values()),
        late_by_cause=dict(late_causes),
        late_beyond_allowance=len(beyond),
        late_beyond_keys=beyond[:50],
        lateness_ms={
            "p50": round(quantiles[49], 1),
            "p99": round(quantiles[98], 1),
            "max": round(max(lateness, default=0.0), 1),
        },
        raised=sum(f.outcome == "raised" for f in every_finish),
        timed_out=sum(f.outcome == "timedout" for f in every_finish),
        slow=sum(item.kind == "slow" for item in scheduled.values()),
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
    def by(counts: dict[str, int]) -> str:
        return ", ".join(f"{n} {why}" for why, n in sorted(counts.items())) or "none"

    rows = [
        ("seed", str(report.seed)),
        ("wall time", f"{report.seconds:.0f} s"),
        ("worker kills (SIGKILL)", str(report.worker_kills)),
        ("worker crashes (unasked)", str(report.worker_crashes)),
        ("worker stops (SIGTERM)", str(report.worker_stops)),
        ("redis restarts", str(report.redis_restarts)),
        ("tasks scheduled", str(report.scheduled)),
        ("  whose write was retried", str(report.retried_writes)),
        ("  slow (past the lease)", str(report.slow)),
        ("  hanging (until Timeout)", str(report.hung)),
        ("tasks executed", str(report.executed)),
        ("  runs that raised", str(report.raised)),
        ("  runs that timed out", str(report.timed_out)),
        ("  retries (attempt after a failure)", str(report.retries)),
        ("LOST (never started)", str(report.lost)),
        ("UNFINISHED (last attempt never done)", str(report.unfinished)),
        ("duplicated (an attempt run twice+)", str(report.duplicated)),
        ("  extra runs, by cause", f"{report.extra_runs} ({by(report.duplicates_by_reason)})"),
        ("  most the faults could cause", str(report.extra_runs_bound)),
        ("  most from one fault", report.most_from_one_fault),
        (
            "late > redelivery window",
            f"{report.late} (> {REDELIVERY:.0f} s: {by(report.late_by_cause)})",
        ),
        ("  later than the faults explain", str(report.late_beyond_allowance)),
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
