"""``strew import-pydocket``: move the tasks a pydocket docket has waiting into a strew docket.

pydocket keeps its tasks in keys strew never reads (see `strew.cli.pydocket_keys`), so a
system switching from pydocket would leave them behind. This reads them, re-encodes each in
strew's envelope (same key, due time, function name, args, kwargs and attempt) and schedules
it as `Docket.add` would: a key strew already has scheduled or running keeps its schedule.
"""

from __future__ import annotations

import pickle
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import redis.asyncio as aioredis
import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape

from strew.cli.common import (
    DEFAULT_DOCKET,
    EXIT_USAGE,
    NOBODY_TO_ASK,
    DocketOption,
    LoadArgumentsOption,
    UrlOption,
    YesOption,
    fail,
    interactive,
    run,
    safe_url,
)
from strew.cli.pydocket_keys import PydocketDocket, PydocketTasks, WaitingTask
from strew.docket.docket import Docket
from strew.docket.settings import ADD_CHUNK, DEFAULT_URL
from strew.stores.records import Entry
from strew.stores.urls import validate_url
from strew.task.checks import check_key
from strew.task.clock import to_micros
from strew.task.pickles import plain_loads

PYDOCKET_DEFAULT_NAME = "docket"
RUNNING_NOT_MOVED = (
    "a pydocket worker has read them and may still be running them, so moving them could run "
    "them twice: they finish, or are redelivered, under pydocket"
)
SHOWN = 10
"""How many keys a list of skipped or running tasks names before it says "and N more"."""


def _from_url(value: str) -> str:
    try:
        url = validate_url(value)
    except (TypeError, ValueError) as error:
        raise typer.BadParameter(str(error)) from None
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise typer.BadParameter(
            f"pydocket's docket is read from redis://, rediss:// or unix:// only, got "
            f"{safe_url(url)!r}"
        )
    return url


def _from_docket(value: str) -> str:
    if not value or value != value.strip():
        raise typer.BadParameter(f"a pydocket docket's name, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Ready:
    """A waiting task whose arguments were read: what strew will schedule."""

    task: WaitingTask
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def decode(task: WaitingTask, load_arguments: bool) -> Ready:
    """``task`` with its arguments unpickled: all of pickle with ``load_arguments`` (which
    runs whatever code the bytes name), plain values only otherwise. ValueError saying why
    it cannot be moved."""
    check_key(task.key)
    try:
        if load_arguments:
            args, kwargs = pickle.loads(task.args), pickle.loads(task.kwargs)
        else:
            args, kwargs = plain_loads(task.args), plain_loads(task.kwargs)
    except pickle.UnpicklingError as error:
        if not load_arguments and "only plain values" in str(error):
            raise ValueError(f"{error} (--load-arguments unpickles them)") from None
        raise ValueError(f"its arguments cannot be unpickled: {error}") from None
    except BaseException as error:  # a pickle runs what it names: it can raise anything
        raise ValueError(
            f"its arguments cannot be unpickled: {type(error).__name__}: {error}"
        ) from None
    if not isinstance(args, tuple | list) or not isinstance(kwargs, dict):
        raise ValueError("its args are not a tuple or its kwargs not a dict")
    if not all(isinstance(name, str) for name in kwargs):
        raise ValueError("its kwargs have a name that is not a string")
    return Ready(task, tuple(args), dict(kwargs))


def import_pydocket(
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    from_url: Annotated[
        str | None,
        typer.Option(
            "--from-url",
            envvar="STREW_FROM_URL",
            metavar="URL",
            parser=_from_url,
            help="pydocket's Redis: redis://, rediss:// or unix:// \\[default: --url].",
            show_default=False,
        ),
    ] = None,
    from_docket: Annotated[
        str,
        typer.Option(
            "--from-docket",
            envvar="STREW_FROM_DOCKET",
            metavar="NAME",
            parser=_from_docket,
            help="pydocket's docket name.",
        ),
    ] = PYDOCKET_DEFAULT_NAME,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            envvar="STREW_DRY_RUN",
            help="Say what would be moved, by function, and write nothing.",
        ),
    ] = False,
    delete: Annotated[
        bool,
        typer.Option(
            "--delete",
            envvar="STREW_DELETE",
            help="Remove the tasks moved from pydocket's keys, once strew has them (without "
            "it pydocket keeps its copy: stop pydocket's workers, or tasks run twice).",
        ),
    ] = False,
    yes: YesOption = False,
    load_arguments: LoadArgumentsOption = False,
) -> None:
    """Move the tasks a pydocket docket has waiting (due now, in its stream, and later, in
    its queue) into a strew docket: same key, due time, function, args, kwargs and attempt.

    A key strew already has scheduled is left alone and counted. Tasks a pydocket worker is
    running are named, not moved. pydocket pickles arguments: without --load-arguments only
    plain values (numbers, strings, dates, containers of them...) are read and a task with
    anything else is skipped and named; --load-arguments unpickles everything, which runs
    whatever code the stored bytes name: use it only for a Redis nobody else can write.
    Stop pydocket's workers first. Says what it found and asks, unless --yes or --dry-run.
    """
    source = from_url or url
    if not source.startswith(("redis://", "rediss://", "unix://")):
        fail(f"--from-url: give pydocket's Redis, got {safe_url(source)!r}", EXIT_USAGE)
    if not dry_run and not yes and not interactive():
        fail(NOBODY_TO_ASK, EXIT_USAGE)
    found = run(_read(source, from_docket))
    where = f"pydocket docket {from_docket} at {safe_url(source)}"
    ready, skipped = _decode_all(found, load_arguments)
    _report(where, found, ready, skipped)
    if dry_run or not ready:
        Console().print("Dry run: nothing was written." if dry_run else "Nothing to move.")
        return
    target = f"strew docket {docket} at {safe_url(url)}"
    if not yes:
        typer.confirm(f"Schedule {_tasks(len(ready))} on {target}?", abort=True)
    written, kept = run(_schedule(url, docket, ready))
    console = Console()
    console.print(
        f"Scheduled {len(written):,} on {target}; {len(kept):,} already scheduled there, "
        "left alone.",
        soft_wrap=True,
        highlight=False,
    )
    if not delete:
        console.print(f"pydocket still holds them ({where}): pass --delete to remove them.")
        return
    removed = run(_remove(source, from_docket, [item.task for item in written]))
    console.print(f"Removed {removed:,} moved tasks from {where}.", soft_wrap=True)


