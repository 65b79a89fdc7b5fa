"""The pages: what each reads (`views`) and how it draws it (`html`).

`PAGES` is the navigation, in order: a new page is one more `Page` there (a slug, a title,
a read and a drawing), and the app serves it, with its live fragment, from that entry alone.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from strew.dashboard import failed, fleet, scatters, views
from strew.dashboard.charts import histogram
from strew.dashboard.html import (
    Context,
    action_button,
    duration,
    progress_bar,
    table,
    task_link,
    text,
    when,
)
from strew.docket.docket import Docket
from strew.docket.failures import Failure
from strew.docket.strikes import OPERATORS
from strew.task.results import ExecutionState

Read = Callable[[Docket, dict[str, str]], Awaitable[Any]]
Draw = Callable[[Context, Any], str]


@dataclass(frozen=True, slots=True)
class Page:
    slug: str
    title: str
    path: str
    read: Read
    """Reads what the page shows; gets the page's query parameters, already checked."""
    draw: Draw
    params: dict[str, tuple[str, ...]]
    """Query parameters the page takes, with their allowed values (the first is the default)."""
    parse: Callable[[Mapping[str, str]], dict[str, str]] | None = None
    """Checks free-form query parameters instead of ``params`` (ValueError: a 400)."""


def draw_load(ctx: Context, load: views.LoadAhead) -> str:
    taken = load.snapshot
    spans = " ".join(
        f'<a href="{text(ctx.base)}/load?span={name}"'
        + (' aria-current="true"' if name == load.span else "")
        + f">next {name}</a>"
        for name in views.SPANS
    )
    ahead = sum(load.counts)
    return (
        f'<p class="spans">{spans}</p>'
        f'<p class="totals"><b>{taken.total_tasks:,}</b> tasks scheduled or running; '
        f"<b>{ahead:,}</b> due in the next {text(load.span)}; "
        f"<b>{len(taken.running):,}</b> running on <b>{len(taken.workers):,}</b> "
        f"worker{'' if len(taken.workers) == 1 else 's'}; "
        f"<b>{taken.held_total:,}</b> held; <b>{taken.quarantined:,}</b> quarantined.</p>"
        + capacity_text(load)
        + histogram(load.counts, load.start, load.step, capacity_line(load))
    )


def capacity_line(load: views.LoadAhead) -> tuple[int, str] | None:
    if load.started_peak is None:
        return None
    bar = duration(load.step)
    return (
        load.started_peak,
        f"the workers started at most {load.started_peak:,} tasks in {bar} over the last hour",
    )


def capacity_text(load: views.LoadAhead) -> str:
    """What the dashed line means (docs/dashboard.md explains the choice)."""
    can = (
        f"The live workers can run <b>{load.concurrency:,}</b> tasks at once (their "
        "reported concurrency). "
        if load.concurrency
        else ""
    )
    if load.started_peak is None:
        return (
            f'<p class="legend">{can}No line: no worker reported starting a task in the '
            "last hour, so there is no measure yet of what they get through.</p>"
        )
    return (
        f'<p class="legend">{can}<b class="capacity">Dashed line</b>: the most tasks '
        f"the workers started in one bar's time ({text(duration(load.step))}) over the last "
        f"hour, <b>{load.started_peak:,}</b>. What they have shown they get through, not a "
        "ceiling: bars above it may run late.</p>"
    )


def draw_running(ctx: Context, found: views.Running) -> str:
    taken = found.snapshot
    rows = [
        [
            task_link(ctx, r.execution.key),
            text(r.execution.function_name),
            text(r.worker),
            when(r.started, ctx.now) if r.started else '<span class="muted">-</span>',
            progress_bar(found.progress.get(r.execution.key)),
        ]
        for r in sorted(taken.running, key=lambda r: r.started or r.lease_deadline)
    ]
    return table(
        ["Key", "Task", "Worker", "Started", "Progress"], rows, "Nothing is running right now."
    )


def rule_fields(rule: Any) -> dict[str, str] | None:
    """The form fields that name ``rule`` for lifting it; None when its value is not JSON
    (such a strike is lifted with `strew restore`)."""
    try:
        value = json.dumps(rule.value)
    except (TypeError, ValueError):
        return None
    return {
        "function": rule.function or "",
        "parameter": rule.parameter or "",
        "operator": rule.operator,
        "value": value,
    }


def draw_strikes(ctx: Context, found: views.Strikes) -> str:
    rows = []
    for rule in sorted(found.rules, key=lambda r: (r.function or "", r.condition())):
        fields = rule_fields(rule)
        lift = (
            action_button(ctx, "/strikes/lift", "Lift", danger=False, **fields)
            if fields is not None
            else '<span class="muted">lift with strew restore</span>'
        )
        rows.append([text(rule.function or "* (every function)"), text(rule.condition()), lift])
    listed = table(["Function", "Calls paused", ""], rows, "No strikes in force.")
    held = (
        f'<p><b>{found.held_total:,}</b> held tasks (<a href="{text(ctx.base)}/held">list</a>).</p>'
    )
    if ctx.read_only:
        return listed + held
    options = "".join(f'<option value="{text(o)}">{text(o)}</option>' for o in OPERATORS)
    add = f"""<form method="post" action="{text(ctx.base)}/strikes/add" class="strike">
<input type="hidden" name="csrf" value="{text(ctx.csrf)}">
<label>Function <input name="function" placeholder="every function"></label>
<label>Parameter <input name="parameter" placeholder="every call"></label>
<label>Operator <select name="operator">{options}</select></label>
<label>Value <input name="value" placeholder="JSON, or a string"></label>
<button type="submit">Strike</button></form>"""
    return listed + held + "<h2>Add a strike</h2>" + add


