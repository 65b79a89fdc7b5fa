"""``strew worker``: run the tasks of a docket until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

import typer

from strew.cli import health
from strew.cli import worker_compat as compat
from strew.cli.common import DEFAULT_DOCKET, EXIT_USAGE, DocketOption, UrlOption, fail, run
from strew.cli.durations import duration, format_duration, positive_duration
from strew.cli.loading import TaskImportError, import_tasks
from strew.cli.loops import LoopKind, loop_factory
from strew.cli.metrics import MetricsHostOption, MetricsPortOption, serving_metrics
from strew.cli.numbers import port, whole_number
from strew.cli.worker_logs import LoggingFormat, LoggingLevel, configure_logging
from strew.cli.worker_processes import (
    child_name,
    child_port,
    processes_count,
    run_children,
    signalled_early,
    stop_with_parent,
)
from strew.docket.docket import Docket
from strew.docket.settings import DEFAULT_URL
from strew.worker.worker import STARTUP_HANDLER, Worker

logger = logging.getLogger("strew.cli")

STANDARD_TASKS = "strew.tasks:standard"
"""What ``--tasks`` is without one: the built-in smoke-test tasks (always registered anyway),
as pydocket's worker defaults to its ``docket.tasks:standard_tasks``."""


def _duration_help(text: str, default: timedelta) -> str:
    # Escaped: Typer's help is Rich markup, where a bare [default: ...] is a style tag.
    return f"{text} \\[default: {format_duration(default)}]"


def _duration_option(
    flag: str, text: str, default: timedelta, parser: Callable[[str], timedelta]
) -> Any:
    """A ``--flag DURATION`` option read from ``STREW_FLAG`` too, its default in the help."""
    return typer.Option(
        flag,
        envvar="STREW_" + flag.removeprefix("--").upper().replace("-", "_"),
        parser=parser,
        metavar="DURATION",
        show_default=False,
        help=_duration_help(text, default),
    )


