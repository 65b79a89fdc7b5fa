"""What every benchmark shares: a throwaway Redis, arguments, medians, tables, JSON results.

Each benchmark runs strew and pydocket against the same Redis in one process, one after the
other (never at the same time: this is a 2-core machine and they would steal each other's
CPU), repeats the whole comparison ``--runs`` times and reports medians.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from strew.cli.loops import LoopKind, loop_factory
from strew.testing import RedisServer, RedisServerMissing

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"


# -- arguments -------------------------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    """The arguments every benchmark takes; scripts add their own."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--url",
        default=None,
        help="Redis to use (default: start a throwaway redis-server on a free loopback port)",
    )
    p.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    p.add_argument("--no-save", action="store_true", help="do not write bench/results/<name>.json")
    return p


# -- Redis -----------------------------------------------------------------------------------


@contextmanager
def redis_server(url: str | None) -> Iterator[str]:
    """Yield a Redis URL: ``url`` when given, else a redis-server of our own that persists
    nothing (so timings do not include disk writes and memory figures are ours alone)."""
    if url is not None:
        yield url
        return
    try:
        with RedisServer(appendonly=False) as server:
            yield server.url
    except RedisServerMissing as missing:
        sys.exit(f"{missing}, or pass --url")


def redis_version(url: str) -> str:
    client = redis.Redis.from_url(url)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()


async def used_memory(url: str) -> int:
    """Redis ``used_memory`` once nothing is being freed in the background (a lazily freed
    key from an earlier measurement would otherwise shrink the figure while we read it)."""
    client = aioredis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 30
        while True:
            info = await client.info("memory")
            if int(info.get("lazyfree_pending_objects", 0)) == 0:
                return int(info["used_memory"])
            if time.monotonic() > deadline:
                raise RuntimeError("Redis kept freeing objects in the background for 30 s")
            await asyncio.sleep(0.05)
    finally:
        await client.aclose()


@dataclass(frozen=True)
class ScriptTime:
    """How long a Redis server has spent in scripts (``INFO commandstats``) and the id of its
    newest slow-log entry, to measure what one step cost it (read-only: nothing is
    configured on a server that is not ours)."""

    usec: int
    slowlog_id: int

    @classmethod
    async def read(cls, url: str) -> ScriptTime:
        client = aioredis.Redis.from_url(url)
        try:
            stats = await client.info("commandstats")
            newest = await client.slowlog_get(1)
        finally:
            await client.aclose()
        usec = sum(int(stats.get(f"cmdstat_{c}", {}).get("usec", 0)) for c in ("evalsha", "eval"))
        return cls(usec, int(newest[0]["id"]) if newest else -1)

    async def since(self, url: str) -> tuple[float, float | None]:
        """Seconds spent in scripts since this reading, and the longest single script call
        among them if the slow log caught it (it keeps calls over its threshold, 10 ms by
        default; None when none was that long)."""
        now = await ScriptTime.read(url)
        client = aioredis.Redis.from_url(url)
        try:
            entries = await client.slowlog_get(1000)
        finally:
            await client.aclose()
        longest = [
            int(e["duration"])
            for e in entries
            if int(e["id"]) > self.slowlog_id
            and bytes(e["command"]).split(b" ", 1)[0].upper() in (b"EVALSHA", b"EVAL")
        ]
        return (now.usec - self.usec) / 1e6, (max(longest) / 1e6 if longest else None)


