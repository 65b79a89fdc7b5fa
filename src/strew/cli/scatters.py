"""``strew scatters``: the scatters a docket keeps, and one of them drawn over its window.

``strew scatters`` lists them, newest first (id, task, size, window, waiting, started);
``strew scatters ID`` draws the scatter's planned and started tasks per slice, as the terminal
histogram of ``strew scatter``. ``--json`` prints the same for scripts.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from strew.cli.common import DEFAULT_DOCKET, DocketOption, UrlOption, run, safe_url
from strew.cli.output import JsonOption
from strew.cli.render import clock, histogram, offset_labels, short_clock
from strew.docket.docket import Docket
from strew.docket.scatters import MAX_SLICES, ScatterInfo, ScatterProgress
from strew.docket.settings import DEFAULT_URL


def scatters(
    scatter_id: Annotated[
        str | None,
        typer.Argument(
            envvar="STREW_SCATTER", help="A scatter's id: draw it planned against started."
        ),
    ] = None,
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    limit: Annotated[
        int,
        typer.Option(min=1, envvar="STREW_LIMIT", help="The most scatters listed (newest first)."),
    ] = 20,
    slices: Annotated[
        int,
        typer.Option(
            min=1, max=MAX_SLICES, envvar="STREW_SLICES", help="Slices of the window drawn for one."
        ),
    ] = 20,
    as_json: JsonOption = False,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact",
            envvar="STREW_EXACT",
            help="Count every task of a scatter over 10,000 (default: a sample).",
        ),
    ] = False,
) -> None:
    """List the scatters a docket keeps, or draw one: planned and started per slice."""
    run(_scatters(url, docket, scatter_id, limit, slices, as_json, exact))


async def _scatters(
    url: str,
    name: str,
    scatter_id: str | None,
    limit: int,
    slices: int,
    as_json: bool,
    exact: bool = False,
) -> None:
    console = Console(soft_wrap=as_json)
    async with Docket(name, url, load_arguments=False) as the_docket:
        if scatter_id is None:
            found = await the_docket.scatters(limit)
            drawn = [await the_docket.scatter_progress(s, 1, exact=exact) for s in found]
        else:
            progress = await the_docket.scatter_progress(scatter_id, slices, exact=exact)
    if scatter_id is not None:
        if progress is None:
            console.print(
                f"No scatter {scatter_id!r} on docket {name!r}: unknown, expired, or written "
                "by a strew that did not list scatters.",
                soft_wrap=True,
            )
            raise typer.Exit(1)
        if as_json:
            print(json.dumps(_progress_json(progress)))
        else:
            console.print(_drawn(progress))
        return
    rows = list(zip(found, drawn, strict=True))
    if as_json:
        print(json.dumps([_row_json(info, p) for info, p in rows]))
        return
    console.print(
        Text.assemble(("Docket ", "bold"), (name, "bold cyan"), f" at {safe_url(url)}"),
        soft_wrap=True,
    )
    if not rows:
        console.print("No scatters listed (they are kept until their window ends).")
        return
    table = Table(title=f"Scatters ({len(rows):,})", title_justify="left")
    for column in ("Id", "Task", "Size", "Window", "Waiting", "Started"):
        table.add_column(
            column, justify="right" if column in ("Size", "Waiting", "Started") else "left"
        )
    for info, p in rows:
        waiting = "-" if p is None else f"{p.waiting_total:,}"
        started = "-" if p is None else f"{p.started_total:,}"
        if info.cancelled is not None:
            waiting = f"cancelled {short_clock(info.cancelled, info.cancelled)}"
        table.add_row(
            info.id,
            info.task,
            f"{info.size:,}",
            f"{clock(info.start)} → {short_clock(info.end, info.start)}",
            waiting,
            started,
        )
    console.print(table)


def _row_json(info: ScatterInfo, progress: ScatterProgress | None) -> dict[str, Any]:
    return {
        "id": info.id,
        "task": info.task,
        "size": info.size,
        "written": info.written,
        "start": info.start.isoformat(),
        "end": info.end.isoformat(),
        "created": info.created.isoformat(),
        "mode": info.mode,
        "cancelled": None if info.cancelled is None else info.cancelled.isoformat(),
        "waiting": None if progress is None else progress.waiting_total,
        "started": None if progress is None else progress.started_total,
        "exact": None if progress is None else progress.exact,
    }


def _progress_json(progress: ScatterProgress) -> dict[str, Any]:
    return {
        **_row_json(progress.scatter, progress),
        "expected_end": None
        if progress.expected_end is None
        else progress.expected_end.isoformat(),
        "slices": [
            {"start": at.isoformat(), "planned": p, "waiting": w, "started": s}
            for at, p, w, s in zip(
                progress.slice_starts,
                progress.planned,
                progress.waiting,
                progress.started,
                strict=True,
            )
        ],
    }


def _drawn(progress: ScatterProgress) -> Group:
    info = progress.scatter
    labels = offset_labels(info.start, info.end, len(progress.planned))
    ending = (
        "nothing waits"
        if progress.expected_end is None
        else f"expected to end {clock(progress.expected_end)}"
    )
    head = Text.assemble(
        ("Scatter ", "bold"),
        (info.id, "bold cyan"),
        f": {info.size:,} × {info.task}, {clock(info.start)} → {clock(info.end)}; "
        f"{progress.started_total:,} started, {progress.waiting_total:,} waiting, {ending}"
        + ("; cancelled" if info.cancelled is not None else "")
        + ("" if progress.exact else " (estimated from a sample; --exact counts every task)"),
    )
    return Group(
        head,
        histogram(progress.planned, labels, title="Planned", style="cyan"),
        histogram(progress.started, labels, title="Started", style="green"),
    )
