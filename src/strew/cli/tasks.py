"""``strew tasks trace|fail|sleep``: schedule one of the built-in smoke-test tasks.

Every ``strew worker`` knows these (see `strew.tasks`), so they prove a deployment works end
to end: schedule a ``trace`` and watch a worker log it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console

from strew import tasks as builtin
from strew.cli.common import DEFAULT_DOCKET, DocketOption, UrlOption, run, safe_url, stderr
from strew.cli.durations import duration, format_duration
from strew.cli.render import clock
from strew.docket.docket import Docket
from strew.docket.settings import DEFAULT_URL
from strew.task.execution import TaskFunction

app = typer.Typer(
    name="tasks",
    help="Schedule a built-in smoke-test task (every `strew worker` runs them).",
    no_args_is_help=True,
)

DelayOption = Annotated[
    timedelta,
    typer.Option(
        "--delay",
        envvar="STREW_DELAY",
        parser=duration,
        metavar="DURATION",
        show_default=False,
        help="Run it this long from now. \\[default: 0s, at once]",
    ),
]


@app.command()
def trace(
    message: Annotated[str, typer.Argument(envvar="STREW_MESSAGE", help="What the worker logs.")],
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    delay: DelayOption = timedelta(0),
) -> None:
    """A task that logs MESSAGE at INFO (logger strew.tasks) with its key."""
    run(_schedule(url, docket, delay, builtin.trace, message))


@app.command()
def fail(
    message: Annotated[
        str, typer.Argument(envvar="STREW_MESSAGE", help="The error the task raises.")
    ],
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    delay: DelayOption = timedelta(0),
) -> None:
    """A task that raises an error with MESSAGE, to see how failures are reported."""
    run(_schedule(url, docket, delay, builtin.fail, message))


@app.command()
def sleep(
    seconds: Annotated[
        timedelta,
        typer.Argument(
            envvar="STREW_SLEEP",
            parser=duration,
            metavar="DURATION",
            show_default=False,
            help="How long the task runs: 30s, 1m30s, 250ms, or plain seconds such as 2.5.",
        ),
    ],
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    delay: DelayOption = timedelta(0),
) -> None:
    """A task that sleeps DURATION, holding a worker slot (to watch leases and shutdown)."""
    run(_schedule(url, docket, delay, builtin.sleep, seconds.total_seconds()))


async def _schedule(
    url: str, name: str, delay: timedelta, function: TaskFunction, argument: Any
) -> None:
    async with Docket(name, url) as docket:
        docket.register(function)
        # No delay: let the docket stamp it with the store's clock, due at once.
        when = datetime.now(UTC) + delay if delay else None
        execution = await docket.add(function, when=when)(argument)
    if url.startswith("memory://"):
        # Said on stderr so a script reading stdout still gets the one line it expects.
        stderr().print(
            "[yellow]Warning:[/] the memory store lives in this process only: no worker will "
            "see this task.",
            soft_wrap=True,
        )
    Console().print(
        f"Scheduled {execution.call_repr(all_arguments=True)} on docket {name} at {safe_url(url)}: "
        f"key {execution.key}, due {clock(execution.when)}"
        + (f" (in {format_duration(delay)})" if delay else ""),
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
