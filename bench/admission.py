"""Admission controls: what ConcurrencyLimit and RateLimit cost, how precise a rate limit is,
and whether one busy value starves the others.

Three parts, strew and pydocket on the same Redis, one after the other, ``--runs`` times:

1. **Drain** (both): one worker at ``--concurrency`` (10) empties a queue of no-op tasks, as
   bench/drain.py does, in three variants: no limits; ``Annotated[int, ConcurrencyLimit(5)]``
   on an argument with 100 distinct values (task i gets i % 100, so the values a worker holds
   at once are all different and nothing waits: this is the price of the check alone); a
   per-task ``RateLimit`` far above the drain rate (1,000,000 a second). The cost of one
   admission decision is the drain time per task a limit adds over the unlimited drain of the
   same run; for strew also measured directly, as sequential calls of the Redis store's
   ``admit`` (and ``release_slots``) against a plain round trip (``now``).
2. **RateLimit precision** (both): a task with ``RateLimit(20, per=1 s)``, ``--precision-tasks``
   (400) submitted at once, one worker at concurrency 10. Each task reads ``time.time()``
   first. Reported: starts per whole second from the first start, the busiest sliding second
   (the limit says at most 20), and each start's lateness against its slot: the i-th start
   may happen no earlier than start[i-20] + 1 s, so lateness is start[i] - that (negative means
   the limit was broken, or a start read late before one read promptly); for strew also from
   the limiter's own log in Redis (admissions by the Redis clock). pydocket's run is given up
   ``--cap`` seconds after the time a perfect limiter would need.
3. **Fairness** (strew only): 1 hot value with 2,000 tasks and 50 cold values with 10 each,
   all ``Annotated[str, ConcurrencyLimit(2)]``, each task sleeping ``--work-ms`` (10 ms), one
   worker at concurrency 20; once with every hot task due before the cold ones, once mixed.
   Reported: when the cold tasks finished against the hot ones.

    .venv/bin/python -m bench.admission [--runs 3] [--tasks 20000] [--pydocket-tasks 500]
        [--precision-tasks 400] [--skip drain precision fairness direct]
"""

# No `from __future__ import annotations` here: the task functions are built per library and
# annotate a parameter with that library's ConcurrencyLimit, which must be evaluated where the
# function is defined (a string annotation would be resolved in this module's globals).

import argparse
import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import timedelta
from typing import Annotated, Any, cast

import redis.asyncio as aioredis

from bench import common

NAME = "admission"
VARIANTS = ("none", "concurrency", "rate")
VALUES = 100
"""Distinct argument values of the per-value concurrency variant."""
PER_VALUE = 5
HUGE_RATE = 1_000_000
RATE = 20
"""Starts per second of the precision part."""

HOT_TASKS = 2_000
COLD_VALUES = 50
COLD_TASKS = 10
FAIR_LIMIT = 2
FAIR_CONCURRENCY = 20

SECOND = 1_000_000
LEASE = 60 * SECOND

Task = Callable[..., Awaitable[None]]


def library(system: str) -> Any:
    if system == "strew":
        import strew

        return strew
    import docket

    return docket


# -- the tasks -------------------------------------------------------------------------------


def drain_task(lib: Any, variant: str, starts: list[float]) -> Task:
    """A no-op that notes when it ran, with the variant's limit (the same for both systems)."""
    if variant == "none":

        async def plain(n: int) -> None:
            starts.append(time.perf_counter())

        return plain
    if variant == "concurrency":

        async def per_value(n: Annotated[int, lib.ConcurrencyLimit(PER_VALUE)]) -> None:
            starts.append(time.perf_counter())

        return per_value

    huge = lib.RateLimit(HUGE_RATE, per=timedelta(seconds=1))

    async def rated(n: int, rate: Any = huge) -> None:
        starts.append(time.perf_counter())

    return rated