def worker(
    tasks: Annotated[
        list[str],
        typer.Option(
            "--tasks",
            envvar="STREW_TASKS",
            metavar="MODULE[:ATTRIBUTE]",
            help="Task functions to run: module:attribute naming a list of functions, or a "
            "module whose `tasks` attribute is one. Repeat for several; STREW_TASKS takes "
            "several separated by spaces. Without it, only the built-in trace, fail and "
            "sleep (as pydocket's worker does).",
        ),
    ] = [STANDARD_TASKS],  # noqa: B006 - Typer copies a default, never mutates it
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            envvar="STREW_WORKER_NAME",
            metavar="NAME",
            help="This worker's name, unique among live workers \\[default: host#pid#random].",
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            envvar="STREW_CONCURRENCY",
            parser=whole_number(1),
            metavar="N",
            help="Tasks run at once.",
        ),
    ] = 10,
    redelivery_timeout: Annotated[
        timedelta,
        _duration_option(
            "--redelivery-timeout",
            "Lease length: a task whose worker dies runs again this long after its last "
            "lease renewal.",
            timedelta(minutes=5),
            positive_duration,
        ),
    ] = timedelta(minutes=5),
    shutdown_grace: Annotated[
        timedelta,
        _duration_option(
            "--shutdown-grace",
            "On SIGTERM, how long running tasks may take to finish before they are "
            "handed back to another worker.",
            timedelta(seconds=30),
            duration,
        ),
    ] = timedelta(seconds=30),
    prefetch: Annotated[
        timedelta,
        _duration_option(
            "--prefetch",
            "Tasks due this soon are claimed early and started at their exact due time.",
            timedelta(milliseconds=50),
            duration,
        ),
    ] = timedelta(milliseconds=50),
    poll_ceiling: Annotated[
        timedelta,
        _duration_option(
            "--poll-ceiling",
            "The longest the worker sleeps without asking the store (in case a wake-up was lost).",
            timedelta(seconds=1),
            positive_duration,
        ),
    ] = timedelta(seconds=1),
    reconnection_delay: Annotated[
        timedelta,
        _duration_option(
            "--reconnection-delay",
            "The longest pause between attempts while the store is down.",
            timedelta(seconds=5),
            positive_duration,
        ),
    ] = timedelta(seconds=5),
    healthcheck_port: Annotated[
        int | None,
        typer.Option(
            "--healthcheck-port",
            envvar="STREW_HEALTHCHECK_PORT",
            parser=port,
            metavar="PORT",
            help="Answer GET / on HOST:PORT with 200 while the worker runs and its "
            "store answers, 503 otherwise (for liveness probes). Off by default.",
        ),
    ] = None,
    healthcheck_host: Annotated[
        str,
        typer.Option(
            "--healthcheck-host",
            envvar="STREW_HEALTHCHECK_HOST",
            metavar="ADDRESS",
            help="The address --healthcheck-port listens on: loopback by default; 0.0.0.0 "
            "for a probe from outside the pod or host, such as a Kubernetes httpGet probe.",
        ),
    ] = health.HOST,
    metrics_port: MetricsPortOption = None,
    metrics_host: MetricsHostOption = "0.0.0.0",
    logging_level: Annotated[
        LoggingLevel,
        typer.Option(
            "--logging-level",
            envvar="STREW_LOGGING_LEVEL",
            case_sensitive=False,
            metavar="LEVEL",
            help="debug, info, warning, error or critical. INFO shows one line per task "
            "start (with how late it started) and finish.",
        ),
    ] = LoggingLevel.INFO,
    processes: Annotated[
        int,
        typer.Option(
            "--processes",
            envvar="STREW_PROCESSES",
            parser=processes_count,
            metavar="N",
            help="Worker processes, each with its own event loop and --concurrency: 0 or "
            "auto for one per CPU. Above 1, each has its own name (NAME#i), its own "
            "metrics and health ports (PORT+i), and SIGTERM stops them all; a process that "
            "dies stops the others and the command exits 1.",
        ),
    ] = 1,
    loop: Annotated[
        LoopKind,
        typer.Option(
            "--loop",
            envvar="STREW_LOOP",
            case_sensitive=False,
            help="The event loop: auto (uvloop when installed, the strew[uvloop] extra), "
            "asyncio or uvloop.",
        ),
    ] = LoopKind.AUTO,
    logging_format: Annotated[
        LoggingFormat,
        typer.Option(
            "--logging-format",
            envvar="STREW_LOGGING_FORMAT",
            case_sensitive=False,
            metavar="FORMAT",
            help="plain: one line per record, UTC to the millisecond; rich: coloured, for a "
            "terminal; json: one JSON object per line (time, level, logger, message, and for "
            "task lines key, task, attempt, lateness_ms, duration_ms, outcome, and whatever "
            "a task logs with extra=).",
        ),
    ] = LoggingFormat.PLAIN,
    until_finished: Annotated[
        bool,
        typer.Option(
            "--until-finished",
            envvar="STREW_UNTIL_FINISHED",
            help="Exit 0 once nothing is scheduled or running in the docket (future tasks "
            "are waited for), instead of running until a signal.",
        ),
    ] = False,
    message_batch: compat.MessageBatchOption = None,
    minimum_check_interval: compat.MinimumCheckIntervalOption = None,
    scheduling_resolution: compat.SchedulingResolutionOption = None,
    schedule_automatic_tasks: compat.ScheduleAutomaticTasksOption = True,
    enable_internal_instrumentation: compat.EnableInternalInstrumentationOption = False,
    fallback_task: compat.FallbackTaskOption = None,
) -> None:
    """Run a docket's tasks until SIGTERM or SIGINT, or with --until-finished until empty.

    On the first signal the worker stops claiming, lets running tasks finish
    (for up to the shutdown grace), hands the rest back, and exits 0. A second
    signal hands running tasks back at once.

    Also pydocket's --schedule-automatic-tasks and --fallback-task MODULE:FUNCTION, and,
    accepted but changing nothing here (docs/cli.md says why): --message-batch,
    --minimum-check-interval, --scheduling-resolution,
    --\\[no-]enable-internal-instrumentation.
    """
    functions = []
    for spec in tasks:
        try:
            functions.extend(import_tasks(spec))
        except TaskImportError as error:
            fail(f"--tasks: {error}", EXIT_USAGE)
    if not functions:
        fail(f"--tasks: {', '.join(map(repr, tasks))} named no task functions", EXIT_USAGE)
    fallback = None
    if fallback_task is not None:
        try:
            named = import_tasks(fallback_task)
        except TaskImportError as error:
            fail(f"--fallback-task: {error}", EXIT_USAGE)
        if len(named) != 1:
            fail(
                f"--fallback-task: {fallback_task!r} names {len(named)} functions, not one",
                EXIT_USAGE,
            )
        fallback = named[0]

    try:
        factory, loop_name = loop_factory(loop)
    except ImportError:
        fail("--loop uvloop: uvloop is not installed (pip install 'strew[uvloop]')", EXIT_USAGE)
    configure_logging(logging_level, logging_format)
    compat.explain(
        message_batch=message_batch,
        minimum_check_interval=minimum_check_interval,
        scheduling_resolution=scheduling_resolution,
        schedule_automatic_tasks=schedule_automatic_tasks,
        enable_internal_instrumentation=enable_internal_instrumentation,
        fallback_task=fallback_task,
    )

    def build(worker_name: str | None) -> tuple[Docket, Worker]:
        the_docket = Docket(docket, url)
        # The built-in smoke-test tasks come with the Worker (a task of the user's with the
        # same name, registered here, keeps its name).
        for function in functions:
            try:
                the_docket.register(function)
            except (TypeError, ValueError) as error:
                fail(f"--tasks: cannot register {function!r}: {error}", EXIT_USAGE)
        try:
            the_worker = Worker(
                the_docket,
                name=worker_name,
                concurrency=concurrency,
                redelivery_timeout=redelivery_timeout,
                reconnection_delay=reconnection_delay,
                shutdown_grace=shutdown_grace,
                poll_ceiling=poll_ceiling,
                prefetch=prefetch,
                schedule_automatic_tasks=schedule_automatic_tasks,
                fallback_task=fallback,
            )
        except (TypeError, ValueError) as error:
            fail(str(error), EXIT_USAGE)
        return the_docket, the_worker

    def work(index: int | None = None, parent: int | None = None) -> int:
        the_docket, the_worker = build(name if index is None else child_name(name, index))
        if index is not None:
            configure_logging(logging_level, logging_format, child=index)
        _stop_when_signalled_early(the_worker)
        if index is not None and signalled_early():
            the_worker.stop()
        metrics = metrics_port if index is None else child_port(metrics_port, index)
        health_port = healthcheck_port if index is None else child_port(healthcheck_port, index)
        logger.debug("event loop: %s", loop_name)
        with serving_metrics(metrics, metrics_host):
            run(
                _work(
                    the_docket, the_worker, health_port, healthcheck_host, until_finished, parent
                ),
                factory,
            )
        return 0

    # Everything imported so far lives as long as the process: out of the collector's
    # sight, full collections stop walking it (and forked children stop copying its pages).
    gc.freeze()
    if processes == 1:
        work()
        return
    build(child_name(name, 0))  # every bad argument is refused once, before any fork
    raise typer.Exit(run_children(processes, work))


