"""``strew scatter``: spread a file of task arguments evenly over a window of time."""

from __future__ import annotations

import re
import warnings
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from strew.agenda.agenda import Agenda
from strew.agenda.catch_up import CatchUp
from strew.agenda.limits import RateLimitWarning
from strew.agenda.plan import level_slices, window_length
from strew.cli.args_file import ArgsFileError, read_args_file
from strew.cli.common import (
    DEFAULT_DOCKET,
    EXIT_USAGE,
    DocketOption,
    UrlOption,
    fail,
    run,
    safe_url,
)
from strew.cli.durations import duration, format_duration, parse_duration, positive_duration
from strew.cli.loading import TaskImportError, import_tasks
from strew.cli.numbers import whole_number
from strew.cli.output import JsonOption, emit, scatter_json
from strew.cli.output import console as output_console
from strew.cli.render import clock, count_into_slices, histogram, offset_labels
from strew.dependencies import RateLimit, controls_of
from strew.docket.docket import Docket
from strew.docket.settings import DEFAULT_URL
from strew.task.clock import from_micros, to_micros, utc_now
from strew.task.execution import Disposition

CATCH_UP_FORMS = "run-late, respread, respread:SPEED (e.g. respread:1.5) or skip:AGE (e.g. skip:5m)"


def parse_catch_up(text: str) -> CatchUp:
    """The `CatchUp` policy ``text`` spells: ``run-late``, ``respread``, ``respread:1.5`` (the
    backlog drains at 1.5 times the planned rate) or ``skip:5m`` (tasks that would start more
    than five minutes late are skipped). ValueError naming the text otherwise."""
    name, colon, figure = text.strip().lower().partition(":")
    problem = f"{text!r} is not a catch-up policy: use {CATCH_UP_FORMS}"
    try:
        if name == "run-late" and not colon:
            return CatchUp.run_late()
        if name == "respread" and not colon:
            return CatchUp.respread()
        if name == "respread" and figure:
            try:
                speed = float(figure.removesuffix("x"))
            except ValueError:
                raise ValueError(f"{problem} ({figure!r} is not a speed)") from None
            return CatchUp.respread(speed=speed)
        if name == "skip" and figure:
            return CatchUp.skip(older_than=parse_duration(figure))
    except (TypeError, ValueError) as error:
        if str(error).startswith(repr(text)):
            raise
        raise ValueError(f"{text!r}: {error}") from None
    raise ValueError(problem)


def catch_up_text(policy: CatchUp) -> str:
    """``policy`` as `parse_catch_up` reads it (the inverse, to the millisecond)."""
    if policy.kind == "run_late":
        return "run-late"
    if policy.kind == "skip":
        assert policy.limit is not None
        return f"skip:{format_duration(policy.limit)}"
    return "respread" if policy.speed == 1.0 else f"respread:{policy.speed:g}"


def _catch_up_option(value: str | CatchUp) -> CatchUp:
    if isinstance(value, CatchUp):  # Typer runs parsers on defaults too
        return value
    try:
        return parse_catch_up(value)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None


def _start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--start: {value!r} is not an ISO 8601 time such as 2030-01-01T09:00:00Z", EXIT_USAGE)
    if moment.tzinfo is None:
        fail(f"--start: {value!r} has no time zone: add Z or an offset such as +02:00", EXIT_USAGE)
    return moment


_FRACTION = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)(e[+-]?\d+)?", re.IGNORECASE)


