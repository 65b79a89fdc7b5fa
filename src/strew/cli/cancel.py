"""``strew cancel``: cancel tasks by key, or what is left of a scatter by its id."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from strew.agenda.agenda import Agenda, check_scatter_id
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
    task_key,
)
from strew.docket.docket import Docket
from strew.docket.settings import DEFAULT_URL


def _keys(values: list[str] | None) -> list[str]:
    return [task_key(value) for value in values or []]


def cancel(
    keys: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="KEY",
            envvar="STREW_KEYS",
            show_default=False,
            help="The keys of the tasks to cancel (STREW_KEYS: separated by spaces).",
        ),
    ] = None,
    scatter: Annotated[
        str | None,
        typer.Option(
            "--scatter",
            envvar="STREW_SCATTER",
            metavar="ID",
            help="Cancel every task of this scatter that has not started (the id "
            "`strew scatter` and `Agenda.scatter` give).",
        ),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    yes: YesOption = False,
) -> None:
    """Cancel tasks: scheduled ones are removed (and held ones), running ones are asked to
    stop. Says how many first and asks, unless --yes."""
    checked = _keys(keys)
    if bool(checked) == (scatter is not None):
        fail("give the keys of the tasks to cancel, or --scatter ID, not both", EXIT_USAGE)
    if scatter is not None:
        try:
            scatter = check_scatter_id(scatter)
        except (TypeError, ValueError) as error:
            fail(f"--scatter: {error}", EXIT_USAGE)
    if not yes and not interactive():
        fail(NOBODY_TO_ASK, EXIT_USAGE)
    if scatter is not None:
        run(_cancel_scatter(url, docket, scatter, yes))
    else:
        run(_cancel_keys(url, docket, checked, yes))


async def _cancel_keys(url: str, name: str, keys: list[str], yes: bool) -> None:
    console = Console()
    where = f"docket {name} at {safe_url(url)}"
    async with Docket(name, url, load_arguments=False) as the_docket:
        unique = list(dict.fromkeys(keys))
        waiting = running = 0
        for key in unique:
            state = await the_docket.store.task_state(key)
            waiting += state.scheduled is not None or state.held is not None
            running += state.running is not None
        if waiting + running == 0:
            console.print(f"None of the {len(unique):,} keys is scheduled or running on {where}.")
            return
        what = f"{waiting:,} waiting and {running:,} running of {len(unique):,} keys"
        if not yes:
            typer.confirm(f"Cancel {what} on {where}?", abort=True)
        for key in unique:
            await the_docket.cancel(key)
    console.print(f"Cancelled {what} on {where} (running ones are asked to stop).", soft_wrap=True)


async def _cancel_scatter(url: str, name: str, scatter_id: str, yes: bool) -> None:
    console = Console()
    where = f"docket {name} at {safe_url(url)}"
    async with Docket(name, url, load_arguments=False) as the_docket:
        if not yes:
            # The store keeps a scatter's members, not a count of those still waiting:
            # how many were removed is said once they are.
            typer.confirm(
                f"Cancel every task of scatter {scatter_id!r} that has not started, on {where}?",
                abort=True,
            )
        removed = await Agenda.cancel(the_docket, scatter_id)
    tasks = f"{removed:,} task{'' if removed == 1 else 's'}"
    why = " (none was waiting: an unknown id, or its window ended)" if not removed else ""
    console.print(f"Cancelled {tasks} of scatter {scatter_id} on {where}{why}.", soft_wrap=True)
