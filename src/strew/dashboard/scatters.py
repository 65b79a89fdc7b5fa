"""The front page, "Scatters": each scatter the docket still keeps, newest first, and a page
per scatter drawing it over its window (planned against started), with its cancel action
(a GET draws the confirmation, its POST cancels, as every dashboard action does)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from strew.agenda.agenda import Agenda, check_scatter_id
from strew.dashboard.charts import planned_started
from strew.dashboard.html import Context, action_button, duration, table, text, when
from strew.docket.docket import Docket
from strew.docket.scatters import PROGRESS_SAMPLE, ScatterInfo, ScatterProgress

LISTED = 50
"""Scatters listed on the front page (the newest)."""
PROGRESS_LISTED = 10
"""Of those, how many (the newest not cancelled) have their progress read: each read looks
at up to 10,000 of the scatter's tasks, so the rest show a link to their page instead."""
SLICES = 60
"""Slices a scatter's page draws."""
PROGRESS_AT_ONCE = 2


@dataclass(frozen=True, slots=True)
class Listing:
    scatters: list[ScatterInfo]
    progress: dict[str, ScatterProgress | None]
    """The progress read of the newest scatters not cancelled (see `PROGRESS_LISTED`)."""


async def read_list(docket: Docket, params: dict[str, str]) -> Listing:
    found = await docket.scatters(LISTED)
    shown = [s for s in found if s.cancelled is None][:PROGRESS_LISTED]
    gate = asyncio.Semaphore(PROGRESS_AT_ONCE)

    async def progress(scatter: ScatterInfo) -> ScatterProgress | None:
        async with gate:
            return await docket.scatter_progress(scatter, SLICES)

    read = await asyncio.gather(*(progress(s) for s in shown))
    return Listing(found, {s.id: p for s, p in zip(shown, read, strict=True)})


def scatter_url(ctx: Context, scatter_id: str) -> str:
    return f"{ctx.base}/scatters/{quote(scatter_id, safe='')}"


def scatter_link(ctx: Context, scatter_id: str) -> str:
    return f'<a class="key" href="{text(scatter_url(ctx, scatter_id))}">{text(scatter_id)}</a>'


def window(scatter: ScatterInfo) -> str:
    """``12-07 22:30:57 to 22:50:57`` (UTC; the day again when it ends on another)."""
    start, end = scatter.start.astimezone(UTC), scatter.end.astimezone(UTC)
    until = f"{end:%H:%M:%S}" if start.date() == end.date() else f"{end:%Y-%m-%d %H:%M:%S}"
    return text(f"{start:%Y-%m-%d %H:%M:%S} to {until}")


def counts(
    progress: ScatterProgress | None, scatter: ScatterInfo, now: datetime
) -> tuple[str, str, str]:
    """Waiting, started and expected end, as cells."""
    if scatter.cancelled is not None:
        return "0", '<span class="muted">-</span>', '<span class="muted">cancelled</span>'
    if progress is None:
        elsewhere = '<span class="muted">on its page</span>'
        return elsewhere, elsewhere, ""
    approx = "" if progress.exact else "~"
    end = progress.expected_end
    return (
        f"{approx}{progress.waiting_total:,}",
        f"{approx}{progress.started_total:,}",
        "done" if end is None else when(end, now),
    )


def draw_list(ctx: Context, found: Listing) -> str:
    rows = []
    for scatter in found.scatters:
        waiting, started, end = counts(found.progress.get(scatter.id), scatter, ctx.now)
        cancelled = (
            f'<span class="state cancelled">cancelled</span> {when(scatter.cancelled, ctx.now)}'
            if scatter.cancelled is not None
            else ""
        )
        rows.append(
            [
                scatter_link(ctx, scatter.id),
                text(scatter.task),
                f"{scatter.size:,}",
                window(scatter),
                when(scatter.created, ctx.now),
                text(scatter.mode),
                waiting,
                started,
                end,
                cancelled,
            ]
        )
    listed = (
        '<div class="compact">'
        + table(
            [
                "Scatter",
                "Task",
                "Size",
                "Window (UTC)",
                "Created",
                "Mode",
                "Waiting",
                "Started",
                "Expected end",
                "",
            ],
            rows,
            "No scatter is kept: none was written with this listing, or every one's window ended "
            "more than an hour ago (Agenda.members_grace).",
        )
        + "</div>"
    )
    note = (
        f'<p class="muted">The newest {len(found.scatters):,}; waiting and started are read for '
        f"the newest {PROGRESS_LISTED} not cancelled (the others on their page); ~ marks an "
        f"estimate from {PROGRESS_SAMPLE:,} of a scatter's tasks.</p>"
        if found.scatters
        else ""
    )
    return listed + note