def _stop_when_signalled_early(worker: Worker) -> None:
    """Until the worker's loop installs its own handlers, make SIGTERM and SIGINT ask it to
    stop rather than kill the process: the metrics endpoint is up and the store is being
    reached before that, and a supervisor that stops a worker which is still starting
    should see it exit 0 like any other stop."""

    def on_signal(signum: int, frame: object) -> None:
        logger.info(
            "worker %s got %s while starting: it will stop as soon as it has started",
            worker.name,
            signal.Signals(signum).name,
        )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # before asyncio.run: the request carries over to the run
            worker.stop()
        else:  # the one way into a running loop that is safe from a signal handler
            loop.call_soon_threadsafe(worker.stop)

    setattr(on_signal, STARTUP_HANDLER, True)  # the worker's run takes over from it
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)


async def _work(
    docket: Docket,
    worker: Worker,
    healthcheck_port: int | None,
    healthcheck_host: str,
    until_finished: bool = False,
    parent: int | None = None,
) -> None:
    async with docket:
        if parent is not None:
            stop_with_parent(worker, parent)
        # Fail fast on a wrong URL or a server that is down, with one clear line, instead of
        # a worker that starts and then logs retries forever.
        await docket.store.now()
        if docket.url.startswith("memory://"):
            logger.warning(
                "docket %s uses the in-process memory store: only tasks this process "
                "schedules itself will run",
                docket.name,
            )
        logger.info("tasks: %s", ", ".join(sorted(docket.tasks)))
        # Until finished, SIGTERM and SIGINT still stop the worker gracefully: the handlers
        # `_stop_when_signalled_early` installed stay, as run_until_finished adds none.
        work = worker.run_until_finished if until_finished else worker.run_forever
        if healthcheck_port is None:
            await work()
            return
        running = asyncio.create_task(work(), name="strew worker run")
        try:
            server = await health.serve(
                healthcheck_port,
                health.store_check(running, docket.store.now),
                healthcheck_host,
            )
        except OSError as error:
            worker.stop()
            await running
            fail(
                f"--healthcheck-port: cannot listen on {healthcheck_host}:{healthcheck_port}: "
                f"{error}"
            )
        async with server:
            await running
