"""``strew watch KEY``: one task's state, progress and outcome, live until it ends.

Exit codes say how it ended, so a script can wait on a task: 0 completed, 1 failed or
cancelled (or the store failed), 2 nothing is known about the key (or a bad command line).
With ``--no-follow`` it prints once and exits 0 for a task still scheduled or running.
"""

from __future__ import annotations

import asyncio
import json
import pickle
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from strew.cli.common import (
    DEFAULT_DOCKET,
    EXIT_STORE,
    EXIT_USAGE,
    DocketOption,
    LoadArgumentsOption,
    UrlOption,
    run,
    task_key,
)
from strew.cli.durations import format_duration, positive_duration
from strew.cli.output import JsonOption, emit, moment
from strew.cli.output import console as output_console
from strew.cli.render import clock, relative
from strew.docket.docket import Docket
from strew.docket.settings import DEFAULT_URL
from strew.docket.snapshots import readable
from strew.stores.records import TaskState
from strew.task.clock import from_micros
from strew.task.execution import Execution
from strew.task.pickles import plain_loads
from strew.task.results import ExecutionProgress, ExecutionState, Finished, progress_of, state_of

EXIT_UNKNOWN = EXIT_USAGE
RESULT_WIDTH = 300
_STYLES = {
    ExecutionState.SCHEDULED: "cyan",
    ExecutionState.QUEUED: "bold cyan",
    ExecutionState.RUNNING: "bold yellow",
    ExecutionState.COMPLETED: "bold green",
    ExecutionState.FAILED: "bold red",
    ExecutionState.CANCELLED: "bold magenta",
}


def watch(
    key: Annotated[
        str,
        typer.Argument(
            parser=task_key,
            metavar="KEY",
            envvar="STREW_KEY",
            show_default=False,
            help="The key of the task to watch.",
        ),
    ],
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow/--no-follow",
            envvar="STREW_FOLLOW",
            help="Keep watching until the task ends, or print its state once.",
        ),
    ] = True,
    interval: Annotated[
        timedelta,
        typer.Option(
            "--interval",
            envvar="STREW_INTERVAL",
            parser=positive_duration,
            metavar="DURATION",
            show_default=False,
            help="How often to read the task's state while following. \\[default: 250ms]",
        ),
    ] = timedelta(milliseconds=250),
    load_arguments: LoadArgumentsOption = False,
    json_output: JsonOption = False,
) -> None:
    """Show one task's state, progress and result (or error), live until it ends.

    Exits 0 when it completed, 1 when it failed or was cancelled, 2 when the key is unknown
    (never scheduled, or finished longer ago than the docket keeps records). With --json,
    one JSON object per line: the first read, then one each time something changes."""
    code = run(_watch(url, docket, key, follow, interval, load_arguments, json_output))
    raise typer.Exit(code)


@dataclass(frozen=True)
class View:
    """What one read of the store says about a key, ready to draw."""

    key: str
    docket: str
    now: datetime
    state: ExecutionState | None
    execution: Execution | None
    worker: str | None
    lease_deadline: datetime | None
    finished: Finished | None
    progress: ExecutionProgress | None
    held: bool = False
    """A strike holds it: it runs after a ``restore``, not at its due time."""
    loads: bool = True
    """The result may be unpickled in full (see `Docket.loads_arguments`); otherwise only a
    plain value is shown."""


def read_view(the_docket: Docket, key: str, raw: TaskState) -> View:
    state, finished = state_of(raw, json_only=the_docket.codec.json)
    found = raw.running or raw.scheduled or raw.held
    return View(
        key=key,
        docket=the_docket.name,
        now=from_micros(raw.now),
        state=state,
        execution=None if found is None else readable(the_docket, found),
        worker=None if raw.running is None else raw.running.worker,
        lease_deadline=None if raw.running is None else from_micros(raw.running.lease_deadline),
        finished=finished,
        progress=progress_of(raw.progress),
        held=raw.running is None and raw.scheduled is None and raw.held is not None,
        loads=the_docket.loads_arguments,
    )


def exit_code(state: ExecutionState | None) -> int:
    if state is None:
        return EXIT_UNKNOWN
    if state in (ExecutionState.FAILED, ExecutionState.CANCELLED):
        return EXIT_STORE
    return 0


async def _watch(
    url: str,
    name: str,
    key: str,
    follow: bool,
    interval: timedelta,
    load_arguments: bool,
    json_output: bool,
) -> int:
    console = output_console()
    async with Docket(name, url, load_arguments=load_arguments) as the_docket:
        view = read_view(the_docket, key, await the_docket.store.task_state(key))
        if json_output:
            return await _stream_json(the_docket, view, follow, interval)
        if not follow or view.state is None or view.state.final:
            console.print(render(view))
            return exit_code(view.state)
        with Live(render(view), console=console, auto_refresh=False) as live:
            while True:
                await asyncio.sleep(interval.total_seconds())
                view = read_view(the_docket, key, await the_docket.store.task_state(key))
                live.update(render(view), refresh=True)
                if view.state is None or view.state.final:
                    return exit_code(view.state)


