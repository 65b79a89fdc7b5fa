"""The dashboard's HTML: the frame every page shares, and small pieces (tables, times, forms).

Everything shown that comes from the store or the URL goes through `text` (escaped);
nothing is ever put into a page unescaped but the markup written here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import quote, urlencode

from strew.task.results import ExecutionProgress


@dataclass(frozen=True, slots=True)
class Context:
    """What a page needs to know about where and for whom it is drawn."""

    base: str
    """The URL path the dashboard is mounted at ('' standalone)."""
    csrf: str
    """The token each action's form sends back (see `strew.dashboard.safety`)."""
    read_only: bool
    docket: str
    now: datetime


def text(value: object) -> str:
    """``value`` as HTML text: escaped, and with anything that is not UTF-8 (lone surrogates,
    as a task's error or a key read from Redis may hold) spelt as a ``\\udcff`` escape."""
    shown = str(value).encode("utf-8", "backslashreplace").decode("utf-8")
    return escape(shown, quote=True)


def task_link(ctx: Context, key: str) -> str:
    return f'<a class="key" href="{text(task_url(ctx, key))}">{text(key)}</a>'


def task_url(ctx: Context, key: str) -> str:
    return f"{ctx.base}/tasks/{quote(key, safe='')}"


def url(ctx: Context, path: str, **query: str) -> str:
    return f"{ctx.base}{path}" + (f"?{urlencode(query)}" if query else "")


def duration(delta: timedelta) -> str:
    """``3s``, ``4m05s``, ``2h10m``, ``3d4h``: short and exact enough to read at a glance."""
    seconds = int(abs(delta).total_seconds())
    if seconds < 60:
        return f"{abs(delta).total_seconds():.1f}s" if seconds < 10 else f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours}h"


def relative(moment: datetime, now: datetime) -> str:
    delta = moment - now
    if abs(delta) < timedelta(milliseconds=1):
        return "now"
    return f"in {duration(delta)}" if delta > timedelta(0) else f"{duration(delta)} ago"


def clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def when(moment: datetime, now: datetime) -> str:
    """A time as ``4m05s ago``, with the exact UTC time on hover."""
    shown = text(relative(moment, now))
    return f'<time datetime="{moment.isoformat()}" title="{clock(moment)}">{shown}</time>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str) -> str:
    """A table of cells already made HTML (escape with `text`); ``empty`` when no rows."""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return f'<p class="empty">{text(empty)}</p>'
    head = "".join(f"<th>{text(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def progress_bar(progress: ExecutionProgress | None) -> str:
    if progress is None:
        return '<span class="muted">-</span>'
    fraction = progress.fraction
    counted = f"{progress.current:,}" + (f" / {progress.total:,}" if progress.total else "")
    message = f' <span class="muted">{text(progress.message)}</span>' if progress.message else ""
    if fraction is None:
        return f"{counted}{message}"
    return (
        f'<progress max="1" value="{fraction:.3f}"></progress> {counted} ({fraction:.0%}){message}'
    )


def action_button(
    ctx: Context, path: str, label: str, *, danger: bool = True, **fields: str
) -> str:
    """A link to the confirmation page of an action (nothing happens until it is confirmed);
    none at all in read-only mode."""
    if ctx.read_only:
        return ""
    cls = "button danger" if danger else "button"
    return f'<a class="{cls}" href="{text(url(ctx, path, **fields))}">{text(label)}</a>'


def post_form(ctx: Context, path: str, label: str, fields: dict[str, str], *, danger: bool) -> str:
    hidden = "".join(
        f'<input type="hidden" name="{text(name)}" value="{text(value)}">'
        for name, value in {**fields, "csrf": ctx.csrf}.items()
    )
    cls = "danger" if danger else ""
    return (
        f'<form method="post" action="{text(url(ctx, path))}" class="inline">{hidden}'
        f'<button type="submit" class="{cls}">{text(label)}</button></form>'
    )


@dataclass(frozen=True, slots=True)
class NavEntry:
    slug: str
    title: str
    path: str


def frame(
    ctx: Context,
    nav: Sequence[NavEntry],
    current: str,
    title: str,
    body: str,
    live: str | None,
    refresh: float,
) -> str:
    """The whole page: header with the navigation, then ``body``. With ``live`` (a fragment
    URL), the body is re-read from it every ``refresh`` seconds while the page is visible."""
    links = "".join(
        f'<a href="{text(ctx.base + entry.path)}"'
        + (' aria-current="page"' if entry.slug == current else "")
        + f">{text(entry.title)}</a>"
        for entry in nav
    )
    mode = '<span class="badge">read-only</span>' if ctx.read_only else ""
    live_attributes = (
        f' data-live="{text(live)}" data-refresh="{int(refresh * 1000)}"' if live else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{text(title)} · {text(ctx.docket)} · strew</title>
<link rel="stylesheet" href="{text(ctx.base)}/static/dashboard.css">
<script defer src="{text(ctx.base)}/static/dashboard.js"></script>
</head><body>
<header><span class="brand">strew</span> <span class="docket">{text(ctx.docket)}</span>{mode}
<nav>{links}</nav>
<form class="find" method="get" action="{text(ctx.base)}/tasks">
<input name="key" placeholder="task key" aria-label="task key" maxlength="1024">
<button type="submit">Open</button></form></header>
<main><h1>{text(title)}</h1>
<div id="live"{live_attributes}>{body}</div>
<p class="stamp">Read <span id="taken">{clock(ctx.now)}</span><span id="stale"></span></p>
</main></body></html>"""