async def delete_keys(url: str, *patterns: str) -> int:
    """Delete every key matching the patterns (our own dockets only; never a flush).

    DEL, not UNLINK: freeing a million-task docket in Redis's background thread would take a
    core away from the next measurement on a 2-core machine, and shrink its memory figures."""
    client = aioredis.Redis.from_url(url)
    deleted = 0
    try:
        for pattern in patterns:
            batch: list[Any] = []
            async for key in client.scan_iter(match=pattern, count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    deleted += int(await client.delete(*batch))
                    batch = []
            if batch:
                deleted += int(await client.delete(*batch))
    finally:
        await client.aclose()
    return deleted


def pydocket_url(url: str) -> str:
    """The URL pydocket gets: redis-py 8 caps a connection pool at 100 connections, and
    pydocket takes one per running task plus its own, so at concurrency 100 it would fail
    with "Too many connections". Lifting the cap is configuration, not a code change."""
    if "max_connections=" in url:
        return url
    return url + ("&" if "?" in url else "?") + "max_connections=10000"


def strew_patterns(name: str) -> list[str]:
    return [f"strew:{{{name}}}:*"]


def pydocket_patterns(name: str) -> list[str]:
    # pydocket keeps a docket's keys under its name (with a hash tag in newer versions).
    return [f"{name}:*", f"{{{name}}}:*", f"{{{name}}}*"]


async def forget(url: str, name: str) -> None:
    """Remove what either library left behind for docket ``name``."""
    await delete_keys(url, *strew_patterns(name), *pydocket_patterns(name))


def docket_name(bench: str, system: str) -> str:
    return f"bench-{bench}-{system}-{uuid.uuid4().hex[:8]}"


# -- statistics ------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank: a value that was actually observed."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


def ratio(numerator: float, denominator: float) -> float:
    if denominator == 0 or denominator != denominator:  # zero or NaN
        return float("nan")
    return numerator / denominator


def settle() -> None:
    """Between measurements: collect garbage so one system does not pay for the other's."""
    gc.collect()


# -- output ----------------------------------------------------------------------------------


@dataclass
class Row:
    metric: str
    strew: float | None
    pydocket: float | None
    unit: str = ""
    better: str = "higher"
    """Which direction is better: "higher" reports strew/pydocket, "lower" pydocket/strew,
    so a ratio above 1 always means strew is ahead."""
    target: str = ""
    compare: bool = True
    """False for figures whose ratio means nothing (counts that may be zero)."""

    @property
    def ratio(self) -> float | None:
        if self.strew is None or self.pydocket is None or not self.compare:
            return None
        if self.better == "higher":
            return ratio(self.strew, self.pydocket)
        return ratio(self.pydocket, self.strew)


def lateness_rows(
    strew: dict[str, float], other: dict[str, float], target_p99_ms: float
) -> list[Row]:
    """The p50 / p99 / max start-lateness rows that lateness.py and smoothness.py share."""
    return [
        Row(
            f"{stat} start lateness",
            strew[f"{stat}_ms"],
            other[f"{stat}_ms"],
            "ms",
            better="lower",
            target=f"strew < {target_p99_ms:g} ms" if stat == "p99" else "",
        )
        for stat in ("p50", "p99", "max")
    ]


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if value != value:
        return "nan"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def table(title: str, rows: Sequence[Row]) -> str:
    header = ("metric", "strew", "pydocket", "strew advantage", "target")
    lines = [
        (
            row.metric,
            fmt(row.strew, row.unit),
            fmt(row.pydocket, row.unit),
            "-" if row.ratio is None else f"{row.ratio:.1f}x",
            row.target,
        )
        for row in rows
    ]
    return text_table(title, header, lines)


def text_table(title: str, header: Sequence[str], lines: Sequence[Sequence[str]]) -> str:
    """``title``, then the columns aligned: the first to the left, the others to the right."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *lines, strict=True)]
    out = [title, ""]
    out.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    out.append("  ".join("-" * w for w in widths))
    for line in lines:
        out.append(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    return "\n".join(out)


def histogram(title: str, counts: Sequence[int], label: str = "s", width: int = 50) -> str:
    """A text bar chart: one line per bucket."""
    peak = max(counts) if counts else 0
    lines = [title]
    for i, count in enumerate(counts):
        bar = "#" * (round(count / peak * width) if peak else 0)
        lines.append(f"  {i:>3}{label} {count:>5} {bar}")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {}
    for package in ("strew", "pydocket", "redis"):
        try:
            out[package] = version(package)
        except Exception:
            out[package] = "?"
    return out


def save(name: str, args: argparse.Namespace, url: str, data: dict[str, Any]) -> None:
    """Write ``bench/results/<name>.json`` with the numbers and where they came from."""
    if getattr(args, "no_save", False):
        return
    RESULTS_DIR.mkdir(exist_ok=True)
    document = {
        "benchmark": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
        "redis": redis_version(url),
        "redis_url": "throwaway" if args.url is None else "given",
        # Other work on the machine skews timings; this says how busy it was at the end.
        "load_average_at_end": os.getloadavg(),
        "args": {k: v for k, v in vars(args).items() if k not in ("url", "no_save")},
        **data,
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
    print(f"\nwrote {path.relative_to(BENCH_DIR.parent)}")


def quiet_logs() -> None:
    """Both libraries log every task at INFO; a benchmark must not pay for printing them."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    for name in ("strew", "docket"):
        logging.getLogger(name).setLevel(logging.WARNING)


def run(main: Any, loop: str = "asyncio") -> None:
    """Run a benchmark's ``main`` on asyncio's own loop, or on uvloop (``loop="uvloop"``,
    what `strew worker` runs on when the uvloop extra is installed: cli/loops.py)."""
    quiet_logs()
    factory, _ = loop_factory(LoopKind(loop))
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main)


