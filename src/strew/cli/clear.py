"""``strew clear``: drop every scheduled task of a docket."""

from __future__ import annotations

import typer
from rich.console import Console

from strew.cli.common import (
    DEFAULT_DOCKET,
    EXIT_USAGE,
    NOBODY_TO_ASK,
    DocketOption,
    UrlOption,
    YesOption,
    fail,
    interactive,
    run,
    safe_url,
)
from strew.docket.docket import Docket
from strew.docket.settings import DEFAULT_URL


def clear(
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    yes: YesOption = False,
) -> None:
    """Drop every scheduled task of a docket. Running tasks finish; nothing else changes."""
    # Refused before the store is reached, as `strew cancel` does: dropping a whole docket
    # is the last thing to do on a guess, and a script learns at once that it needs --yes.
    if not yes and not interactive():
        fail(NOBODY_TO_ASK, EXIT_USAGE)
    run(_clear(url, docket, yes))


async def _clear(url: str, name: str, yes: bool) -> None:
    console = Console()
    async with Docket(name, url, load_arguments=False) as docket:
        if not yes:
            # Counting first makes the question concrete ("drop 12,000 tasks?"); the count
            # printed afterwards is what was actually dropped, which may differ slightly.
            taken = await docket.snapshot(0)
            scheduled = taken.total_tasks - len(taken.running)
            if scheduled == 0:
                console.print(f"Docket {name} at {safe_url(url)} has no scheduled tasks.")
                return
            typer.confirm(
                f"Drop all {scheduled:,} scheduled tasks of docket {name!r} at {safe_url(url)}?",
                abort=True,
            )
        dropped = await docket.clear()
    console.print(
        f"Dropped {dropped:,} scheduled task{'' if dropped == 1 else 's'} "
        f"from docket {name} at {safe_url(url)}.",
        soft_wrap=True,
    )
