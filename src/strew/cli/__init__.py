"""The ``strew`` command: run workers, look inside a docket, clear it.

Every option can also come from a ``STREW_*`` environment variable (``--url`` from
``STREW_URL``, ``--concurrency`` from ``STREW_CONCURRENCY``...) or from pydocket's
``DOCKET_*`` name for it (see `strew.cli.pydocket_env`), and every duration accepts
``250ms``, ``30s``, ``5m``, ``1h``, ``1h30m`` or plain seconds. Exit codes: 0 done, 1 the
store failed, 2 the command line was wrong.
"""

from __future__ import annotations

from typing import Annotated

import typer

from strew import __version__
from strew.cli.cancel import cancel
from strew.cli.clear import clear
from strew.cli.dashboard import dashboard
from strew.cli.failed import failed
from strew.cli.import_pydocket import import_pydocket
from strew.cli.pydocket_env import PydocketEnvGroup
from strew.cli.quarantine import quarantine
from strew.cli.scatter import scatter
from strew.cli.scatters import scatters
from strew.cli.snapshot import snapshot
from strew.cli.strikes import restore, strike
from strew.cli.tasks import app as tasks_app
from strew.cli.watch import watch
from strew.cli.worker import worker
from strew.cli.workers import workers

app = typer.Typer(
    name="strew",
    cls=PydocketEnvGroup,
    help="Distributed background tasks on Redis that scatter a batch evenly over time.\n\n"
    "Every option reads the STREW_* variable its help names; pydocket's DOCKET_* names "
    "are read too (DOCKET_URL, DOCKET_NAME, DOCKET_WORKER_CONCURRENCY...): see docs/cli.md.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"strew {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version of strew and exit (as `strew version` does).",
        ),
    ] = False,
) -> None:
    """The options of ``strew`` itself, given before the command."""


app.command()(worker)
app.command()(snapshot)
app.command()(clear)
app.command()(cancel)
app.command()(scatter)
app.command()(scatters)
app.command()(workers)
app.command()(quarantine)
app.command()(failed)
app.command()(watch)
app.command()(dashboard)
app.add_typer(tasks_app)
app.command()(strike)
app.command()(restore)
app.command(name="import-pydocket")(import_pydocket)


@app.command()
def version() -> None:
    """Print the version of strew."""
    typer.echo(f"strew {__version__}")


def main() -> None:
    """The console script's entry point."""
    app(prog_name="strew")


__all__ = ["app", "main"]
