"""What the reading commands print: tables for people, ``--json`` for scripts.

`console` is the Rich console for tables: on a terminal it fits the terminal; piped or
redirected (``strew snapshot > file``, ``| grep``) it does not wrap lines at 80 columns
(Rich's default off a terminal) unless ``COLUMNS`` asks for a width.

``--json``: what the reading commands print for scripts instead of tables.

One JSON object per line on standard output, written directly (never through Rich, which
wraps and styles for a terminal). Times are ISO 8601 in UTC, durations are seconds. The keys
are documented in docs/cli.md ("Output for scripts") and are stable: new keys may appear,
none is renamed or removed without a release note.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console

from strew.agenda.agenda import AgendaEntry, Scattered
from strew.docket.snapshots import DocketSnapshot, RunningExecution, WorkerInfo
from strew.stores.records import FunctionCounts, FunctionTally, LimitUsage
from strew.task.execution import Execution

JsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        envvar="STREW_JSON",
        help="Print JSON (one object per line; keys in docs/cli.md) instead of tables, for "
        "scripts.",
    ),
]


PIPED_WIDTH = 10_000
"""Off a terminal, lines are as long as they need to be (tables do not stretch to it)."""


def console(*, stderr: bool = False) -> Console:
    """A Rich console that wraps only for a terminal (see the module docstring)."""
    plain = Console(stderr=stderr)
    if plain.is_terminal or os.environ.get("COLUMNS"):
        return plain
    return Console(stderr=stderr, width=PIPED_WIDTH)


def emit(document: dict[str, Any]) -> None:
    """Write ``document`` as one line of JSON to standard output, and flush it (a reader at
    the other end of a pipe sees each line as it is written)."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def moment(when: datetime | None) -> str | None:
    """ISO 8601 in UTC with microseconds, ``Z`` for the zone."""
    if when is None:
        return None
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def execution_json(execution: Execution) -> dict[str, Any]:
    """A scheduled task: ``key``, ``function``, ``call`` (its call as Python would write it,
    arguments shown only when the command loads them), ``when``, ``attempt``."""
    return {
        "key": execution.key,
        "function": execution.function_name,
        "call": execution.call_repr(all_arguments=True),
        "when": moment(execution.when),
        "attempt": execution.attempt,
    }


def running_json(running: RunningExecution) -> dict[str, Any]:
    """A running task: a scheduled task's keys, and ``worker``, ``started``,
    ``lease_deadline``."""
    return {
        **execution_json(running.execution),
        "worker": running.worker,
        "started": moment(running.started),
        "lease_deadline": moment(running.lease_deadline),
    }


def worker_json(worker: WorkerInfo) -> dict[str, Any]:
    """A live worker: ``name``, ``last_seen``, ``tasks`` (the keys it holds, sorted)."""
    return {
        "name": worker.name,
        "last_seen": moment(worker.last_seen),
        "tasks": sorted(worker.tasks),
    }


def limit_json(usage: LimitUsage) -> dict[str, Any]:
    return {
        "name": usage.name,
        "scope": usage.scope,
        "in_use": usage.in_use,
        "waiting": usage.waiting,
    }


def tally_json(tally: FunctionTally) -> dict[str, Any]:
    """``total`` (exact), ``exact`` (False: ``counts`` were estimated from a sample) and
    ``counts`` by function name (``""`` for payloads whose name cannot be read)."""
    return {
        "total": tally.total,
        "exact": tally.exact,
        "counts": dict(sorted(tally.counts.items())),
    }


def functions_json(counts: FunctionCounts) -> dict[str, Any]:
    return {
        "scheduled": tally_json(counts.scheduled),
        "running": tally_json(counts.running),
        "held": tally_json(counts.held),
    }


def scatter_json(
    docket: str,
    url: str,
    scattered: Scattered | None,
    agenda: Iterable[AgendaEntry],
    planned: list[datetime],
    *,
    dry_run: bool = False,
) -> dict[str, Any]:
    """What ``strew scatter --json`` prints: the scatter's id (None for a dry run or an empty
    file), its counts, and every task with its key and planned time, in file order."""
    entries = list(agenda)
    executions = list(scattered) if scattered is not None else []
    dispositions = Counter(execution.disposition.name for execution in executions)
    return {
        "docket": docket,
        "url": url,
        "dry_run": dry_run,
        "scatter_id": None if scattered is None else scattered.scatter_id,
        "function": _function_name(entries[0].function) if entries else None,
        "tasks": len(entries),
        "scheduled": dispositions.get("SCHEDULED", 0),
        "already_scheduled": dispositions.get("ALREADY_SCHEDULED", 0),
        "start": moment(min(planned, default=None)),
        "end": moment(max(planned, default=None)),
        "planned": [
            {
                "key": executions[index].key if executions else entry.key,
                "when": moment(when),
                "disposition": executions[index].disposition.name if executions else None,
            }
            for index, (entry, when) in enumerate(zip(entries, planned, strict=True))
        ],
    }


def _function_name(function: object) -> str:
    return function if isinstance(function, str) else str(getattr(function, "__name__", function))


def snapshot_head(name: str, url: str, taken: DocketSnapshot) -> dict[str, Any]:
    """The keys every snapshot-shaped answer starts with."""
    return {
        "docket": name,
        "url": url,
        "taken": moment(taken.taken),
    }