def rated_task(lib: Any, starts: list[float]) -> Task:
    limit = lib.RateLimit(RATE, per=timedelta(seconds=1))

    async def rated(n: int, rate: Any = limit) -> None:
        starts.append(time.time())

    return rated


class Fairness:
    """Start and finish times of each value's tasks, and the most of one value seen at once."""

    def __init__(self) -> None:
        self.starts: dict[str, list[float]] = {}
        self.finishes: dict[str, list[float]] = {}
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()

    def task(self, lib: Any, work: float) -> Task:
        async def serve(customer: Annotated[str, lib.ConcurrencyLimit(FAIR_LIMIT)], n: int) -> None:
            self.starts.setdefault(customer, []).append(time.perf_counter())
            self.now[customer] += 1
            self.most[customer] = max(self.most[customer], self.now[customer])
            await asyncio.sleep(work)
            self.now[customer] -= 1
            self.finishes.setdefault(customer, []).append(time.perf_counter())

        return serve


# -- one worker, either system ---------------------------------------------------------------


async def run_worker(
    system: str,
    url: str,
    task: Task,
    calls: list[tuple[Any, ...]],
    concurrency: int,
    give_up_after: float | None = None,
    batches: int = 1,
    name: str | None = None,
    after: Callable[[], Awaitable[None]] | None = None,
) -> tuple[float, bool, dict[str, float]]:
    """Queue ``task(*args)`` for each of ``calls`` (in ``batches`` batch adds, in order: a later
    batch is due after an earlier one), run one worker until all have run, or for at most
    ``give_up_after`` seconds; return the worker's wall time, whether it finished, and where
    the time went: this process's CPU seconds, Redis's seconds in scripts and (strew) how
    often a task waited for a slot or was put back by a rate limit. ``after`` runs once the
    worker is done, before the docket's keys are removed."""
    name = name or common.docket_name(NAME, system)
    lib = library(system)
    size = -(-len(calls) // batches)
    finished = True
    admissions: dict[str, float] = {}

    async def until_finished(worker: Any) -> None:
        nonlocal finished
        scripts = await common.ScriptTime.read(url)
        cpu = time.process_time()
        try:
            await run_until_finished(worker)
        finally:
            admissions["cpu_seconds"] = time.process_time() - cpu
            admissions["redis_script_seconds"] = (await scripts.since(url))[0]

    async def run_until_finished(worker: Any) -> None:
        nonlocal finished
        running = asyncio.ensure_future(worker.run_until_finished())
        done, _ = await asyncio.wait([running], timeout=give_up_after)
        if running in done:
            running.result()
            return
        finished = False
        running.cancel()
        with suppress(asyncio.CancelledError):
            await running

    try:
        target = url if system == "strew" else common.pydocket_url(url)
        async with lib.Docket(name, target) as docket:
            docket.register(task)
            for b in range(0, len(calls), size):
                await docket.add_many([docket.call(task)(*args) for args in calls[b : b + size]])
            common.settle()
            if system == "strew":
                worker = lib.Worker(docket, concurrency=concurrency)
                started = time.perf_counter()
                await until_finished(worker)
                elapsed = time.perf_counter() - started
                admissions["waited"] = worker.stats.waited
                admissions["deferred"] = worker.stats.deferred
            else:
                async with lib.Worker(
                    docket,
                    concurrency=concurrency,
                    schedule_automatic_tasks=False,
                    redelivery_timeout=timedelta(minutes=5),
                ) as worker:
                    started = time.perf_counter()
                    await until_finished(worker)
                    elapsed = time.perf_counter() - started
        if after is not None:
            await after()
    finally:
        await common.forget(url, name)
    return elapsed, finished, admissions


# -- 1. drain --------------------------------------------------------------------------------


async def drain(
    system: str, url: str, variant: str, tasks: int, concurrency: int
) -> dict[str, float]:
    """Seconds one worker takes to drain ``tasks`` no-ops of ``variant``."""
    starts: list[float] = []
    task = drain_task(library(system), variant, starts)
    elapsed, _, admissions = await run_worker(
        system, url, task, [(i % VALUES,) for i in range(tasks)], concurrency
    )
    if len(starts) != tasks:
        raise RuntimeError(f"{system} {variant}: ran {len(starts)} of {tasks} tasks")
    return {"seconds": elapsed, "rate": tasks / elapsed, **admissions}


async def direct_admit(url: str, calls: int) -> dict[str, float]:
    """Microseconds per sequential call of the Redis store's ``admit`` (a per-value
    concurrency gate, then a rate gate) and ``release_slots``, against ``now`` (one plain
    round trip), each over ``calls`` claimed tasks."""
    from strew.stores import open_store
    from strew.stores.records import Claim, Entry, Gate

    name = common.docket_name(NAME, "direct")
    store = open_store(url, name)
    out: dict[str, float] = {}
    try:
        now = await store.now()
        keys = [f"k{i}" for i in range(2 * calls)]
        await store.schedule([Entry(k, now - 1, b"x") for k in keys], replace=False)
        claims: list[Claim] = []
        while len(claims) < len(keys):
            claims += (await store.claim("bench", 1000, LEASE, 0)).claims
        concurrency = [
            [Gate("concurrency", f"n:{i % VALUES}", limit=PER_VALUE)] for i in range(calls)
        ]
        rate = [Gate("rate", "rated", limit=HUGE_RATE, window=SECOND)]

        began = time.perf_counter()
        for _ in range(calls):
            await store.now()
        out["round_trip_us"] = (time.perf_counter() - began) / calls * 1e6

        admit_s = release_s = 0.0
        for claim, gates in zip(claims[:calls], concurrency, strict=True):
            began = time.perf_counter()
            admission = await store.admit(claim.key, claim.token, gates, LEASE)
            admitted = time.perf_counter()
            await store.release_slots(claim.key, gates)
            released = time.perf_counter()
            if admission.verdict != "run":
                raise RuntimeError(f"admit said {admission.verdict} to a free slot")
            admit_s += admitted - began
            release_s += released - admitted
        out["admit_concurrency_us"] = admit_s / calls * 1e6
        out["release_slots_us"] = release_s / calls * 1e6

        began = time.perf_counter()
        for claim in claims[calls:]:
            admission = await store.admit(claim.key, claim.token, rate, LEASE)
            if admission.verdict != "run":
                raise RuntimeError(f"admit said {admission.verdict} under a huge rate limit")
        out["admit_rate_us"] = (time.perf_counter() - began) / calls * 1e6
    finally:
        await store.destroy()
        await store.close()
        await common.forget(url, name)
    return out


# -- 2. rate limit precision -----------------------------------------------------------------


def precision(starts: list[float], tasks: int, gave_up: bool, jitter_ms: float) -> dict[str, Any]:
    """Starts per whole second, the busiest sliding second and lateness against the slots.

    A start is read inside the task, a little after the limiter let it through, and that
    little varies from task to task: two starts a limiter put exactly 1 s apart can be read
    slightly less than 1 s apart. So a start counts as breaking the limit only when it came
    more than ``jitter_ms`` before its slot, and the busiest second is counted over windows
    ``jitter_ms`` shorter than a second."""
    ordered = sorted(starts)
    first = ordered[0]
    seconds = int(ordered[-1] - first)
    per_second = [0] * (seconds + 1)
    for s in ordered:
        per_second[int(s - first)] += 1
    # Whole seconds only: the last one is cut short by the end of the tasks (or the cap).
    whole = per_second[:-1] if len(per_second) > 1 else per_second
    window = 1.0 - jitter_ms / 1000
    busiest = 0
    j = 0
    for i, s in enumerate(ordered):
        while ordered[j] <= s - window:
            j += 1
        busiest = max(busiest, i - j + 1)
    lateness = [(ordered[i] - (ordered[i - RATE] + 1.0)) * 1000 for i in range(RATE, len(ordered))]
    span = ordered[-1] - first
    return {
        "tasks": tasks,
        "started": len(starts),
        "gave_up": gave_up,
        "span_seconds": span,
        # The first RATE start at once; the rest are what the limit paces.
        "rate": (len(ordered) - RATE) / span if span > 0 else float("nan"),
        "per_second": per_second,
        "whole_seconds": len(whole),
        "whole_seconds_on_target": sum(1 for c in whole if abs(c - RATE) <= 1),
        "whole_min": min(whole),
        "whole_max": max(whole),
        "busiest_second": busiest,
        "early_starts": sum(1 for late in lateness if late < -jitter_ms),
        "p50_late_ms": common.percentile(lateness, 50),
        "p99_late_ms": common.percentile(lateness, 99),
        "max_late_ms": max(lateness) if lateness else float("nan"),
        "min_late_ms": min(lateness) if lateness else float("nan"),
    }


async def rate_log(url: str, name: str, log: dict[bytes, float], stop: asyncio.Event) -> None:
    """Copy strew's rate log of docket ``name`` (a sorted set per limit: one member per
    admitted start, scored by the Redis time of the admission, kept for one window) into
    ``log`` every 100 ms, and once more when ``stop`` is set: the limiter's own record, with
    no task-side read in it."""
    client = aioredis.Redis.from_url(url)
    try:
        while True:
            stopping = stop.is_set()
            async for key in client.scan_iter(match=f"strew:{{{name}}}:limit:rate:*"):
                entries = await client.zrange(key, 0, -1, withscores=True)
                for member, score in cast(list[tuple[bytes, float]], entries):
                    log[member] = score / 1e6
            if stopping:
                return
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
    finally:
        await client.aclose()


async def rate_precision(
    system: str, url: str, tasks: int, cap: float, jitter_ms: float
) -> dict[str, Any]:
    starts: list[float] = []
    task = rated_task(library(system), starts)
    name = common.docket_name(NAME, system)
    log: dict[bytes, float] = {}
    stop = asyncio.Event()
    watching = (
        asyncio.create_task(rate_log(url, name, log, stop), name="rate log")
        if system == "strew"
        else None
    )

    async def last_look() -> None:
        stop.set()
        if watching is not None:
            await watching

    try:
        _, finished, _ = await run_worker(
            system,
            url,
            task,
            [(i,) for i in range(tasks)],
            concurrency=10,
            give_up_after=tasks / RATE + cap,
            name=name,
            after=last_look,
        )
    finally:
        if watching is not None and not watching.done():
            watching.cancel()
            with suppress(asyncio.CancelledError):
                await watching
    if finished and len(starts) != tasks:
        raise RuntimeError(f"{system}: ran {len(starts)} of {tasks} rate-limited tasks")
    result = precision(starts, tasks, not finished, jitter_ms)
    if watching is not None:
        # Exact: admissions by the Redis clock, from the limiter's own log.
        admitted = sorted(log.values())
        gaps = [(admitted[i] - admitted[i - RATE] - 1.0) * 1000 for i in range(RATE, len(admitted))]
        if len(admitted) != len(starts):
            print(f"  (the Redis log showed {len(admitted)} admissions of {len(starts)} starts)")
        result["logged_admissions"] = len(admitted)
        result["logged_min_gap_ms"] = min(gaps) if gaps else float("nan")
        result["logged_early"] = sum(1 for gap in gaps if gap < 0)
    return result


# -- 3. fairness -----------------------------------------------------------------------------


async def fairness(url: str, order: str, work: float) -> dict[str, Any]:
    seen = Fairness()
    hot = [("hot", n) for n in range(HOT_TASKS)]
    cold = [(f"cold-{v}", n) for n in range(COLD_TASKS) for v in range(COLD_VALUES)]
    if order == "hot first":
        calls, batches = hot + cold, 2
    else:
        calls, batches = hot + cold, 1
        random.Random(7).shuffle(calls)
    elapsed, _, _ = await run_worker(
        "strew", url, seen.task(library("strew"), work), calls, FAIR_CONCURRENCY, batches=batches
    )
    hot_done = sorted(seen.finishes["hot"])
    cold_done = sorted(t for v, ts in seen.finishes.items() if v != "hot" for t in ts)
    if len(hot_done) != HOT_TASKS or len(cold_done) != COLD_VALUES * COLD_TASKS:
        raise RuntimeError(f"fairness: ran {len(hot_done)} hot and {len(cold_done)} cold")
    # Times from the first start (less its work), so the batch add before the worker is out.
    zero = min(hot_done[0], cold_done[0]) - work
    cold_last = cold_done[-1] - zero
    return {
        "order": order,
        "worker_seconds": elapsed,
        "hot_last_s": hot_done[-1] - zero,
        "cold_p50_s": common.percentile([t - zero for t in cold_done], 50),
        "cold_last_s": cold_last,
        "cold_last_over_hot_last": cold_last / (hot_done[-1] - zero),
        "hot_done_when_cold_done": sum(1 for t in hot_done if t <= cold_done[-1]) / HOT_TASKS,
        # The first hand-over of a hot slot: a freed slot belongs to the first waiting task,
        # which is brought forward to now, behind whatever was already due and not claimed.
        "hot_third_start_s": sorted(seen.starts["hot"])[FAIR_LIMIT] - zero,
        "hot_rate": HOT_TASKS / (hot_done[-1] - zero),
        "most_at_once_hot": seen.most["hot"],
        "most_at_once_cold": max(v for k, v in seen.most.items() if k != "hot"),
    }


# -- main ------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    with common.redis_server(args.url) as url:
        runs: dict[str, list[Any]] = {}

        def note(key: str, value: Any) -> None:
            runs.setdefault(key, []).append(value)

        for i in range(args.runs):
            tag = f"run {i + 1}/{args.runs}"
            if "drain" not in args.skip:
                for variant in VARIANTS:
                    s = await drain("strew", url, variant, args.tasks, args.concurrency)
                    common.settle()
                    p = await drain("pydocket", url, variant, args.pydocket_tasks, args.concurrency)
                    common.settle()
                    note(f"drain strew {variant}", s)
                    note(f"drain pydocket {variant}", p)
                    print(
                        f"{tag} drain {variant:>11}: strew {s['rate']:,.0f}/s "
                        f"({args.tasks} in {s['seconds']:.2f}s, CPU {s['cpu_seconds']:.2f}s, "
                        f"Redis scripts {s['redis_script_seconds']:.2f}s; {s['waited']:.0f} "
                        f"waited, {s['deferred']:.0f} put back), pydocket {p['rate']:,.1f}/s "
                        f"({args.pydocket_tasks} in {p['seconds']:.2f}s)",
                        flush=True,
                    )
            if "direct" not in args.skip:
                d = await direct_admit(url, args.admit_calls)
                common.settle()
                note("direct", d)
                print(
                    f"{tag} direct: now {d['round_trip_us']:.0f} us, admit concurrency "
                    f"{d['admit_concurrency_us']:.0f} us, release_slots "
                    f"{d['release_slots_us']:.0f} us, admit rate {d['admit_rate_us']:.0f} us",
                    flush=True,
                )
            if "precision" not in args.skip:
                for system in ("strew", "pydocket"):
                    r = await rate_precision(
                        system, url, args.precision_tasks, args.cap, args.jitter_ms
                    )
                    common.settle()
                    note(f"precision {system}", r)
                    print(
                        f"{tag} precision {system:>8}: {r['started']}/{r['tasks']} started in "
                        f"{r['span_seconds']:.1f}s ({r['rate']:.2f}/s), whole seconds "
                        f"{r['whole_min']}-{r['whole_max']} ({r['whole_seconds_on_target']}/"
                        f"{r['whole_seconds']} at {RATE}±1), busiest second "
                        f"{r['busiest_second']}, {r['early_starts']} early, lateness p50 "
                        f"{r['p50_late_ms']:.1f} p99 "
                        f"{r['p99_late_ms']:.1f} max {r['max_late_ms']:.1f} min "
                        f"{r['min_late_ms']:.1f} ms"
                        + (" (GAVE UP)" if r["gave_up"] else "")
                        + (
                            f"; Redis log: {r['logged_admissions']} admissions, "
                            f"{r['logged_early']} within 1 s of the {RATE}th before, "
                            f"tightest 1 s + {r['logged_min_gap_ms']:.3f} ms"
                            if "logged_admissions" in r
                            else ""
                        ),
                        flush=True,
                    )
            if "fairness" not in args.skip:
                for order in ("hot first", "mixed"):
                    f = await fairness(url, order, args.work_ms / 1000)
                    common.settle()
                    note(f"fairness {order}", f)
                    print(
                        f"{tag} fairness {order:>9}: cold p50 {f['cold_p50_s']:.2f}s, last "
                        f"{f['cold_last_s']:.2f}s; hot last {f['hot_last_s']:.2f}s "
                        f"({f['hot_done_when_cold_done']:.0%} of hot done when cold was); "
                        f"most at once hot {f['most_at_once_hot']}, cold "
                        f"{f['most_at_once_cold']}",
                        flush=True,
                    )

        medians: dict[str, Any] = {}
        rows: list[common.Row] = []
        if "drain" not in args.skip:
            rows += drain_rows(args, runs, medians)
        if "direct" not in args.skip:
            direct = {k: common.median([d[k] for d in runs["direct"]]) for k in runs["direct"][0]}
            medians["direct"] = direct
            for label, key in (
                ("direct: one round trip (now), strew store", "round_trip_us"),
                ("direct: admit, per-value concurrency gate", "admit_concurrency_us"),
                ("direct: release_slots after it", "release_slots_us"),
                ("direct: admit, rate gate", "admit_rate_us"),
            ):
                rows.append(common.Row(label, direct[key], None, "us", better="lower"))
        if "precision" not in args.skip:
            rows += precision_rows(runs, medians, args.jitter_ms)
        print()
        print(common.table(f"admission: medians of {args.runs} runs", rows))
        if "precision" not in args.skip:
            for system in ("strew", "pydocket"):
                last = runs[f"precision {system}"][-1]
                print()
                print(
                    common.histogram(
                        f"{system}: starts per second, last run ({RATE} is the limit)",
                        last["per_second"],
                        width=40,
                    )
                )
        if "fairness" not in args.skip:
            print()
            print(fairness_table(runs, medians, args))
        common.save(NAME, args, url, {"medians": medians, "runs": runs})


ADDED = (
    ("seconds", "drain time"),
    ("cpu_seconds", "client CPU (this process)"),
    ("redis_script_seconds", "Redis time in scripts"),
)
"""What a limit adds to a drain, per task: measure, and its name in the table."""


def drain_rows(
    args: argparse.Namespace, runs: dict[str, list[Any]], medians: dict[str, Any]
) -> list[common.Row]:
    rows: list[common.Row] = []
    n = {"strew": args.tasks, "pydocket": args.pydocket_tasks}
    rates: dict[str, float] = {}
    for variant in VARIANTS:
        for system in ("strew", "pydocket"):
            rates[f"{system} {variant}"] = common.median(
                [r["rate"] for r in runs[f"drain {system} {variant}"]]
            )
        label = {
            "none": "no limits",
            "concurrency": f"Annotated ConcurrencyLimit({PER_VALUE}), {VALUES} values",
            "rate": f"RateLimit({HUGE_RATE:,}, per=1 s)",
        }[variant]
        rows.append(
            common.Row(
                f"drain tasks/s, {label}",
                rates[f"strew {variant}"],
                rates[f"pydocket {variant}"],
                "/s",
            )
        )
    for variant in VARIANTS[1:]:
        # Paired within each run (same minute, same machine load), then the median.
        share = {
            system: common.median(
                [
                    base["seconds"] / limited["seconds"]
                    for base, limited in zip(
                        runs[f"drain {system} none"], runs[f"drain {system} {variant}"], strict=True
                    )
                ]
            )
            for system in ("strew", "pydocket")
        }
        added: dict[str, dict[str, float]] = {}
        for measure, _ in ADDED:
            added[measure] = {
                system: common.median(
                    [
                        (limited[measure] - base[measure]) / n[system] * 1e6
                        for base, limited in zip(
                            runs[f"drain {system} none"],
                            runs[f"drain {system} {variant}"],
                            strict=True,
                        )
                    ]
                )
                for system in ("strew", "pydocket")
            }
        rows.append(
            common.Row(
                f"  {variant}: limited / unlimited rate",
                share["strew"],
                share["pydocket"],
                "x",
                compare=False,
            )
        )
        for measure, what in ADDED:
            rows.append(
                common.Row(
                    f"  {variant}: {what} added per task",
                    added[measure]["strew"],
                    added[measure]["pydocket"],
                    "us",
                    better="lower",
                    compare=False,
                )
            )
        medians[f"drain {variant}"] = {"limited_over_unlimited": share, "added_us_per_task": added}
    medians["drain rates"] = rates
    medians["drain strew/pydocket"] = {
        v: common.ratio(rates[f"strew {v}"], rates[f"pydocket {v}"]) for v in VARIANTS
    }
    return rows


def precision_rows(
    runs: dict[str, list[Any]], medians: dict[str, Any], jitter_ms: float
) -> list[common.Row]:
    stats = {
        system: {
            key: common.median([float(r[key]) for r in runs[f"precision {system}"]])
            for key in (
                "rate",
                "whole_min",
                "whole_max",
                "whole_seconds_on_target",
                "whole_seconds",
                "busiest_second",
                "early_starts",
                "p50_late_ms",
                "p99_late_ms",
                "max_late_ms",
                "min_late_ms",
            )
        }
        for system in ("strew", "pydocket")
    }
    logged = runs["precision strew"]
    stats["strew"]["logged_early"] = max(float(r["logged_early"]) for r in logged)
    stats["strew"]["logged_min_gap_ms"] = min(float(r["logged_min_gap_ms"]) for r in logged)
    medians["precision"] = stats
    s, p = stats["strew"], stats["pydocket"]
    return [
        common.Row(
            f"RateLimit({RATE}/s): starts per second after the first {RATE}",
            s["rate"],
            p["rate"],
            "/s",
            compare=False,
            target=f"{RATE}",
        ),
        common.Row(
            "  fewest / most starts in a whole second",
            s["whole_min"],
            p["whole_min"],
            compare=False,
        ),
        common.Row("", s["whole_max"], p["whole_max"], compare=False),
        common.Row(
            f"  whole seconds at {RATE} ± 1 "
            f"(of {s['whole_seconds']:.0f} / {p['whole_seconds']:.0f})",
            s["whole_seconds_on_target"],
            p["whole_seconds_on_target"],
            compare=False,
            target="all",
        ),
        common.Row(
            f"  busiest sliding second (less {jitter_ms:g} ms)",
            s["busiest_second"],
            p["busiest_second"],
            compare=False,
            target=f"<= {RATE}",
        ),
        common.Row(
            f"  starts more than {jitter_ms:g} ms before their slot",
            s["early_starts"],
            p["early_starts"],
            compare=False,
            target="0",
        ),
        *(
            common.Row(
                f"  lateness against the slot, {stat}",
                s[f"{stat}_late_ms"],
                p[f"{stat}_late_ms"],
                "ms",
                better="lower",
                compare=stat != "min",
                target=f">= -{jitter_ms:g} ms" if stat == "min" else "",
            )
            for stat in ("p50", "p99", "max", "min")
        ),
        common.Row(
            f"  strew's Redis log, every run: admissions within 1 s of the {RATE}th before",
            s["logged_early"],
            None,
            compare=False,
            target="0",
        ),
        common.Row(
            f"  strew's Redis log, every run: tightest {RATE + 1} admissions, less 1 s",
            s["logged_min_gap_ms"],
            None,
            "ms",
            compare=False,
            target=">= 0",
        ),
    ]


def fairness_table(
    runs: dict[str, list[Any]], medians: dict[str, Any], args: argparse.Namespace
) -> str:
    lines = [
        f"fairness (strew): 1 hot value x {HOT_TASKS:,} tasks, {COLD_VALUES} cold values x "
        f"{COLD_TASKS}, Annotated[str, ConcurrencyLimit({FAIR_LIMIT})], {args.work_ms:g} ms "
        f"each, concurrency {FAIR_CONCURRENCY}; medians of {args.runs} runs, seconds from the "
        "first start",
        "",
        "order       cold p50  cold last  hot last  cold last / hot last  hot done then  "
        "hot 3rd start  hot /s  most at once hot / cold",
    ]
    for order in ("hot first", "mixed"):
        found = runs[f"fairness {order}"]
        m = {k: common.median([float(f[k]) for f in found]) for k in found[0] if k != "order"}
        m["most_at_once_hot"] = max(f["most_at_once_hot"] for f in found)
        m["most_at_once_cold"] = max(f["most_at_once_cold"] for f in found)
        medians[f"fairness {order}"] = m
        lines.append(
            f"{order:<10}  {m['cold_p50_s']:7.2f}s  {m['cold_last_s']:8.2f}s  "
            f"{m['hot_last_s']:7.2f}s  {m['cold_last_over_hot_last']:20.1%}  "
            f"{m['hot_done_when_cold_done']:13.0%}  {m['hot_third_start_s']:12.2f}s  "
            f"{m['hot_rate']:6.0f}  "
            f"{m['most_at_once_hot']:.0f} / {m['most_at_once_cold']:.0f} (limit {FAIR_LIMIT})"
        )
    ideal = COLD_VALUES * COLD_TASKS * args.work_ms / 1000 / FAIR_CONCURRENCY
    hot_alone = HOT_TASKS * args.work_ms / 1000 / FAIR_LIMIT
    lines.append(
        f"(the cold tasks alone need >= {ideal:.2f}s at concurrency {FAIR_CONCURRENCY}; "
        f"the hot ones >= {hot_alone:.1f}s at {FAIR_LIMIT} at once, "
        f"{HOT_TASKS / hot_alone:.0f}/s)"
    )
    return "\n".join(lines)


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=20_000, help="tasks strew drains per variant")
    p.add_argument(
        "--pydocket-tasks", type=int, default=500, help="tasks pydocket drains per variant"
    )
    p.add_argument("--concurrency", type=int, default=10, help="drain worker concurrency")
    p.add_argument(
        "--admit-calls", type=int, default=2_000, help="sequential admit calls, direct part"
    )
    p.add_argument(
        "--precision-tasks",
        type=int,
        default=400,
        help=f"rate-limited tasks flooded at once ({RATE}/s: 400 is 20 s, 2000 is 100 s)",
    )
    p.add_argument(
        "--cap",
        type=float,
        default=20.0,
        help="give a precision run up this many seconds after a perfect limiter would finish",
    )
    p.add_argument(
        "--jitter-ms",
        type=float,
        # A start read up to this much late is common on a busy 2-core machine (the p99
        # lateness of strew's starts is 5-7 ms), and an earlier start read late makes a later
        # one look early by as much.
        default=5.0,
        help="precision: how far before its slot a start may be read without breaking the limit",
    )
    p.add_argument("--work-ms", type=float, default=10.0, help="fairness: each task's sleep")
    p.add_argument(
        "--skip",
        nargs="+",
        default=[],
        choices=["drain", "direct", "precision", "fairness"],
        help="parts to leave out",
    )
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
