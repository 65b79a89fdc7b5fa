"""``strew workers``: the live workers of a docket and the tasks each holds right now."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from strew.cli.common import DEFAULT_DOCKET, DocketOption, UrlOption, run, safe_url
from strew.cli.output import JsonOption, emit, snapshot_head, worker_json
from strew.cli.output import console as output_console
from strew.cli.render import clock, relative
from strew.docket.docket import Docket
from strew.docket.settings import DEFAULT_URL


def workers(
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    json_output: JsonOption = False,
) -> None:
    """List live workers: name, when each last sent a heartbeat, and the keys it holds."""
    run(_workers(url, docket, json_output))


async def _workers(url: str, name: str, json_output: bool) -> None:
    console = output_console()
    async with Docket(name, url, load_arguments=False) as the_docket:
        # Only the worker list is wanted: limit 0 skips reading any scheduled payload.
        taken = await the_docket.snapshot(0)
    now = taken.taken
    if json_output:
        listed = sorted(taken.workers, key=lambda w: w.name)
        emit(
            {**snapshot_head(name, safe_url(url), taken), "workers": list(map(worker_json, listed))}
        )
        return
    console.print(
        Text.assemble(
            ("Docket ", "bold"), (name, "bold cyan"), f" at {safe_url(url)}, {clock(now)}"
        ),
        soft_wrap=True,
    )
    if not taken.workers:
        # The usual causes, so whoever runs this at 3 a.m. knows where to look next.
        console.print(
            "No live workers: none has sent a heartbeat recently. Is `strew worker` running "
            "with the same --url and --docket?",
            soft_wrap=True,
        )
        return
    table = Table(title=f"Workers ({len(taken.workers):,})", title_justify="left")
    table.add_column("Name", overflow="fold")
    table.add_column("Last heartbeat")
    table.add_column("Holding", justify="right")
    table.add_column("Task keys", overflow="fold")
    for seen in sorted(taken.workers, key=lambda w: w.name):
        table.add_row(
            seen.name,
            relative(seen.last_seen, now),
            f"{len(seen.tasks):,}",
            ", ".join(sorted(seen.tasks)) or "-",
        )
    console.print(table)
