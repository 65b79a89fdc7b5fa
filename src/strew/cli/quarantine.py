"""``strew quarantine``: tasks a worker moved aside because their payload could not be read."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from strew.cli.common import (
    DEFAULT_DOCKET,
    EXIT_USAGE,
    DocketOption,
    UrlOption,
    fail,
    run,
    safe_url,
    task_key,
)
from strew.cli.render import clock, relative
from strew.docket.docket import Docket
from strew.docket.settings import DEFAULT_URL


def quarantine(
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    drop: Annotated[
        list[str] | None,
        typer.Option(
            "--drop",
            envvar="STREW_DROP",
            metavar="KEY",
            parser=task_key,
            help="Delete this quarantined task for good (repeat for several).",
        ),
    ] = None,
    drop_all: Annotated[
        bool,
        typer.Option(
            "--drop-all",
            envvar="STREW_DROP_ALL",
            help="Delete every quarantined task for good.",
        ),
    ] = False,
) -> None:
    """List tasks whose payload could not be read (key, reason, when, size), or drop them."""
    if drop and drop_all:
        fail("give --drop KEY or --drop-all, not both", EXIT_USAGE)
    run(_quarantine(url, docket, drop or [], drop_all))


async def _quarantine(url: str, name: str, drop: list[str], drop_all: bool) -> None:
    console = Console()
    where = f"docket {name} at {safe_url(url)}"
    async with Docket(name, url, load_arguments=False) as the_docket:
        if drop_all or drop:
            dropped = await (
                the_docket.clear_quarantine() if drop_all else the_docket.drop_quarantined(drop)
            )
            console.print(
                f"Dropped {dropped:,} quarantined task{'' if dropped == 1 else 's'} from {where}.",
                soft_wrap=True,
            )
            missing = len(set(drop)) - dropped
            if drop and missing > 0:
                fail(f"{missing} of the keys given were not in the quarantine of {where}")
            return
        tasks = await the_docket.quarantined()
        now = (await the_docket.snapshot(0)).taken
    if not tasks:
        console.print(f"The quarantine of {where} is empty.", soft_wrap=True)
        return
    table = Table(title=f"Quarantined ({len(tasks):,}) in {where}", title_justify="left")
    table.add_column("Key", overflow="fold", min_width=8)
    table.add_column("Quarantined at (UTC)", no_wrap=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Bytes", justify="right", no_wrap=True)
    table.add_column("Reason", overflow="fold", min_width=20)
    for task in tasks:
        table.add_row(
            task.key,
            clock(task.quarantined_at),
            relative(task.quarantined_at, now),
            f"{task.payload_size:,}",
            Text(task.reason),
        )
    console.print(table)
