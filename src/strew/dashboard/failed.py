"""The "Failed and retrying" page: the docket's record of failures (docs/failures.md), newest
first, a page at a time, with retry and drop for one task, the ones ticked, or all.

It reads `Docket.failures` only (never the schedule): ``SHOWN`` entries a page, or up to
``SCANNED`` when filtered by task name (the store has no read by function, so the filter
looks at that many and pages on from the last one it looked at).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from strew.dashboard.html import Context, action_button, table, task_link, text, url, when
from strew.docket.docket import Docket
from strew.docket.failures import Failure

SHOWN = 50
"""Failures listed a page."""
SCANNED = 1_000
"""Failures looked at for one page when filtering by task name."""
MESSAGE_SHOWN = 200
"""Characters of an error's message in the list (the task page shows all that is kept)."""
MAX_TASK_NAME = 200
MAX_TRAIL = 50
"""Pages remembered for the "newer" link (the store reads back in time only)."""
NEWEST = "0"
"""The newest page, in a trail."""
MAX_SELECTED = 1_000
"""The most keys one "retry selected" or "drop selected" takes."""


OUTCOMES = {
    "retried": "retried",
    "hastened": "already retrying, brought forward to now",
    "busy": "running or held, left alone",
    "missing": "no longer recorded",
    "dropped": "forgotten",
}
"""What the last action did (``?did=retried:2,busy:1``), as the page says it."""
DID = re.compile(rf"(?:(?:{'|'.join(OUTCOMES)}):\d{{1,7}},?)*")


def did(counts: Mapping[str, int]) -> str:
    return ",".join(f"{name}:{count}" for name, count in counts.items())


@dataclass(frozen=True, slots=True)
class Failed:
    failures: list[Failure]
    before: datetime | None
    """Where this page starts (None: the newest)."""
    task: str
    """The task name filtered on ('' for every task)."""
    older: datetime | None
    """Where the next, older page starts; None when there is none."""
    did: str = ""
    """What the last action did (see `OUTCOMES`)."""
    trail: tuple[str, ...] = ()
    """The ``before`` of each newer page visited on the way here (`NEWEST`: the first page),
    for the "newer" link."""


def params(query: Mapping[str, str]) -> dict[str, str]:
    """The page's query (``before``: an ISO 8601 time with its offset; ``task``: a task name),
    checked; ValueError naming what is wrong."""
    before = query.get("before", "")
    task = query.get("task", "").strip()
    if before:
        when_given = parse_before(before)
        before = when_given.isoformat()
    if len(task) > MAX_TASK_NAME:
        raise ValueError(f"task must be at most {MAX_TASK_NAME} characters, got {len(task):,}")
    done = query.get("did", "")
    if not DID.fullmatch(done):
        raise ValueError(f"did must be like retried:2,busy:1, got {done[:40]!r}")
    given = query.get("trail", "")
    trail = given.split(",") if given else []
    if len(trail) > MAX_TRAIL:
        raise ValueError(f"trail must hold at most {MAX_TRAIL} pages, got {len(trail):,}")
    trail = [step if step == NEWEST else parse_before(step).isoformat() for step in trail]
    return {"before": before, "task": task, "did": done, "trail": ",".join(trail)}


