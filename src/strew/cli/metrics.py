"""``strew worker --metrics-port``: Prometheus metrics over HTTP beside the worker."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from strew.cli.common import fail
from strew.cli.numbers import port
from strew.signals.metrics import serve_metrics

logger = logging.getLogger("strew.cli")

MetricsPortOption = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        envvar="STREW_METRICS_PORT",
        parser=port,
        metavar="PORT",
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (strew's task counters, "
        "gauges and histograms, and the process's). Off by default.",
    ),
]

MetricsHostOption = Annotated[
    str,
    typer.Option(
        "--metrics-host",
        envvar="STREW_METRICS_HOST",
        metavar="ADDRESS",
        help="The address --metrics-port listens on: every interface by default, so that "
        "Prometheus can scrape it from elsewhere; 127.0.0.1 keeps it local.",
    ),
]


@contextmanager
def serving_metrics(port: int | None, host: str) -> Iterator[None]:
    """Serve metrics for the duration of the block (nothing when ``port`` is None); a port
    that cannot be bound ends the command with a clear message before the worker starts."""
    if port is None:
        yield
        return
    try:
        server = serve_metrics(port, host)
    except OSError as error:
        fail(f"--metrics-port: cannot listen on {host}:{port}: {error}")
    logger.info("metrics on http://%s:%d/metrics", host, server.port)
    with server:
        yield