# -- timed runs: one worker, tasks that note when they started ------------------------------

Schedule = Callable[[Any, Any, int], Awaitable[list[datetime]]]
"""``schedule(docket, tick, n)`` puts ``tick(i)`` for i in range(n) on ``docket`` and returns
each one's planned due time (index i); the same code serves strew and pydocket, whose
``Docket`` APIs match."""


@dataclass
class Timed:
    dues: list[float]
    """Planned due time of task i, epoch seconds."""
    starts: list[float]
    """When task i actually started, ``time.time()`` read inside the task."""
    schedule_seconds: float
    run_seconds: float
    gave_up: float | None = None
    """When the run was abandoned (epoch seconds), if it was: tasks that had not started by
    then count as started then, so their lateness is a lower bound."""

    @property
    def unstarted(self) -> int:
        return sum(1 for s in self.starts if s != s)

    @property
    def lateness_ms(self) -> list[float]:
        return [
            ((self.gave_up if s != s and self.gave_up is not None else s) - d) * 1000
            for s, d in zip(self.starts, self.dues, strict=True)
        ]

    def summary(self) -> dict[str, float]:
        late = self.lateness_ms
        return {
            "unstarted": self.unstarted,
            "p50_ms": percentile(late, 50),
            "p99_ms": percentile(late, 99),
            "max_ms": max(late),
            "min_ms": min(late),
            "schedule_seconds": self.schedule_seconds,
            "run_seconds": self.run_seconds,
        }


def _tick(starts: list[float]) -> Callable[[int], Awaitable[None]]:
    async def tick(i: int) -> None:
        starts[i] = time.time()

    return tick


async def timed_run(
    system: str,
    url: str,
    bench: str,
    n: int,
    schedule: Schedule,
    concurrency: int | None = None,
    give_up_after: float | None = None,
) -> Timed:
    """Schedule ``n`` ticks with ``schedule``, then run one worker at its default settings
    (``concurrency`` aside) until everything has run, or until ``give_up_after`` seconds past
    the last due time; return planned and actual starts."""
    gave_up: float | None = None

    async def until_finished(worker: Any, dues: list[datetime]) -> None:
        nonlocal gave_up
        if give_up_after is None:
            await worker.run_until_finished()
            return
        limit = max(d.timestamp() for d in dues) + give_up_after
        running = asyncio.ensure_future(worker.run_until_finished())
        done, _ = await asyncio.wait([running], timeout=max(limit - time.time(), 0))
        if running in done:
            running.result()
            return
        gave_up = time.time()
        running.cancel()
        # A worker may turn the cancellation into a normal return; either way it is over.
        with suppress(asyncio.CancelledError):
            await running

    starts = [float("nan")] * n
    tick = _tick(starts)
    name = docket_name(bench, system)
    extra: dict[str, Any] = {} if concurrency is None else {"concurrency": concurrency}
    try:
        if system == "strew":
            import strew

            async with strew.Docket(name, url) as docket:
                docket.register(tick)
                began = time.perf_counter()
                dues = await schedule(docket, tick, n)
                scheduled = time.perf_counter() - began
                worker = strew.Worker(docket, **extra)
                began = time.perf_counter()
                await until_finished(worker, dues)
                ran = time.perf_counter() - began
        else:
            import docket as pydocket

            async with pydocket.Docket(name, pydocket_url(url)) as theirs:
                theirs.register(tick)
                began = time.perf_counter()
                dues = await schedule(theirs, tick, n)
                scheduled = time.perf_counter() - began
                async with pydocket.Worker(theirs, **extra) as other:
                    began = time.perf_counter()
                    await until_finished(other, dues)
                    ran = time.perf_counter() - began
    finally:
        await forget(url, name)
    timed = Timed([d.timestamp() for d in dues], starts, scheduled, ran, gave_up)
    if timed.unstarted and gave_up is None:
        raise RuntimeError(f"{system}: {timed.unstarted} of {n} tasks never ran")
    return timed
