"""Running the field: which libraries are here, a private Redis, worker processes, start times.

Every script runs each library in turn on one private redis-server of its own (never the
machine's shared one), ``FLUSHDB`` before each library's turn (on that private server only),
rotating the order from one run to the next, and keeps the 1-minute load average read at the
end of each measurement beside its figure.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import redis

from bench import common
from bench.field import record

REPO = common.BENCH_DIR.parent
LIBRARIES = ["strew", "huey", "dramatiq", "streaq", "arq", "rq", "celery", "saq", "taskiq"]
IMPORT_NAME = {"taskiq": "taskiq_redis"}
NOT_IN_EXTRA = {
    "arq": "every arq release pins redis-py < 6 and strew needs 8, so arq is not in the bench "
    "extra; `.venv/bin/pip install --no-deps arq` puts it beside them (see bench/README.md)"
}


class Skipped(Exception):
    """A library cannot be measured here; the message says why."""


def parser(description: str) -> argparse.ArgumentParser:
    p = common.parser(description)
    p.add_argument("--only", nargs="+", choices=LIBRARIES, default=LIBRARIES, metavar="LIBRARY")
    p.add_argument("--skip", nargs="+", choices=LIBRARIES, default=[], metavar="LIBRARY")
    return p


def check_args(args: argparse.Namespace) -> None:
    if args.url is not None:
        sys.exit(
            "the field scripts FLUSHDB between runs, so they only ever run on a redis-server "
            "of their own: drop --url"
        )


def missing(library: str) -> str | None:
    """Why ``library`` cannot run here, or None."""
    if importlib.util.find_spec(IMPORT_NAME.get(library, library)) is None:
        return NOT_IN_EXTRA.get(library) or (
            f"{library} is not installed here (.venv/bin/pip install -e '.[bench]')"
        )
    return None


def adapter(library: str) -> ModuleType:
    return importlib.import_module(f"bench.field.{library}")


def executable(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise Skipped(f"{name} command not found beside {sys.executable}")
    return str(path)


def chosen(args: argparse.Namespace) -> list[str]:
    """The libraries to run, in the order given; the ones missing are printed and left out."""
    out = []
    for library in args.only:
        if library in args.skip:
            continue
        reason = missing(library)
        if reason:
            print(f"skipping {library}: {reason}", flush=True)
        else:
            out.append(library)
    return out


def versions(libraries: Sequence[str]) -> dict[str, str]:
    """The installed version of each library measured (for the results file)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for library in libraries:
        for package in [library, *(["taskiq-redis"] if library == "taskiq" else [])]:
            try:
                out[package] = version(package)
            except PackageNotFoundError:
                out[package] = "?"
    return out


def rotated(items: Sequence[str], run: int) -> list[str]:
    """Run ``run``'s order: each library goes first in turn, so none always follows another."""
    k = run % len(items) if items else 0
    return [*items[k:], *items[:k]]


@contextmanager
def private_redis() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port; its URL is also ``FIELD_URL`` for
    this process and every worker it starts."""
    with common.redis_server(None) as url:
        os.environ[record.URL_VARIABLE] = url
        try:
            yield url
        finally:
            os.environ.pop(record.URL_VARIABLE, None)


def flush(url: str) -> None:
    """FLUSHDB on our private server (the only URL this package ever gets)."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def load() -> float:
    return os.getloadavg()[0]


class Worker:
    """A library's worker command as a subprocess, its output kept in a file for errors."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        # Kept open for the process's life and closed in stop(), so no `with` here.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="field-worker-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def tail(self, lines: int = 15) -> str:
        text = Path(self.log.name).read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def check(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{Path(self.command[0]).name} exited with {self.process.returncode}:\n"
                + self.tail()
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(15)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@contextmanager
def worker(module: ModuleType, concurrency: int) -> Iterator[Worker]:
    running = Worker(module.worker_command(concurrency))
    try:
        yield running
    finally:
        running.stop()


async def starts(
    url: str, wanted: Callable[[dict[int, float]], bool], until: float, running: Worker
) -> dict[int, float]:
    """Task index -> start time (epoch s), read from Redis every 10 ms until ``wanted`` says
    enough or the clock passes ``until`` (then what there is)."""
    client = redis.asyncio.Redis.from_url(url)
    seen: dict[int, float] = {}
    read = 0
    try:
        while True:
            entries = await client.lrange(record.KEY, read, -1)
            read += len(entries)
            for entry in entries:
                i, t = entry.split(b":")
                seen.setdefault(int(i), float(t))
            if wanted(seen) or time.time() > until:
                return seen
            running.check()
            await asyncio.sleep(0.01)
    finally:
        await client.aclose()


async def ready(url: str, module: ModuleType, running: Worker, timeout: float = 60) -> None:
    """Wait until the worker runs a task (index -1, enqueued now): it is up and polling."""
    async with module.producer() as enqueue:
        await enqueue([-1], None)
    seen = await starts(url, lambda s: -1 in s, time.time() + timeout, running)
    if -1 not in seen:
        raise RuntimeError(f"the worker ran nothing within {timeout:.0f} s:\n{running.tail()}")
    client = redis.Redis.from_url(url)
    try:
        client.delete(record.KEY)
    finally:
        client.close()


# -- the tables --------------------------------------------------------------------------------


def summarise(
    runs: dict[str, list[dict[str, Any]]], key: str
) -> dict[str, dict[str, float | int | None]]:
    """Per label: the median of ``key`` over the runs that measured it, the median load
    average of those runs, and how many failed."""
    out: dict[str, dict[str, float | int | None]] = {}
    for label, results in runs.items():
        good = [r for r in results if "error" not in r]
        out[label] = {
            "median": common.median([r[key] for r in good]) if good else None,
            "load": common.median([r["load"] for r in good]) if good else None,
            "runs": len(good),
            "failed": len(results) - len(good),
        }
    return out


def field_table(
    title: str,
    medians: dict[str, dict[str, float | int | None]],
    unit: str,
    strew_label: str,
    better: str = "higher",
) -> str:
    """One row per library: its median, the load beside it, strew's advantage over it."""
    base = medians.get(strew_label, {}).get("median")
    header = ("library", "median", "load (1 min)", f"{strew_label} advantage", "runs")
    lines = []
    for label, m in medians.items():
        value = m["median"]
        advantage = "-"
        if base is not None and value is not None and label != strew_label:
            r = common.ratio(float(base), float(value))
            r = r if better == "higher" else common.ratio(float(value), float(base))
            advantage = f"{r:.1f}x"
        lines.append(
            (
                label,
                "failed" if value is None else common.fmt(float(value), unit),
                "-" if m["load"] is None else f"{float(m['load']):.1f}",
                advantage,
                f"{m['runs']}" + (f" ({m['failed']} failed)" if m["failed"] else ""),
            )
        )
    return common.text_table(title, header, lines)


def attempt(label: str, run: int, runs: dict[str, list[dict[str, Any]]], result: Any) -> None:
    """Keep one measurement (or its failure, printed, never raised)."""
    runs.setdefault(label, []).append(result)
    if "error" in result:
        print(f"  run {run + 1} {label}: FAILED {result['error']}", flush=True)
