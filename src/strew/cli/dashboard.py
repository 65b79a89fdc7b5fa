"""``strew dashboard``: serve the web dashboard of one docket (docs/dashboard.md).

Bound to a loopback address (the default) it answers anyone on this machine; bound to any
other it refuses to start without ``--token``, and then asks every request for it (as the
password of HTTP basic auth, or ``Authorization: Bearer TOKEN``)."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated

import typer

from strew.cli.common import (
    DEFAULT_DOCKET,
    EXIT_USAGE,
    DocketOption,
    LoadArgumentsOption,
    UrlOption,
    fail,
    run,
    safe_url,
    stderr,
)
from strew.cli.durations import positive_duration
from strew.docket.docket import Docket
from strew.docket.settings import DEFAULT_URL

DEFAULT_PORT = 8420


def is_loopback(host: str) -> bool:
    """Whether ``host`` only ever listens on this machine: ``localhost`` or a loopback
    address. Any other name may resolve to anything, so it is not."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def dashboard(
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            envvar="STREW_HOST",
            metavar="HOST",
            help="The address to listen on. Anything but a loopback address needs --token.",
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            "--port",
            envvar="STREW_PORT",
            metavar="PORT",
            min=0,
            max=65535,
            help="The port to listen on.",
        ),
    ] = DEFAULT_PORT,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="STREW_TOKEN",
            metavar="TOKEN",
            show_default=False,
            help="Ask every request for this secret (at least 16 characters), as the password "
            "of HTTP basic auth (any user name) or as 'Authorization: Bearer TOKEN'. Prefer "
            "STREW_TOKEN to the option: a command line is visible to every user.",
        ),
    ] = None,
    read_only: Annotated[
        bool,
        typer.Option(
            "--read-only",
            envvar="STREW_READ_ONLY",
            help="Show, never act: no cancel, strike, lift or drop, not even their routes.",
        ),
    ] = False,
    refresh: Annotated[
        timedelta,
        typer.Option(
            "--refresh",
            envvar="STREW_REFRESH",
            parser=positive_duration,
            metavar="DURATION",
            show_default=False,
            help="How often open pages re-read the store (one read per page shown, shared "
            "by every viewer). \\[default: 2s]",
        ),
    ] = timedelta(seconds=2),
    load_arguments: LoadArgumentsOption = False,
) -> None:
    """Serve the web dashboard: load ahead, running tasks, workers, strikes, held and
    quarantined tasks, and each task by key, with cancel, strike and drop unless
    --read-only."""
    try:
        from strew.dashboard import strew_dashboard
        from strew.dashboard.safety import TokenAuth, check_token
    except ImportError as error:
        fail(
            f"the dashboard needs the 'dashboard' extra (pip install 'strew[dashboard]'): {error}",
            EXIT_USAGE,
        )
    if token is not None:
        try:
            check_token(token)
        except ValueError as error:
            fail(f"--token: {error}", EXIT_USAGE)
    elif not is_loopback(host):
        fail(
            f"--host {host} is not a loopback address: anyone who can reach it could cancel "
            "work. Give --token (or STREW_TOKEN), or --host 127.0.0.1.",
            EXIT_USAGE,
        )
    if refresh < timedelta(milliseconds=500):
        fail(f"--refresh must be at least 500ms, got {refresh}", EXIT_USAGE)

    async def serve() -> None:
        import uvicorn

        async with Docket(docket, url, load_arguments=load_arguments) as the_docket:
            app = strew_dashboard(the_docket, read_only=read_only, refresh=refresh)
            served = app if token is None else TokenAuth(app, token)
            where = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
            stderr().print(
                f"strew dashboard of docket {docket} at {safe_url(url)} on {where}"
                + (" (read-only)" if read_only else "")
                + (" (token required)" if token else ""),
                soft_wrap=True,
                highlight=False,
            )
            config = uvicorn.Config(
                served,
                host=host,
                port=port,
                log_level="warning",
                server_header=False,
                lifespan="off",
            )
            await uvicorn.Server(config).serve()

    run(serve())
