"""``strew snapshot``: what a docket holds right now, in a few tables and a histogram."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from strew.cli.common import (
    DEFAULT_DOCKET,
    DocketOption,
    LoadArgumentsOption,
    UrlOption,
    run,
    safe_url,
)
from strew.cli.durations import format_duration, positive_duration
from strew.cli.numbers import whole_number
from strew.cli.output import (
    JsonOption,
    emit,
    execution_json,
    functions_json,
    limit_json,
    moment,
    running_json,
    snapshot_head,
    worker_json,
)
from strew.cli.output import console as output_console
from strew.cli.render import clock, due_text, histogram, offset_labels, relative, short_clock
from strew.cli.strikes import held_summary
from strew.docket.docket import Docket
from strew.docket.settings import COUNT_CAP, COUNT_SAMPLE, DEFAULT_URL
from strew.docket.snapshots import DocketSnapshot, WorkerInfo
from strew.stores.records import FunctionCounts, FunctionTally

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ARGUMENTS_WIDTH = 40


def snapshot(
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    limit: Annotated[
        int,
        typer.Option(
            "--limit",
            envvar="STREW_LIMIT",
            parser=whole_number(0),
            metavar="N",
            help="How many of the earliest scheduled tasks to list (only these are read, so "
            "the command stays fast on huge dockets).",
        ),
    ] = 20,
    window: Annotated[
        timedelta,
        typer.Option(
            "--window",
            envvar="STREW_WINDOW",
            parser=positive_duration,
            metavar="DURATION",
            show_default=False,
            help="How far ahead the load histogram looks. \\[default: 1h]",
        ),
    ] = timedelta(hours=1),
    buckets: Annotated[
        int,
        typer.Option(
            "--buckets",
            envvar="STREW_BUCKETS",
            parser=whole_number(1, 1000),
            metavar="N",
            help="How many slices (1 to 1,000) the histogram cuts the window into.",
        ),
    ] = 24,
    load_arguments: LoadArgumentsOption = False,
    json_output: JsonOption = False,
) -> None:
    """Show running tasks, the next scheduled ones, live workers, and the load ahead."""
    if json_output:
        run(_snapshot_json(url, docket, limit, window, buckets, load_arguments))
    else:
        run(_snapshot(url, docket, limit, window, buckets, load_arguments))


async def _snapshot_json(
    url: str, name: str, limit: int, window: timedelta, buckets: int, load_arguments: bool
) -> None:
    async with Docket(name, url, load_arguments=load_arguments) as docket:
        taken = await docket.snapshot(limit)
        now = taken.taken
        counts = await docket.scheduled_histogram(now, now + window, buckets)
        [overdue] = await docket.scheduled_histogram(_EPOCH, now, 1)
        by_function = await docket.count_by_function()
    emit(
        {
            **snapshot_head(name, safe_url(url), taken),
            "total_tasks": taken.total_tasks,
            "scheduled_total": taken.total_tasks - len(taken.running),
            "due_total": overdue,
            "held_total": taken.held_total,
            "quarantined_total": taken.quarantined,
            "running": [running_json(running) for running in taken.running],
            "scheduled": [execution_json(execution) for execution in taken.future],
            "workers": [worker_json(seen) for seen in sorted(taken.workers, key=_by_name)],
            "limits": [limit_json(usage) for usage in taken.limits],
            "by_function": functions_json(by_function),
            "load": {
                "start": moment(now),
                "end": moment(now + window),
                "slice_seconds": (window / buckets).total_seconds(),
                "counts": counts,
            },
        }
    )


def _by_name(worker: WorkerInfo) -> str:
    return worker.name


async def _snapshot(
    url: str, name: str, limit: int, window: timedelta, buckets: int, load_arguments: bool
) -> None:
    console = output_console()
    async with Docket(name, url, load_arguments=load_arguments) as docket:
        taken = await docket.snapshot(limit)
        now = taken.taken
        scheduled_total = taken.total_tasks - len(taken.running)
        console.print(
            Text.assemble(
                ("Docket ", "bold"),
                (name, "bold cyan"),
                f" at {safe_url(url)}, {clock(now)}",
            ),
            soft_wrap=True,
        )
        if taken.quarantined:
            console.print(_quarantined_line(taken.quarantined), soft_wrap=True)
        held = held_summary(taken)
        if held:
            console.print(held, soft_wrap=True)
        if taken.total_tasks == 0:
            console.print(
                "Nothing scheduled and nothing running"
                + ("." if held else ": the docket is empty.")
            )
            if taken.workers:
                console.print(_workers_table(taken, now))
            else:
                console.print("No live workers.")
            return
        end = now + window
        counts = await docket.scheduled_histogram(now, end, buckets)
        [overdue] = await docket.scheduled_histogram(_EPOCH, now, 1)
        by_function = await docket.count_by_function()

    console.print(
        f"{taken.total_tasks:,} tasks: {scheduled_total:,} scheduled "
        f"({overdue:,} due or overdue), {len(taken.running):,} running; "
        f"{len(taken.workers):,} live worker{'' if len(taken.workers) == 1 else 's'}",
        soft_wrap=True,
    )
    console.print()
    if taken.running:
        console.print(_running_table(taken, now))
    else:
        console.print("Running: none.")
    console.print()
    hidden = scheduled_total - len(taken.future)
    if taken.future:
        console.print(_scheduled_table(taken, scheduled_total, now))
        if hidden > 0:
            console.print(f"... and {hidden:,} more")
    else:
        console.print(f"Scheduled: {scheduled_total:,}, none listed (--limit 0).")
    console.print()
    if taken.workers:
        console.print(_workers_table(taken, now))
    else:
        console.print("No live workers.")
    if taken.limits:
        console.print()
        console.print(_limits_table(taken))
    console.print()
    console.print(_functions_table(by_function))
    console.print()
    # The tasks a snapshot and a histogram see may differ by whatever ran in between.
    later = max(scheduled_total - overdue - sum(counts), 0)
    step = format_duration(window / buckets)
    title = (
        f"Scheduled load over the next {format_duration(window)} from {clock(now)}, "
        f"{buckets} slice{'' if buckets == 1 else 's'} of {step} "
        f"({overdue:,} already due, {later:,} beyond it)"
    )
    console.print(histogram(counts, offset_labels(now, end, buckets), title=title))


def _quarantined_line(count: int) -> Text:
    return Text(
        f"{count:,} quarantined task{'' if count == 1 else 's'} (unreadable payloads): "
        "see `strew quarantine`",
        style="yellow",
    )


def _arguments(execution_repr: str, function_name: str) -> str:
    # call_repr is "name(args)": the function has its own column, keep the arguments.
    inner = execution_repr[len(function_name) :]
    return inner if len(inner) <= ARGUMENTS_WIDTH else inner[: ARGUMENTS_WIDTH - 3] + "..."


def _running_table(taken: DocketSnapshot, now: datetime) -> Table:
    table = Table(title=f"Running ({len(taken.running):,})", title_justify="left")
    table.add_column("Key", overflow="fold")
    table.add_column("Function")
    table.add_column("Arguments", overflow="ellipsis", no_wrap=True)
    table.add_column("Worker", overflow="fold")
    table.add_column("Started (UTC)")
    table.add_column("Running for")
    table.add_column("Due")
    table.add_column("Lease")
    for running in sorted(taken.running, key=lambda r: r.execution.when):
        execution = running.execution
        lease = running.lease_deadline - now
        started = running.started
        table.add_row(
            execution.key,
            execution.function_name,
            _arguments(execution.call_repr(all_arguments=True), execution.function_name),
            running.worker,
            "?" if started is None else short_clock(started, now),
            "?" if started is None else format_duration(max(now - started, timedelta(0))),
            relative(execution.when, now),
            f"expires in {format_duration(lease)}"
            if lease >= timedelta(0)
            else Text(f"expired {format_duration(-lease)} ago", style="red"),
        )
    return table


def _scheduled_table(taken: DocketSnapshot, scheduled_total: int, now: datetime) -> Table:
    shown = len(taken.future)
    title = (
        f"Scheduled ({scheduled_total:,})"
        if shown >= scheduled_total
        else f"Scheduled (first {shown:,} of {scheduled_total:,})"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("Key", overflow="fold")
    table.add_column("Function")
    table.add_column("Arguments", overflow="ellipsis", no_wrap=True)
    table.add_column("Due at (UTC)")
    table.add_column("Due")
    for execution in taken.future:
        table.add_row(
            execution.key,
            execution.function_name,
            _arguments(execution.call_repr(all_arguments=True), execution.function_name),
            short_clock(execution.when, now),
            due_text(execution.when, now),
        )
    return table


def _workers_table(taken: DocketSnapshot, now: datetime) -> Table:
    table = Table(title=f"Workers ({len(taken.workers):,})", title_justify="left")
    table.add_column("Name", overflow="fold")
    table.add_column("Last seen")
    table.add_column("Running", justify="right")
    for seen in sorted(taken.workers, key=lambda w: w.name):
        table.add_row(seen.name, relative(seen.last_seen, now), f"{len(seen.tasks):,}")
    return table


def _limits_table(taken: DocketSnapshot) -> Table:
    """The concurrency limits in use: slots held and tasks waiting (docs/admission.md)."""
    table = Table(title=f"Concurrency limits in use ({len(taken.limits):,})", title_justify="left")
    table.add_column("Limit", overflow="fold")
    table.add_column("Scope", overflow="fold")
    table.add_column("Slots held", justify="right")
    table.add_column("Waiting", justify="right")
    for usage in taken.limits:
        table.add_row(
            escape(usage.name),
            escape(usage.scope or "-"),
            f"{usage.in_use:,}",
            f"{usage.waiting:,}",
        )
    return table


UNREADABLE = "<unreadable>"
"""How the counts name payloads whose function name cannot be read (see `strew quarantine`)."""


def _cell(tally: FunctionTally, function: str) -> str:
    count = tally.counts.get(function, 0)
    return f"{count:,}" if tally.exact else f"≈{count:,}"


def _functions_table(counts: FunctionCounts) -> Group:
    states = [("Scheduled", counts.scheduled), ("Running", counts.running)]
    if counts.held.total:
        states.append(("Held", counts.held))
    names = sorted(set().union(*(tally.counts for _, tally in states)))
    table = Table(title="Tasks by function", title_justify="left")
    table.add_column("Function")
    for title, tally in states:
        table.add_column(title if tally.exact else f"{title} ≈", justify="right")
    for function in names:
        table.add_row(function or UNREADABLE, *(_cell(tally, function) for _, tally in states))
    estimated = [f"{tally.total:,} {title.lower()}" for title, tally in states if not tally.exact]
    if not estimated:
        return Group(table)
    # Reading every payload of a huge docket would hold Redis up for too long: say plainly
    # that these figures come from a sample.
    note = Text(
        f"≈ estimated from a random sample of {COUNT_SAMPLE:,} tasks each, of "
        f"{' and '.join(estimated)} (counted exactly up to {COUNT_CAP:,})",
        style="dim",
    )
    return Group(table, note)