async def _stream_json(the_docket: Docket, view: View, follow: bool, interval: timedelta) -> int:
    """One line per change: reads that say nothing new print nothing."""
    last = view_json(view)
    emit(last)
    while follow and view.state is not None and not view.state.final:
        await asyncio.sleep(interval.total_seconds())
        view = read_view(the_docket, view.key, await the_docket.store.task_state(view.key))
        document = view_json(view)
        if {**document, "time": None} != {**last, "time": None}:
            emit(document)
            last = document
    return exit_code(view.state)


def view_json(view: View) -> dict[str, Any]:
    """One read of a task, for ``--json`` (keys in docs/cli.md)."""
    execution, finished, progress = view.execution, view.finished, view.progress
    document: dict[str, Any] = {
        "key": view.key,
        "docket": view.docket,
        "time": moment(view.now),
        "state": None if view.state is None else view.state.value,
        "function": execution.function_name
        if execution is not None
        else (finished.function_name if finished is not None else None),
        "call": None if execution is None else execution.call_repr(all_arguments=True),
        "when": None if execution is None else moment(execution.when),
        "attempt": None if execution is None else execution.attempt,
        "held": view.held,
        "worker": view.worker,
        "lease_deadline": moment(view.lease_deadline),
        "progress": None
        if progress is None
        else {"current": progress.current, "total": progress.total, "message": progress.message},
        "finished_at": None if finished is None else moment(finished.finished_at),
        "result": None,
        "error": None,
    }
    if finished is not None and finished.state is ExecutionState.COMPLETED:
        document["result"] = _result(finished, view.loads).plain
    elif finished is not None and finished.state is ExecutionState.FAILED:
        document["error"] = {"type": finished.type_name, "message": finished.text}
    return document


def render(view: View) -> RenderableType:
    """The picture of one `View`: a title line, then a grid of what is known."""
    title = Text.assemble(
        ("Task ", "bold"), (view.key, "bold cyan"), " in docket ", (view.docket, "bold")
    )
    if view.state is None:
        return Group(
            title,
            Text(
                "unknown: nothing is known about this key. It was never scheduled, or it "
                "finished longer ago than the docket's execution_ttl (or the docket keeps no "
                "records).",
                style="yellow",
            ),
        )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("State", Text(view.state.value, style=_STYLES[view.state]))
    execution = view.execution
    if execution is not None:
        grid.add_row("Call", execution.call_repr(all_arguments=True))
        grid.add_row("Due", f"{clock(execution.when)} ({relative(execution.when, view.now)})")
        if execution.attempt > 1:
            grid.add_row("Attempt", str(execution.attempt))
        if view.held:
            grid.add_row("Held", Text("by a strike: it runs after a restore", style="yellow"))
    elif view.finished is not None and view.finished.function_name:
        grid.add_row("Function", view.finished.function_name)
    if view.worker is not None and view.lease_deadline is not None:
        grid.add_row("Worker", view.worker)
        lease = view.lease_deadline - view.now
        grid.add_row(
            "Lease",
            f"expires in {format_duration(lease)}"
            if lease >= timedelta(0)
            else Text(f"expired {format_duration(-lease)} ago", style="red"),
        )
    if view.progress is not None:
        grid.add_row("Progress", _progress(view.progress))
        if view.progress.message:
            grid.add_row("Message", view.progress.message)
    finished = view.finished
    if finished is not None:
        grid.add_row(
            "Finished",
            f"{clock(finished.finished_at)} ({relative(finished.finished_at, view.now)})",
        )
        if finished.state is ExecutionState.COMPLETED:
            grid.add_row("Result", _result(finished, view.loads))
        elif finished.state is ExecutionState.FAILED:
            grid.add_row("Error", Text(f"{finished.type_name}: {finished.text}", style="red"))
    return Group(title, grid)


def _progress(progress: ExecutionProgress) -> RenderableType:
    fraction = progress.fraction
    if progress.total is None or fraction is None:
        return Text(f"{progress.current:,} done (total not known)")
    row = Table.grid(padding=(0, 1))
    row.add_column(width=30)
    row.add_column(no_wrap=True)
    row.add_row(
        ProgressBar(total=float(progress.total), completed=float(progress.current), width=30),
        f"{progress.current:,}/{progress.total:,} ({fraction:.0%})",
    )
    return row


def _result(finished: Finished, loads: bool) -> Text:
    try:
        if finished.blob is None:
            value = None
        elif finished.json:
            value = json.loads(finished.blob)
        elif loads:
            value = pickle.loads(finished.blob)
        else:
            value = plain_loads(finished.blob)
    except pickle.UnpicklingError as error:
        if loads or "refused to load" not in str(error):
            return Text(f"(cannot be read here: {error})", style="yellow")
        return Text(
            f"(not loaded: {len(finished.blob or b''):,} bytes that are not a plain value; "
            "--load-arguments would unpickle them)",
            style="yellow",
        )
    except Exception as error:
        # The value's class may live only in the worker's code; say so rather than fail.
        return Text(f"(cannot be read here: {type(error).__name__}: {error})", style="yellow")
    shown = repr(value)
    if len(shown) > RESULT_WIDTH:
        shown = shown[: RESULT_WIDTH - 3] + "..."
    return Text(shown)