def _decode_all(
    found: PydocketTasks, load_arguments: bool
) -> tuple[list[Ready], list[tuple[str, str]]]:
    ready: list[Ready] = []
    skipped = [(item.where, item.problem) for item in found.unreadable]
    for task in found.waiting:
        try:
            ready.append(decode(task, load_arguments))
        except (TypeError, ValueError) as error:
            skipped.append((f"{task.function_name} {task.key!r}", str(error)))
    return ready, skipped


def _report(
    where: str, found: PydocketTasks, ready: list[Ready], skipped: list[tuple[str, str]]
) -> None:
    console = Console(highlight=False)
    due_now = sum(item.task.place == "stream" for item in ready)
    console.print(
        f"{escape(where)}: {_tasks(len(ready))} to move ({due_now:,} due now, "
        f"{len(ready) - due_now:,} later), {len(found.running):,} running, "
        f"{len(skipped):,} skipped.",
        soft_wrap=True,
    )
    by_function = Counter(item.task.function_name for item in ready)
    width = max((len(name) for name in by_function), default=0)
    for name, count in sorted(by_function.items()):
        console.print(f"  {escape(name).ljust(width)}  {count:>8,}", soft_wrap=True)
    if found.running:
        console.print(
            f"Not moved, running: {_names(found.running)} ({RUNNING_NOT_MOVED}).", soft_wrap=True
        )
    for what, why in skipped[:SHOWN]:
        console.print(f"Skipped {escape(what)}: {escape(why)}", soft_wrap=True)
    if len(skipped) > SHOWN:
        console.print(f"...and {len(skipped) - SHOWN:,} more skipped.")


def _tasks(count: int) -> str:
    return f"{count:,} task{'' if count == 1 else 's'}"


def _names(keys: Sequence[str]) -> str:
    shown = ", ".join(escape(key) for key in keys[:SHOWN])
    return shown + (f" and {len(keys) - SHOWN:,} more" if len(keys) > SHOWN else "")


async def _read(url: str, name: str) -> PydocketTasks:
    client = aioredis.Redis.from_url(url)
    try:
        return await PydocketDocket(client, name).read()
    except RedisError as error:
        fail(f"reading pydocket's docket {name!r} at {safe_url(url)}: {error}")
    finally:
        await client.aclose()


async def _remove(url: str, name: str, tasks: list[WaitingTask]) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        return await PydocketDocket(client, name).remove(tasks)
    except RedisError as error:
        fail(
            f"strew has the tasks, but removing them from pydocket's docket {name!r} at "
            f"{safe_url(url)} failed: {error} (pydocket may still hold some: stop its workers "
            "and cancel those with pydocket)"
        )
    finally:
        await client.aclose()


async def _schedule(url: str, name: str, ready: list[Ready]) -> tuple[list[Ready], list[Ready]]:
    """Schedule ``ready`` on strew's docket ``name``: those written, those whose key strew
    already had. Each chunk is one atomic write; strikes are not consulted (as for a retry,
    these tasks were scheduled before)."""
    async with Docket(name, url, load_arguments=False) as docket:
        entries = []
        for item in ready:
            due = to_micros(item.task.when)
            payload = docket.codec.dump(
                item.task.function_name, item.args, item.kwargs, due, item.task.attempt
            )
            entries.append(Entry(item.task.key, due, payload))
        flags: list[bool] = []
        for start in range(0, len(entries), ADD_CHUNK):
            flags += await docket.store.schedule(entries[start : start + ADD_CHUNK], replace=False)
    written = [item for item, flag in zip(ready, flags, strict=True) if flag]
    kept = [item for item, flag in zip(ready, flags, strict=True) if not flag]
    return written, kept