def _seed(value: str | None) -> int | str | None:
    """A whole number is an int seed (``--seed 7`` plans as ``seed=7`` does), any other word
    a str seed; an empty seed (often an unset ``STREW_SEED=``) or a number with a fraction
    or an exponent (the API refuses float seeds; here ``1.5`` would silently seed as a
    word) is refused."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        fail(f"--seed must be a whole number or a word, got {value!r}", EXIT_USAGE)
    if text.lstrip("+-").isdigit():
        return int(text)
    if _FRACTION.fullmatch(text):
        fail(
            f"--seed must be a whole number or a word, got {value!r} (not a whole number)",
            EXIT_USAGE,
        )
    return value


def scatter(
    task: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:FUNCTION",
            envvar="STREW_TASK",
            help="The task function, as an import string (workers must know it by the same name).",
            show_default=False,
        ),
    ],
    args_file: Annotated[
        Path,
        typer.Option(
            "--args-file",
            envvar="STREW_ARGS_FILE",
            help='One task per line: a JSON array of arguments, or {"args": [...], '
            '"kwargs": {...}, "key": "..."}. "-" reads standard input.',
            allow_dash=True,
        ),
    ],
    over: Annotated[
        timedelta | None,
        typer.Option(
            "--over",
            envvar="STREW_OVER",
            parser=positive_duration,
            metavar="DURATION",
            help="The window's length (give --over, --rate or --every).",
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate",
            envvar="STREW_RATE",
            help="Tasks per second; the window is as long as the batch needs.",
        ),
    ] = None,
    every: Annotated[
        timedelta | None,
        typer.Option(
            "--every",
            envvar="STREW_EVERY",
            parser=positive_duration,
            metavar="DURATION",
            help="One task per this long; the window is as long as the batch needs.",
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--start",
            envvar="STREW_START",
            metavar="ISO-TIME",
            help="When the window opens, e.g. 2030-01-01T09:00:00Z \\[default: now].",
            show_default=False,
        ),
    ] = None,
    jitter: Annotated[
        timedelta | None,
        typer.Option(
            "--jitter",
            envvar="STREW_JITTER",
            parser=duration,
            metavar="DURATION",
            help="Move each task by a random amount up to this, staying in the window.",
        ),
    ] = None,
    seed: Annotated[
        str | None,
        typer.Option(
            "--seed",
            envvar="STREW_SEED",
            help="Makes the jitter repeatable: the same seed plans the same times.",
        ),
    ] = None,
    level: Annotated[
        bool,
        typer.Option(
            "--level",
            envvar="STREW_LEVEL",
            help="Place the batch around what is already scheduled, to flatten the total load.",
        ),
    ] = False,
    catch_up: Annotated[
        CatchUp | None,
        typer.Option(
            "--catch-up",
            envvar="STREW_CATCH_UP",
            parser=_catch_up_option,
            metavar="POLICY",
            help="What tasks found late after an outage do: run-late (the default), respread "
            "(spread again at the planned rate), respread:1.5 (at 1.5x), skip:5m (skip tasks "
            "more than 5m late).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            envvar="STREW_DRY_RUN",
            help="Only plan and draw the load; write nothing.",
        ),
    ] = False,
    buckets: Annotated[
        int,
        typer.Option(
            "--buckets",
            envvar="STREW_BUCKETS",
            parser=whole_number(1, 1000),
            metavar="N",
            help="How many slices (1 to 1,000) the load histogram cuts the window into.",
        ),
    ] = 24,
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    json_output: JsonOption = False,
) -> None:
    """Scatter one task per line of an arguments file evenly over a window of time.

    Everything is read and checked first (a bad line names its number and nothing is
    written); the batch is then written all-or-nothing, with a progress bar, and the planned
    load is drawn as a histogram.
    """
    try:
        functions = import_tasks(task)
    except TaskImportError as error:
        fail(f"MODULE:FUNCTION: {error}", EXIT_USAGE)
    if len(functions) != 1:
        fail(f"{task!r} names {len(functions)} functions; scatter needs exactly one", EXIT_USAGE)
    [function] = functions
    begin = _start(start)
    try:
        lines = read_args_file(args_file, function)
    except ArgsFileError as error:
        fail(str(error), EXIT_USAGE)
    except OSError as error:
        fail(f"--args-file: cannot read {str(args_file)!r}: {error.strerror}", EXIT_USAGE)
    agenda = Agenda()
    for line in lines:
        agenda.add(function, key=line.key)(*line.args, **line.kwargs)
    chosen_seed = _seed(seed)
    # A dry run plans from this machine's clock; a real scatter from the store's.
    plan_start = begin or utc_now()
    try:
        window = window_length(len(agenda), over, rate, every)
        # Planning once here checks every remaining argument before the store is touched.
        planned = agenda.plan(over, plan_start, jitter, seed=chosen_seed, rate=rate, every=every)
    except (TypeError, ValueError) as error:
        fail(f"{_as_options(str(error))}", EXIT_USAGE)
    if not lines:
        Console(stderr=json_output).print(f"{args_file}: no tasks (the file has no lines).")
        if json_output:
            emit(scatter_json(docket, safe_url(url), None, [], [], dry_run=dry_run))
        return
    if dry_run and json_output and not level:
        emit(scatter_json(docket, safe_url(url), None, agenda, planned, dry_run=True))
        return
    if dry_run:
        console = output_console()
        if catch_up is not None:
            console.print(f"Catch-up after an outage: {catch_up_text(catch_up)}.")
        existing = None
        if level:
            # Levelling plans around what the store holds, so this dry run has to read it
            # (and only read it).
            planned, plan_start, existing = run(
                _levelled_plan(
                    agenda, url, docket, over, begin, jitter, chosen_seed, rate, every, buckets
                )
            )
        limit = task_rate_limit(function)
        _draw(
            console,
            planned,
            plan_start,
            window,
            buckets,
            dry_run=True,
            existing=existing,
            rate_limit=limit,
        )
        return
    run(
        _scatter(
            agenda,
            url,
            docket,
            over,
            rate,
            every,
            begin,
            jitter,
            chosen_seed,
            level,
            buckets,
            catch_up,
            json_output,
        )
    )


def _as_options(message: str) -> str:
    # The agenda speaks in keyword arguments; on the command line they are options.
    if message.startswith("missing the required argument 'over'"):
        return "give exactly one of --over, --rate or --every, got none"
    message = message.replace("'over' parameter must", "--over must")
    for name in ("over", "rate", "every", "jitter", "start"):
        message = message.replace(f"{name}=", f"--{name}").replace(f"{name} must", f"--{name} must")
    return message


async def _levelled_plan(
    agenda: Agenda,
    url: str,
    name: str,
    over: timedelta | None,
    start: datetime | None,
    jitter: timedelta | None,
    seed: int | str | None,
    rate: float | None,
    every: timedelta | None,
    buckets: int,
) -> tuple[list[datetime], datetime, list[int] | None]:
    """The plan `scatter(level=True)` would make now: around the load already scheduled in
    the window, read from the store, from the store's clock unless ``start`` is given. Also
    that load in ``buckets`` slices, to draw beside the plan."""
    async with Docket(name, url) as docket:
        begin = start or from_micros(await docket.store.now())
        window = window_length(len(agenda), over, rate, every)
        if window <= 0:
            return agenda.plan(over, begin, jitter, seed=seed, rate=rate, every=every), begin, None
        low, high = to_micros(begin), to_micros(begin) + window
        existing = await docket.store.histogram(low, high, level_slices(len(agenda), window))
        shown = await docket.store.histogram(low, high, buckets)
    planned = agenda.plan(over, begin, jitter, seed=seed, rate=rate, every=every, existing=existing)
    return planned, begin, shown


async def _scatter(
    agenda: Agenda,
    url: str,
    name: str,
    over: timedelta | None,
    rate: float | None,
    every: timedelta | None,
    start: datetime | None,
    jitter: timedelta | None,
    seed: int | str | None,
    level: bool,
    buckets: int,
    catch_up: CatchUp | None,
    json_output: bool = False,
) -> None:
    console = output_console(stderr=json_output)
    async with Docket(name, url) as docket:
        # The window opens at the store's "now" (as scatter would choose), fixed here so the
        # histogram below is drawn over exactly the window that was planned.
        begin = start or from_micros(await docket.store.now())
        with Progress(
            TextColumn("writing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            # Off a terminal a progress bar is noise in a log; the summary line says it all.
            disable=not console.is_terminal,
        ) as progress:
            bar = progress.add_task("writing", total=len(agenda))

            def on_progress(done: int, total: int) -> None:
                progress.update(bar, completed=done, total=total)

            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RateLimitWarning)
                scattered = await agenda.scatter(
                    docket,
                    over,
                    begin,
                    jitter,
                    seed=seed,
                    level=level,
                    rate=rate,
                    every=every,
                    on_progress=on_progress,
                    catch_up=catch_up,
                )
    if json_output:
        when_planned = [execution.when for execution in scattered]
        document = scatter_json(name, safe_url(url), scattered, agenda, when_planned)
        emit({**document, "warnings": [str(warning.message) for warning in caught]})
        return
    outcomes = Counter(execution.disposition for execution in scattered)
    # Only what this scatter wrote: a key that was already scheduled kept its earlier time.
    when = [e.when for e in scattered if e.disposition is Disposition.SCHEDULED]
    console.print(
        f"Scattered {len(scattered):,} task{'' if len(scattered) == 1 else 's'} of "
        f"{scattered[0].function_name} on docket {name} at {safe_url(url)}: "
        f"{outcomes[Disposition.SCHEDULED]:,} scheduled, "
        f"{outcomes[Disposition.ALREADY_SCHEDULED]:,} already scheduled (kept). "
        f"Scatter id {scattered.scatter_id}."
        + ("" if catch_up is None else f" Catch-up after an outage: {catch_up_text(catch_up)}."),
        soft_wrap=True,
    )
    window = window_length(len(agenda), over, rate, every)
    limit = task_rate_limit(next(iter(agenda)).function)
    _draw(console, when, begin, window, buckets, dry_run=False, rate_limit=limit)
    for warning in caught:
        console.print(f"[bold yellow]Warning:[/] {escape(str(warning.message))}", soft_wrap=True)


def task_rate_limit(function: Any) -> RateLimit | None:
    """The task's own `RateLimit` (a default: one limit for the task), if it has one."""
    return next(
        (
            control.control
            for control in controls_of(function)
            if control.parameter is None and isinstance(control.control, RateLimit)
        ),
        None,
    )


