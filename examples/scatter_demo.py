"""strew's main job, on the in-process memory store: flatten a flood.

300 "re-sync this customer" tasks are found at once. Instead of calling the API 300 times in
the same second, an Agenda scatters them over 10 seconds with a little jitter; a worker in
this same process runs each one when it is due. The live chart shows, for every half-second
slice of the window, how many tasks the plan put there (grey) and how many actually started
there (green): the flood is gone, the load is flat.

Run it with ``scripts/demo`` (or ``.venv/bin/python examples/scatter_demo.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from strew import Agenda, Docket, Worker

started_at: dict[int, float] = {}


async def resync_customer(customer_id: int) -> None:
    """Stands in for one call to a rate-limited API."""
    started_at[customer_id] = time.time()
    await asyncio.sleep(0.01)


def chart(
    planned: Counter[int], actual: Counter[int], slices: int, slice_s: float, title: str
) -> Table:
    table = Table(title=title, show_edge=False, pad_edge=False, box=None)
    table.add_column("t (s)", justify="right", style="dim")
    table.add_column("planned  vs  started", no_wrap=True)
    table.add_column("plan", justify="right", style="dim")
    table.add_column("ran", justify="right", style="green")
    top = max([*planned.values(), *actual.values(), 1])
    width = 40
    for i in range(slices):
        plan_bar = round(planned[i] / top * width)
        ran_bar = round(actual[i] / top * width)
        bar = Text()
        bar.append("█" * ran_bar, style="green")
        if plan_bar > ran_bar:
            bar.append("░" * (plan_bar - ran_bar), style="grey50")
        table.add_row(f"{i * slice_s:4.1f}", bar, str(planned[i]), str(actual[i] or ""))
    return table


async def main(count: int = 300, seconds: float = 10.0, live: bool = True) -> dict[str, float]:
    console = Console()
    slice_s = 0.5
    slices = int(seconds / slice_s) + 1
    started_at.clear()
    async with Docket(name="demo", url="memory://demo") as docket:
        agenda = Agenda()
        for customer_id in range(count):
            agenda.add(resync_customer)(customer_id)

        start = datetime.now(UTC) + timedelta(milliseconds=300)
        over = timedelta(seconds=seconds)
        console.print(
            f"[bold]Found {count} customers to re-sync.[/] Scattering them over "
            f"{seconds:g} s (jitter ±100 ms) instead of calling the API {count} times at once."
        )
        executions = await agenda.scatter(
            docket, over=over, start=start, jitter=timedelta(milliseconds=100), seed=7
        )
        due = {int(e.args[0]): e.when.timestamp() for e in executions}
        origin = start.timestamp()
        planned = Counter(min(int((t - origin) / slice_s), slices - 1) for t in due.values())

        async with Worker(docket, concurrency=20) as worker:
            run = asyncio.create_task(worker.run_until_finished())

            def picture() -> Group:
                actual = Counter(
                    min(int((t - origin) / slice_s), slices - 1) for t in started_at.values()
                )
                title = f"tasks per {slice_s:g} s slice — {len(started_at)}/{count} started"
                return Group(chart(planned, actual, slices, slice_s, title))

            if live:
                with Live(picture(), console=console, refresh_per_second=8) as screen:
                    while not run.done():
                        screen.update(picture())
                        await asyncio.sleep(0.125)
                    screen.update(picture())
                console.print()  # a terminal that is not a TTY gets no newline after the chart
            await run

    lateness = sorted((started_at[c] - due[c]) * 1000 for c in due)
    actual = Counter(min(int((t - origin) / slice_s), slices - 1) for t in started_at.values())
    mean = count / (seconds / slice_s)
    summary = {
        "tasks": float(len(started_at)),
        "p50_late_ms": statistics.median(lateness),
        "p99_late_ms": lateness[int(len(lateness) * 0.99) - 1],
        "peak_over_mean": max(actual.values()) / mean,
    }
    if not live:
        console.print(chart(planned, actual, slices, slice_s, "tasks per slice"))
    console.print(
        f"[bold green]{len(started_at)}/{count} ran.[/] Start lateness p50 "
        f"{summary['p50_late_ms']:.1f} ms, p99 {summary['p99_late_ms']:.1f} ms; busiest "
        f"half-second held {max(actual.values())} tasks against a mean of {mean:.1f} — "
        f"without the scatter all {count} would have started in the first one."
    )
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-live", action="store_true", help="print the chart once at the end")
    options = parser.parse_args()
    asyncio.run(main(options.count, options.seconds, live=not options.no_live))