def parse_before(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"before must be an ISO 8601 time, got {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"before must give its UTC offset, got {value[:40]!r}")
    return moment


async def read(docket: Docket, checked: dict[str, str]) -> Failed:
    before = parse_before(checked["before"]) if checked["before"] else None
    task = checked["task"]
    done = checked.get("did", "")
    trail = tuple(checked["trail"].split(",")) if checked.get("trail") else ()
    if not task:
        found = await docket.failures(SHOWN + 1, before)
        shown = found[:SHOWN]
        older = shown[-1].failed_at if len(found) > SHOWN else None
        return Failed(shown, before, task, older, done, trail)
    found = await docket.failures(SCANNED, before)
    matching = [failure for failure in found if failure.function_name == task]
    shown = matching[:SHOWN]
    if len(matching) > SHOWN:
        older = shown[-1].failed_at
    elif len(found) == SCANNED:
        older = found[-1].failed_at
    else:
        older = None
    return Failed(shown, before, task, older, done, trail)


def error_line(failure: Failure, shown: int = MESSAGE_SHOWN) -> str:
    message = failure.message
    cut = len(message) > shown
    return (
        f'<span class="error-type">{text(failure.error_type or "error")}</span>: '
        f'<span class="message">{text(message[:shown])}{"..." if cut else ""}</span>'
    )


def retrying(ctx: Context, failure: Failure) -> str:
    if failure.running:
        return '<span class="state running">running now</span>'
    if failure.retry_at is not None:
        return when(failure.retry_at, ctx.now)
    return '<span class="muted">-</span>'


def row_actions(ctx: Context, failure: Failure) -> str:
    actions = [
        action_button(ctx, "/failed/retry", "Retry", danger=False, key=failure.key),
        action_button(ctx, "/failed/drop", "Drop", key=failure.key),
    ]
    if failure.retry_at is not None and not failure.running:
        actions.append(action_button(ctx, "/cancel", "Cancel", key=failure.key))
    return " ".join(actions)


def draw(ctx: Context, found: Failed) -> str:
    rows = []
    for failure in found.failures:
        row = [
            task_link(ctx, failure.key),
            text(failure.function_name or "-"),
            error_line(failure),
            f"{failure.attempt:,}",
            when(failure.failed_at, ctx.now),
            retrying(ctx, failure),
        ]
        if not ctx.read_only:
            tick = (
                f'<input type="checkbox" name="key" value="{text(failure.key)}" '
                f'aria-label="select {text(failure.key)}">'
            )
            row = [tick, *row, row_actions(ctx, failure)]
        rows.append(row)
    headers = ["Key", "Task", "Error", "Attempt", "Failed", "Retrying at"]
    if not ctx.read_only:
        headers = ["", *headers, ""]
    what = f" of task {found.task}" if found.task else ""
    listed = table(
        headers, rows, f"No failures{what} recorded{' before then' if found.before else ''}."
    )
    filter_form = (
        f'<form method="get" action="{text(url(ctx, "/failed"))}" class="filter">'
        f'<input name="task" value="{text(found.task)}" placeholder="task name" '
        f'aria-label="task name" maxlength="{MAX_TASK_NAME}"> '
        '<button type="submit">Filter</button>'
        + (f' <a href="{text(url(ctx, "/failed"))}">every task</a>' if found.task else "")
        + "</form>"
    )
    chosen = said(found.did) + selection(ctx, found, listed)
    return f'{filter_form}<div class="failed-list">{chosen}</div>{paging(ctx, found)}'


def said(done: str) -> str:
    """What the last action did, as a sentence."""
    if not done:
        return ""
    parts = []
    for part in done.split(","):
        name, _, count = part.partition(":")
        if name in OUTCOMES and count:
            parts.append(f"{int(count):,} {OUTCOMES[name]}")
    return f'<p class="done" role="status">Done: {text("; ".join(parts))}.</p>' if parts else ""


def selection(ctx: Context, found: Failed, listed: str) -> str:
    """The list, inside a form whose buttons ask to confirm acting on the ticked keys."""
    if ctx.read_only or not found.failures:
        return listed
    return (
        f'<form method="get" action="{text(url(ctx, "/failed/retry"))}" class="selection">'
        + listed
        + '<p class="actions"><button type="submit" id="retry-selected">Retry selected</button> '
        f'<button type="submit" class="danger" formaction="{text(url(ctx, "/failed/drop"))}" '
        'id="drop-selected">Drop selected</button> '
        + action_button(ctx, "/failed/retry", "Retry all", danger=False, all="yes")
        + " "
        + action_button(ctx, "/failed/drop", "Drop all", all="yes")
        + "</p></form>"
    )


def paging(ctx: Context, found: Failed) -> str:
    links = []
    kept = {"task": found.task} if found.task else {}
    newest = text(url(ctx, "/failed", **kept))
    if found.before is not None:
        if found.trail:
            *rest, previous = found.trail
            back = dict(kept)
            if previous != NEWEST:
                back["before"] = previous
            if rest:
                back["trail"] = ",".join(rest)
            links.append(f'<a href="{newest}">newest</a>')
            links.append(f'<a href="{text(url(ctx, "/failed", **back))}" rel="prev">newer</a>')
        else:
            links.append(f'<a href="{newest}" rel="prev">newer</a>')
    if found.older is not None:
        here = found.before.isoformat() if found.before is not None else NEWEST
        trail = ",".join([*found.trail, here][-MAX_TRAIL:])
        older = url(ctx, "/failed", before=found.older.isoformat(), trail=trail, **kept)
        links.append(f'<a href="{text(older)}" rel="next">older</a>')
    return f'<p class="paging">{" · ".join(links)}</p>' if links else ""


def draw_failure(ctx: Context, failure: Failure) -> str:
    """The failure record of one key, for its task page."""
    items = [
        ("Failed", when(failure.failed_at, ctx.now)),
        ("Attempt", f"{failure.attempt:,}"),
        ("Error", f"<pre>{error_line(failure, shown=len(failure.message))}</pre>"),
        ("Retrying at", retrying(ctx, failure)),
    ]
    if failure.traceback:
        items.append(("Traceback", f"<pre>{text(failure.traceback)}</pre>"))
    listing = "".join(f"<dt>{text(name)}</dt><dd>{value}</dd>" for name, value in items)
    actions = " ".join(
        [
            action_button(ctx, "/failed/retry", "Retry now", danger=False, key=failure.key),
            action_button(ctx, "/failed/drop", "Drop the failure", key=failure.key),
        ]
    )
    return f'<h2>Latest failure</h2><dl class="task">{listing}</dl>{actions}'
