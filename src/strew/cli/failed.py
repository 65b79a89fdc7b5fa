"""``strew failed``: the record of failed tasks, and retrying or forgetting them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

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
from strew.cli.render import clock, relative
from strew.docket.docket import Docket
from strew.docket.failures import MAX_LIMIT, Failure
from strew.docket.settings import DEFAULT_URL


def _printable(text: str) -> str:
    """Text that any terminal can take: what is not UTF-8 (lone surrogates) becomes ``?``."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def as_json(failure: Failure) -> dict[str, Any]:
    return {
        "key": failure.key,
        "task": failure.function_name,
        "error": failure.error_type,
        "message": failure.message,
        "attempt": failure.attempt,
        "failed_at": _moment(failure.failed_at),
        "retry_at": _moment(failure.retry_at),
        "running": failure.running,
        "traceback": failure.traceback,
    }


def failed(
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            envvar="STREW_LIMIT",
            metavar="N",
            min=1,
            max=MAX_LIMIT,
            help="List at most this many failures, the newest first.",
        ),
    ] = 100,
    as_json_document: Annotated[
        bool,
        typer.Option(
            "--json",
            envvar="STREW_JSON",
            help="Print one JSON document instead of a table (for scripts).",
        ),
    ] = False,
    retry: Annotated[
        list[str] | None,
        typer.Option(
            "--retry",
            envvar="STREW_RETRY",
            metavar="KEY",
            parser=task_key,
            help="Run this failed task again now, as a first attempt (repeat for several).",
        ),
    ] = None,
    retry_all: Annotated[
        bool,
        typer.Option(
            "--retry-all", envvar="STREW_RETRY_ALL", help="Run every failed task again now."
        ),
    ] = False,
    drop: Annotated[
        list[str] | None,
        typer.Option(
            "--drop",
            envvar="STREW_DROP",
            metavar="KEY",
            parser=task_key,
            help="Forget the failure of this task without running it (repeat for several).",
        ),
    ] = None,
    drop_all: Annotated[
        bool,
        typer.Option("--drop-all", envvar="STREW_DROP_ALL", help="Forget every failure."),
    ] = False,
    yes: YesOption = False,
) -> None:
    """List recently failed tasks (key, task, error, attempt, when, retrying at), newest
    first; or retry or forget them, by key or all. Says how many first and asks, unless
    --yes."""
    actions = [bool(retry), retry_all, bool(drop), drop_all]
    if sum(actions) > 1:
        fail("give one of --retry KEY, --retry-all, --drop KEY or --drop-all", EXIT_USAGE)
    if not any(actions):
        run(_list(url, docket, limit, as_json_document))
        return
    if not yes and not interactive():
        fail(NOBODY_TO_ASK, EXIT_USAGE)
    keys = None if retry_all or drop_all else list(dict.fromkeys(retry or drop or []))
    run(_act(url, docket, "retry" if retry or retry_all else "drop", keys, yes, as_json_document))


async def _list(url: str, name: str, limit: int, as_json_document: bool) -> None:
    where = f"docket {name} at {safe_url(url)}"
    async with Docket(name, url, load_arguments=False) as the_docket:
        found = await the_docket.failures(limit=limit)
        now = (await the_docket.snapshot(0)).taken
    if as_json_document:
        document = {"docket": name, "failures": [as_json(failure) for failure in found]}
        typer.echo(json.dumps(document))
        return
    console = Console()
    if not found:
        console.print(f"No task failed recently on {where}.", soft_wrap=True)
        return
    table = Table(title=f"Failed ({len(found):,}, newest first) on {where}", title_justify="left")
    table.add_column("Key", overflow="fold", min_width=8)
    table.add_column("Task", overflow="fold")
    table.add_column("Error", overflow="fold", min_width=20)
    table.add_column("Attempt", justify="right", no_wrap=True)
    table.add_column("When", no_wrap=True)
    table.add_column("Retrying at (UTC)", no_wrap=True)
    for failure in found:
        said = f"{failure.error_type}: {failure.message}" if failure.message else failure.error_type
        retrying = "running now" if failure.running else ""
        if failure.retry_at is not None:
            retrying = f"{clock(failure.retry_at)} ({relative(failure.retry_at, now)})"
        table.add_row(
            Text(_printable(failure.key)),
            Text(_printable(failure.function_name)),
            Text(_printable(said.splitlines()[0] if said else "")),
            str(failure.attempt),
            relative(failure.failed_at, now),
            retrying,
        )
    console.print(table)


async def _act(
    url: str, name: str, action: str, keys: list[str] | None, yes: bool, as_json_document: bool
) -> None:
    console = Console()
    where = f"docket {name} at {safe_url(url)}"
    async with Docket(name, url, load_arguments=False) as the_docket:
        recorded = {failure.key for failure in await the_docket.failures(limit=MAX_LIMIT)}
        count = len(recorded) if keys is None else len(recorded.intersection(keys))
        if not count and not as_json_document:
            console.print(f"None of those failures is recorded on {where}.", soft_wrap=True)
            return
        what = f"{count:,} failed task{'' if count == 1 else 's'}"
        if not yes and count:
            question = f"Run {what} again now" if action == "retry" else f"Forget {what}"
            typer.confirm(f"{question} on {where}?", abort=True)
        if action == "drop":
            dropped = await the_docket.drop_failed(keys)
            if as_json_document:
                typer.echo(json.dumps({"docket": name, "dropped": dropped}))
            else:
                console.print(f"Forgot {dropped:,} failure(s) on {where}.", soft_wrap=True)
            return
        outcomes = await the_docket.retry_failed(keys)
    if as_json_document:
        typer.echo(json.dumps({"docket": name, "retry": outcomes}))
        return
    tally = {
        kind: sum(1 for o in outcomes.values() if o == kind) for kind in set(outcomes.values())
    }
    parts = [
        f"{tally.get('retried', 0):,} retried",
        f"{tally.get('hastened', 0):,} already retrying, brought forward to now",
        f"{tally.get('busy', 0):,} running or held, left alone",
        f"{tally.get('missing', 0):,} not recorded",
    ]
    console.print(f"On {where}: " + "; ".join(parts) + ".", soft_wrap=True)
