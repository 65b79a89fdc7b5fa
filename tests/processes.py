"""A worker in a process of its own, for tests that kill, signal or outlive it.

Run as ``python -m tests.processes DOCKET URL [--redelivery S] [--grace S]``: it registers
the tasks below and runs `Worker.run_forever` (SIGTERM and SIGINT stop it gracefully), with
its log on stderr so a test can see what it did.

The tasks leave their traces in files, one line per event, so a test in another process can
watch them: ``started <pid>`` when a run begins, ``finished <pid>`` when it ends.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from strew import ConcurrencyLimit, Docket, Worker

ROOT = Path(__file__).resolve().parent.parent


def record(marker: str, event: str) -> None:
    with open(marker, "a") as file:
        file.write(f"{event} {os.getpid()}\n")


def events(marker: Path) -> list[str]:
    """The events recorded in ``marker`` so far (without pids)."""
    if not marker.exists():
        return []
    return [line.split()[0] for line in marker.read_text().splitlines()]


async def block(marker: str) -> None:
    """Record the start, then never finish (until cancelled or killed)."""
    record(marker, "started")
    await asyncio.Event().wait()
    record(marker, "finished")  # pragma: no cover - never reached


async def wait_for_file(marker: str, go: str) -> None:
    """Record the start, finish once the file ``go`` exists."""
    record(marker, "started")
    # The signal comes from another process: a file is the simplest thing both can see.
    while not os.path.exists(go):  # noqa: ASYNC110, ASYNC240
        await asyncio.sleep(0.01)
    record(marker, "finished")


async def guarded(marker: str, n: int, limit: ConcurrencyLimit = ConcurrencyLimit(2)) -> None:
    """At most two at once, across every worker: record ``start``/``end`` with the time (a
    clock every process on this machine shares), run for a moment in between."""
    note(marker, f"start {n} {time.time():.6f} {os.getpid()}")
    await asyncio.sleep(0.03 + (n % 5) * 0.01)
    note(marker, f"end {n} {time.time():.6f} {os.getpid()}")


def note(marker: str, line: str) -> None:
    with open(marker, "a") as file:
        file.write(line + "\n")


def spawn(docket: str, url: str, *options: str, log: Path) -> subprocess.Popen[bytes]:
    """Start a worker process whose log goes to the file ``log``."""
    with open(log, "wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.processes", docket, url, *options],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("docket")
    parser.add_argument("url")
    parser.add_argument("--redelivery", type=float, default=60.0)
    parser.add_argument("--grace", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=4)
    options = parser.parse_args()
    async with Docket(options.docket, url=options.url) as docket:
        docket.register(block)
        docket.register(wait_for_file)
        docket.register(guarded)
        worker = Worker(
            docket,
            concurrency=options.concurrency,
            redelivery_timeout=timedelta(seconds=options.redelivery),
            shutdown_grace=timedelta(seconds=options.grace),
            reconnection_delay=timedelta(milliseconds=200),
            poll_ceiling=timedelta(milliseconds=200),
        )
        await worker.run_forever()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
    asyncio.run(main())