def _draw(
    console: Console,
    planned: list[datetime],
    start: datetime,
    window: int,
    buckets: int,
    *,
    dry_run: bool,
    existing: list[int] | None = None,
    rate_limit: RateLimit | None = None,
) -> None:
    """The planned load over the window; with ``existing`` (the load already scheduled, in
    ``buckets`` slices), the two added up, as workers will see them; with ``rate_limit`` (the
    task's own), the starts it allows per slice marked on every row."""
    end = start + timedelta(microseconds=window)
    if window <= 0:
        buckets = 1  # a single task: one slice at its moment
    counts = count_into_slices(planned, start, end, buckets)
    already = ""
    if existing is not None:
        counts = [new + old for new, old in zip(counts, existing, strict=True)]
        already = f" levelled around {sum(existing):,} already scheduled (shown added up),"
    labels = offset_labels(start, end, buckets) if window > 0 else ["+0s"]
    step = format_duration((end - start) / buckets)
    title = (
        f"{'Planned (dry run, nothing written)' if dry_run else 'Planned'} load: "
        f"{len(planned):,} tasks over {format_duration(end - start)} from {clock(start)},"
        f"{already} {buckets} slice{'' if buckets == 1 else 's'} of {step}"
    )
    allowed = None
    if rate_limit is not None and window > 0:
        allowed = rate_limit.rate * (end - start).total_seconds() / buckets
        title += (
            f"; │ = its rate limit ({rate_limit.limit:,} per {format_duration(rate_limit.per)}), "
            f"{allowed:,.4g} per slice"
        )
        if max(counts) > allowed:
            title += " (a slice over it is in red: the excess is put back)"
    console.print(histogram(counts, labels, title=title, limit=allowed))
