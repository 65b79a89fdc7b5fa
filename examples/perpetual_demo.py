"""Perpetual and cron tasks, runnable: a countdown that passes itself new arguments, a
housekeeping task the worker starts on its own, and a peek at a cron schedule.

Uses the in-process store by default; point it at Redis with
``STREW_URL=redis://localhost:6379/0 .venv/bin/python examples/perpetual_demo.py``.
"""

# Dependency markers are calls in defaults by design (the pydocket spelling).

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime, timedelta

from strew import Cron, Docket, Perpetual, Worker

log: list[str] = []


async def countdown(
    n: int, perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=10))
) -> None:
    """Runs every 10 ms with one less each time, and ends its own chain at zero."""
    log.append(f"countdown {n}")
    if n == 0:
        perpetual.cancel()
    else:
        perpetual.perpetuate(n - 1)


async def housekeeping(
    perpetual: Perpetual = Perpetual(every=timedelta(milliseconds=20), automatic=True),
) -> None:
    """Nobody schedules this one: every worker makes sure its chain exists (key 'housekeeping')."""
    log.append("housekeeping")


OFFICE_HOURS = Cron("*/15 9-17 * * mon-fri", tz="Europe/Paris")


async def office_hours(cron: Cron = OFFICE_HOURS) -> None:
    """Every quarter of an hour, 9:00 to 17:45 Paris time, Monday to Friday. (An app would
    register it; the demo, which must end quickly, only previews its times.)"""
    log.append("office hours")  # pragma: no cover - not registered in the demo


def upcoming(cron: Cron, start: datetime, count: int) -> list[str]:
    """The next ``count`` times ``cron`` fires after ``start``: a dry run of the schedule."""
    times: list[str] = []
    when = start
    for _ in range(count):
        when = cron.next_after(when)
        times.append(when.isoformat())
    return times


async def main() -> dict[str, list[str]]:
    log.clear()
    url = os.environ.get("STREW_URL", "memory://perpetual-demo")
    name = f"perpetual-demo-{uuid.uuid4().hex[:8]}"
    async with Docket(name=name, url=url) as docket:
        try:
            docket.register(housekeeping)
            await docket.add(countdown, key="countdown")(3)
            async with Worker(docket) as worker:
                # Housekeeping would go on for ever: stop it after three runs.
                await worker.run_at_most({"housekeeping": 3})
        finally:
            await docket.store.destroy()
    friday_evening = datetime(2026, 3, 27, 17, 40, tzinfo=UTC)  # 18:40 in Paris
    return {
        "countdown": [line for line in log if line.startswith("countdown")],
        "housekeeping": [line for line in log if line == "housekeeping"],
        "office hours": upcoming(
            Cron("*/15 9-17 * * mon-fri", tz="Europe/Paris"), friday_evening, 3
        ),
    }


if __name__ == "__main__":
    for key, lines in asyncio.run(main()).items():
        print(f"{key}:")
        for line in lines:
            print(f"  {line}")
