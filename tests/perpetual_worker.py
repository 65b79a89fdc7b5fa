"""A worker process with one automatic perpetual task, for tests that kill it or its Redis.

Run as ``python -m tests.perpetual_worker DOCKET URL MARKER [--redelivery S]``. The task
``tick`` runs every 100 ms, taking 50 ms, and appends ``start <pid>`` and ``end <pid>`` to
the file MARKER, so a test in another process can see every run and whether two overlapped.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from strew import Docket, Perpetual, Worker

from .processes import ROOT, record

MARKER = ""


async def tick(
    perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=100), automatic=True),
) -> None:
    record(MARKER, "start")
    await asyncio.sleep(0.05)
    record(MARKER, "end")


def runs(marker: Path) -> list[tuple[str, int]]:
    """(event, pid) for each line of ``marker`` so far."""
    if not marker.exists():
        return []
    found: list[tuple[str, int]] = []
    for line in marker.read_text().splitlines():
        event, pid = line.split()
        found.append((event, int(pid)))
    return found


def spawn(docket: str, url: str, marker: Path, *options: str, log: Path) -> subprocess.Popen[bytes]:
    with open(log, "wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.perpetual_worker", docket, url, str(marker), *options],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )


async def main() -> None:
    global MARKER
    parser = argparse.ArgumentParser()
    parser.add_argument("docket")
    parser.add_argument("url")
    parser.add_argument("marker")
    parser.add_argument("--redelivery", type=float, default=60.0)
    options = parser.parse_args()
    MARKER = options.marker
    async with Docket(options.docket, url=options.url) as docket:
        docket.register(tick)
        worker = Worker(
            docket,
            redelivery_timeout=timedelta(seconds=options.redelivery),
            reconnection_delay=timedelta(milliseconds=200),
            poll_ceiling=timedelta(milliseconds=200),
            shutdown_grace=timedelta(seconds=5),
        )
        await worker.run_forever()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
    asyncio.run(main())
