"""What every command shares: the ``--url`` and ``--docket`` options, and how a command
turns a store failure into a clear message and an exit code instead of a traceback."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from strew.docket.settings import DEFAULT_URL, check_name
from strew.stores import StoreAuthError, StoreError, StoreUnavailable
from strew.stores.durability import DEFAULT_REPLICA_TIMEOUT, check_store, durability
from strew.stores.urls import masked, validate_url
from strew.task.checks import check_key

T = TypeVar("T")

# Exit codes: 0 done, 1 the store failed or refused, 2 the command line was wrong (what
# Typer uses for its own usage errors, so a script can tell the two apart).
EXIT_STORE = 1
EXIT_USAGE = 2


def _url(value: str) -> str:
    try:
        # With the store's setting read from the environment ($STREW_REPLICAS: a count, and
        # one the store can honour), so a bad one is a usage error, not a traceback.
        check_store(durability(None, DEFAULT_REPLICA_TIMEOUT), value)
        return validate_url(value)
    except (TypeError, ValueError) as error:
        raise typer.BadParameter(str(error)) from None


def _docket_name(value: str) -> str:
    try:
        return check_name(value)
    except (TypeError, ValueError) as error:
        raise typer.BadParameter(str(error)) from None


def task_key(value: str) -> str:
    """A task key given on the command line (the parser of every KEY argument), checked as
    the docket checks one, a bad one being a usage error that names it."""
    try:
        return check_key(value)
    except (TypeError, ValueError) as error:
        raise typer.BadParameter(str(error)) from None


UrlOption = Annotated[
    str,
    typer.Option(
        "--url",
        envvar="STREW_URL",
        metavar="URL",
        parser=_url,
        help="The store: redis://host:port/db, rediss://..., unix:///path, redis+cluster://, "
        "redis+sentinel:// or memory:// (docs/stores.md).",
    ),
]
DocketOption = Annotated[
    str,
    typer.Option(
        "--docket",
        envvar="STREW_DOCKET",
        metavar="NAME",
        parser=_docket_name,
        help="The docket's name: workers and producers of one docket share it.",
    ),
]
LoadArgumentsOption = Annotated[
    bool,
    typer.Option(
        "--load-arguments",
        envvar="STREW_LOAD_ARGUMENTS",
        help="Unpickle the arguments, results and strike values shown even when they cannot "
        "be verified (no STREW_SIGNING_KEY). Unpickling runs whatever code the stored bytes "
        "name: use it only for a Redis that nobody else can write. Without it, plain values "
        "are shown and anything else only by its size.",
    ),
]
DEFAULT_DOCKET = "strew"
__all__ = [
    "DEFAULT_DOCKET",
    "DEFAULT_URL",
    "DocketOption",
    "LoadArgumentsOption",
    "UrlOption",
    "YesOption",
    "run",
]


NOBODY_TO_ASK = "standard input is not a terminal, so nobody can confirm: pass --yes"


def interactive() -> bool:
    """Whether a person can answer a question: standard input is a terminal. A command that
    would ask refuses with `NOBODY_TO_ASK` otherwise, so a script never waits on a question
    (or answers one by accident with whatever its standard input holds)."""
    return sys.stdin is not None and sys.stdin.isatty()


def stderr() -> Console:
    return Console(stderr=True)


def fail(message: str, code: int = EXIT_STORE) -> NoReturn:
    """Print ``Error: message`` on stderr (never wrapped, so it stays greppable) and exit."""
    stderr().print(f"[bold red]Error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def run(
    coroutine: Coroutine[Any, Any, T],
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> T:
    """Run a command's coroutine (on a loop ``loop_factory`` makes, asyncio's by default); a
    store that cannot be reached or refuses ends the command with its message and exit
    code 1."""
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            return runner.run(coroutine)
    except StoreAuthError as error:
        # Not "unreachable": a script retrying this command would retry forever.
        fail(f"Redis refused strew's credentials or permissions: {error}")
    except StoreUnavailable as error:
        fail(f"{error}")
    except StoreError as error:
        fail(f"{error}")


safe_url = masked


YesOption = Annotated[
    bool,
    typer.Option(
        "--yes",
        "-y",
        envvar="STREW_YES",
        help="Do not ask for confirmation (required when standard input is not a "
        "terminal, so a script never waits on a question).",
    ),
]
"""The confirmation every command that removes or reruns work asks for (clear, cancel, failed,
import-pydocket --delete)."""
