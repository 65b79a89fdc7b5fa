"""What an operator's page reads of a docket: its scatters, one drawn planned against started,
the live workers' reports, and start lateness over time (docs/agenda.md, docs/workers.md).

    python examples/readmodel_demo.py
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from strew import Agenda, Docket, Worker


async def send_reminder(customer: int) -> None:
    await asyncio.sleep(0)


async def main() -> dict[str, Any]:
    async with Docket("readmodel-demo", url="memory://readmodel-demo") as docket:
        agenda = Agenda()
        for customer in range(100):
            agenda.add(send_reminder)(customer)
        start = datetime.now(UTC) + timedelta(minutes=1)
        await agenda.scatter(docket, over=timedelta(minutes=1), start=start)

        [scatter] = await docket.scatters(limit=20)  # newest first
        print(scatter.id, scatter.task, scatter.size, scatter.start, scatter.end)

        async with Worker(docket, name="demo-worker", concurrency=8) as worker:
            await worker.upkeep.beat()  # what a running worker does every heartbeat_interval
            workers = await docket.workers()

        progress = await docket.scatter_progress(scatter.id, slices=6)
        assert progress is not None
        for at, planned, started in zip(
            progress.slice_starts, progress.planned, progress.started, strict=True
        ):
            print(f"{at:%H:%M:%S}  planned {planned:3}  started {started:3}")
        print("expected to end", progress.expected_end)
        for seen in workers:
            print(seen.name, seen.host, seen.pid, seen.concurrency, seen.running, seen.done)
        points = await docket.punctuality(since=datetime.now(UTC) - timedelta(hours=1))
        return {
            "task": scatter.task,
            "size": scatter.size,
            "planned": progress.planned,
            "waiting": progress.waiting_total,
            "workers": [(w.name, w.concurrency) for w in workers],
            "points": len(points),
        }


if __name__ == "__main__":
    print(asyncio.run(main()))