def draw_held(ctx: Context, found: views.Held) -> str:
    held_rows = [
        [
            task_link(ctx, execution.key),
            text(execution.function_name),
            when(execution.when, ctx.now),
            action_button(ctx, "/cancel", "Cancel", key=execution.key),
        ]
        for execution in found.held
    ]
    more = (
        f'<p class="muted">The earliest {len(found.held):,} of {found.held_total:,}.</p>'
        if found.held_total > len(found.held)
        else ""
    )
    quarantine_rows = [
        [
            text(task.key),
            when(task.quarantined_at, ctx.now),
            f"{task.payload_size:,}",
            f'<span class="reason">{text(task.reason)}</span>',
            action_button(ctx, "/quarantine/drop", "Drop", key=task.key),
        ]
        for task in found.quarantined
    ]
    drop_all = (
        action_button(ctx, "/quarantine/drop", "Drop all", all="yes") if found.quarantined else ""
    )
    return (
        f"<h2>Held by strikes ({found.held_total:,})</h2>"
        '<p class="muted">Lifting the strike that holds them (Strikes) puts them back.</p>'
        + table(["Key", "Task", "Due", ""], held_rows, "No task is held.")
        + more
        + f"<h2>Quarantined ({len(found.quarantined):,})</h2>"
        + table(
            ["Key", "Quarantined", "Bytes", "Reason", ""],
            quarantine_rows,
            "The quarantine is empty.",
        )
        + drop_all
    )


CANCELLABLE = {ExecutionState.SCHEDULED, ExecutionState.QUEUED, ExecutionState.RUNNING}


def draw_task(ctx: Context, found: views.TaskView, failure: Failure | None = None) -> str:
    execution = found.execution
    recorded = failed.draw_failure(ctx, failure) if failure is not None else ""
    if execution is None:
        return (
            f'<p class="empty">Nothing is known about task <code>{text(found.key)}</code>: it '
            "was never scheduled, or it finished longer ago than the docket's execution_ttl.</p>"
            + recorded
        )
    state = execution.state
    items: list[tuple[str, str]] = [
        ("Key", f"<code>{text(execution.key)}</code>"),
        (
            "State",
            f'<span class="state {text(state.value if state else "")}">'
            f"{text(state.value if state else '-')}</span>",
        ),
        (
            "Call",
            f"<code>{text(execution.call_repr(all_arguments=True))}</code>"
            if state is not None and not state.final
            else f"<code>{text(execution.function_name)}</code> "
            '<span class="muted">(a finished task\'s record keeps no arguments)</span>',
        ),
    ]
    if state is not None and not state.final:
        items.append(("Due", when(execution.when, ctx.now)))
        items.append(("Attempt", f"{execution.attempt:,}"))
    if execution.scatter_id:
        items.append(("Scatter", f"<code>{text(execution.scatter_id)}</code>"))
    if execution.worker:
        items.append(("Worker", text(execution.worker)))
    if execution.started_at:
        items.append(("Started", when(execution.started_at, ctx.now)))
    if state is ExecutionState.RUNNING or execution.progress is not None:
        items.append(("Progress", progress_bar(execution.progress)))
    if execution.finished_at is not None and state is not None and state.final:
        items.append(("Finished", when(execution.finished_at, ctx.now)))
    if found.result is not None:
        items.append(("Result", f"<pre>{text(found.result)}</pre>"))
    if found.finished is not None and state is ExecutionState.FAILED:
        items.append(("Error", f"<pre>{text(execution.error)}</pre>"))
        if found.finished.traceback_text:
            items.append(("Traceback", f"<pre>{text(found.finished.traceback_text)}</pre>"))
    listing = "".join(f"<dt>{text(name)}</dt><dd>{value}</dd>" for name, value in items)
    cancel = (
        action_button(ctx, "/cancel", "Cancel this task", key=execution.key)
        if state in CANCELLABLE
        else ""
    )
    return f'<dl class="task">{listing}</dl>{cancel}{recorded}'


async def read_load(docket: Docket, params: dict[str, str]) -> views.LoadAhead:
    return await views.load_ahead(docket, params["span"])


async def read_running(docket: Docket, params: dict[str, str]) -> views.Running:
    return await views.running(docket)


async def read_strikes(docket: Docket, params: dict[str, str]) -> views.Strikes:
    return await views.strikes(docket)


async def read_held(docket: Docket, params: dict[str, str]) -> views.Held:
    return await views.held(docket)


PAGES: tuple[Page, ...] = (
    Page("scatters", "Scatters", "/", scatters.read_list, scatters.draw_list, {}),
    Page("load", "Load ahead", "/load", read_load, draw_load, {"span": tuple(views.SPANS)}),
    Page("running", "Running now", "/running", read_running, draw_running, {}),
    Page("failed", "Failed and retrying", "/failed", failed.read, failed.draw, {}, failed.params),
    Page(
        "punctuality",
        "Punctuality",
        "/punctuality",
        fleet.read_punctuality,
        fleet.draw_punctuality,
        {},
    ),
    Page("workers", "Workers", "/workers", fleet.read_workers, fleet.draw_workers, {}),
    Page("strikes", "Strikes", "/strikes", read_strikes, draw_strikes, {}),
    Page("held", "Held and quarantined", "/held", read_held, draw_held, {}),
)
"""The navigation, in order; each page is served at ``path`` and its live fragment at
``/live/SLUG``."""