def checked_id(value: object) -> str:
    """A scatter id from the URL or a form: a clean 400 naming what is wrong otherwise."""
    if value is None:
        raise HTTPException(400, "id is required")
    try:
        return check_scatter_id(value)
    except (TypeError, ValueError) as error:
        raise HTTPException(400, str(error)) from None


async def read_one(docket: Docket, scatter_id: str) -> ScatterProgress | None:
    return await docket.scatter_progress(scatter_id, SLICES)


def draw_one(ctx: Context, scatter_id: str, progress: ScatterProgress | None) -> str:
    if progress is None:
        return (
            f'<p class="empty">No scatter <code>{text(scatter_id)}</code> is kept: it is '
            "unknown, its window ended more than an hour ago, or a strew before the listing "
            "wrote it.</p>"
        )
    scatter = progress.scatter
    flag = (
        ""
        if progress.exact
        else f' <span class="flag">estimated from {PROGRESS_SAMPLE:,} tasks</span>'
    )
    end = progress.expected_end
    items = [
        ("Task", text(scatter.task)),
        ("Size", f"{scatter.size:,} planned, {scatter.written:,} written"),
        ("Window", window(scatter)),
        ("Created", when(scatter.created, ctx.now)),
        ("Mode", text(scatter.mode)),
        ("Waiting", f"{progress.waiting_total:,}{flag}"),
        ("Started", f"{progress.started_total:,}"),
        ("Expected end", "nothing waits" if end is None else when(end, ctx.now)),
    ]
    if scatter.cancelled is not None:
        gone = when(scatter.cancelled, ctx.now)
        items.append(("Cancelled", f'<span class="state cancelled">{gone}</span>'))
    listing = "".join(f"<dt>{text(name)}</dt><dd>{value}</dd>" for name, value in items)
    legend = (
        '<p class="legend"><span>outlined: planned</span><span>filled: started</span>'
        f"<span>{SLICES} slices of {text(duration(progress.slice_width))}</span></p>"
    )
    chart = planned_started(
        progress.planned, progress.started, progress.slice_starts, progress.slice_width
    )
    cancel = (
        action_button(ctx, "/cancel-scatter", "Cancel scatter", id=scatter.id)
        if scatter.cancelled is None and progress.waiting_total
        else ""
    )
    return f'<dl class="task">{listing}</dl>{legend}{chart}{cancel}'


class Host(Protocol):
    """What the cancel action needs of the dashboard app."""

    docket: Docket

    async def form(self, request: Request) -> dict[str, str]: ...

    def confirm(
        self, request: Request, question: str, action: str, fields: dict[str, str], back: str
    ) -> Response: ...

    def done(self, request: Request, where: str) -> Response: ...


async def cancel(host: Host, request: Request) -> Response:
    source = request.query_params if request.method == "GET" else await host.form(request)
    scatter_id = checked_id(source.get("id"))
    back = f"/scatters/{quote(scatter_id, safe='')}"
    if request.method == "GET":
        progress = await read_one(host.docket, scatter_id)
        if progress is None:
            raise HTTPException(404, f"no scatter {scatter_id!r} is kept")
        about = "" if progress.exact else " (estimated)"
        many = progress.waiting_total
        question = (
            f"Cancel scatter {scatter_id} ({progress.scatter.task})? This removes its "
            f"{many:,} waiting task{'' if many == 1 else 's'}{about}; tasks already started "
            "finish."
        )
        return host.confirm(request, question, "/cancel-scatter", {"id": scatter_id}, back)
    await Agenda.cancel(host.docket, scatter_id)
    return host.done(request, back)
