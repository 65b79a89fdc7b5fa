"""Results and progress, runnable: wait for a task's return value, catch its exception,
and read its progress from a second `Docket` (as another process would).

Uses the in-process store by default; point it at Redis with
``STREW_URL=redis://localhost:6379/0 .venv/bin/python examples/results_demo.py``
and, while it runs, ``strew watch report-2024 --docket <the name it prints>`` in a terminal.
"""

# Dependency markers are calls in defaults by design (the pydocket spelling).

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta

from strew import Docket, ExecutionState, Progress, Worker


async def build_report(year: int, progress: Progress = Progress()) -> dict[str, int]:
    """Pretends to read twelve months of data, reporting each one."""
    await progress.set_total(12)
    for month in range(1, 13):
        await progress.set_message(f"reading {year}-{month:02d}")
        await asyncio.sleep(0.005)
        await progress.increment()
    return {"year": year, "months": 12}


async def parse_invoice(text: str) -> int:
    return int(text)  # "twelve" raises ValueError, which the caller gets back


async def main() -> list[str]:
    url = os.environ.get("STREW_URL", "memory://results-demo")
    name = f"results-demo-{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    # Anyone who knows the key can look: here a second Docket object on the same store.
    async with (
        Docket(name, url, execution_ttl=timedelta(minutes=5)) as docket,
        Docket(name, url) as onlooker,
    ):
        try:
            report = await docket.add(build_report, key="report-2024")(2024)
            invoice = await docket.add(parse_invoice)("twelve")
            state = await report.sync()  # nothing has run yet
            lines.append(f"report is {state.value if state else 'unknown'}")

            async with Worker(docket) as worker:
                running = asyncio.create_task(worker.run_until_finished())
                lines.append(f"report returned {await report.get_result(timeout=30)}")
                try:
                    await invoice.get_result(timeout=30)
                except ValueError as error:
                    lines.append(f"invoice raised ValueError: {error}")
                await running

            seen = await onlooker.get_execution("report-2024")
            assert seen is not None and seen.state is ExecutionState.COMPLETED
            assert seen.progress is not None
            lines.append(
                f"onlooker sees {seen.state.value}, progress "
                f"{seen.progress.current}/{seen.progress.total}: {seen.progress.message}"
            )
        finally:
            await docket.store.destroy()
    return lines


if __name__ == "__main__":
    for line in asyncio.run(main()):
        print(line)
