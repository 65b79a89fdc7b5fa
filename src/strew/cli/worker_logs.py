"""How ``strew worker`` logs: to stderr, plain, rich or JSON, each line of a worker process of
``--processes`` saying which."""

from __future__ import annotations

import enum
import logging
import sys
import time

from pythonjsonlogger.json import JsonFormatter
from rich.console import Console
from rich.logging import RichHandler

from strew import tasks as builtin
from strew.cli.worker_processes import ChildFilter


class LoggingLevel(enum.StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


def _utc(seconds: float | None) -> time.struct_time:
    return time.gmtime(seconds)


class _UtcFormatter(logging.Formatter):
    def __init__(self, child: int | None = None) -> None:
        which = "" if child is None else f" [process {child}]"
        super().__init__(
            f"%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s{which}: %(message)s",
            datefmt="%Y-%m-%d %H:%M:%S",
        )
        # UTC with a Z, so lines from workers in different time zones sort and compare as-is.
        self.converter = _utc


class LoggingFormat(enum.StrEnum):
    PLAIN = "plain"
    RICH = "rich"
    JSON = "json"


RUN_FIELDS = ("task", "attempt", "lateness_ms", "duration_ms", "redelivered", "outcome")
"""Fields a worker's record about a run carries (see `strew.worker.outcomes.run_fields`),
written beside the message in JSON: a collector can chart lateness without parsing text."""


class _JsonFormatter(JsonFormatter):
    """One JSON object per line, for log collectors (python-json-logger): time, level, logger,
    message, an ``exception`` when the record has one, and every field the record carries
    beside them: the task's ``key``, the worker's `RUN_FIELDS` on its lines about a run, and
    whatever a task passes as ``extra=``."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={
                "asctime": "time",
                "levelname": "level",
                "name": "logger",
                "exc_info": "exception",
            },
            # Plain ASCII whatever a task logs, so no collector chokes on an encoding;
            # str() for an odd object, so it never loses the line.
            json_ensure_ascii=True,
            json_default=str,
        )

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = time.strftime("%Y-%m-%dT%H:%M:%S", _utc(record.created))
        return f"{moment}.{int(record.msecs):03d}Z"


class _TaskKeyFilter(logging.Filter):
    """Tags a record logged while a task runs (the worker's own started/finished lines, and
    whatever an async task logs) with that task's key, so JSON logs can be filtered by it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "key", None) is None:
            key = builtin.current_key()
            if key is not None:
                record.key = key
        return True


def _handler(form: LoggingFormat, child: int | None = None) -> logging.Handler:
    handler: logging.Handler
    if form is LoggingFormat.RICH:
        handler = RichHandler(
            console=Console(stderr=True), rich_tracebacks=False, log_time_format="[%X]"
        )
        if child is not None:
            handler.setFormatter(logging.Formatter(f"[process {child}] %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        if form is LoggingFormat.JSON:
            handler.setFormatter(_JsonFormatter())
            handler.addFilter(_TaskKeyFilter())
        else:
            handler.setFormatter(_UtcFormatter(child))
    if child is not None:
        handler.addFilter(ChildFilter(child))
    return handler


def configure_logging(
    level: LoggingLevel, form: LoggingFormat = LoggingFormat.PLAIN, child: int | None = None
) -> None:
    """Records go to stderr: ``plain`` one line each timestamped in UTC to the millisecond,
    ``rich`` coloured columns for a terminal, ``json`` one object per line for collectors.
    The level applies to every logger, so ``--logging-level DEBUG`` also shows the Redis
    client's records. In worker process ``child`` of ``--processes``, each record says
    which (``[process N]``; ``worker_process`` in JSON)."""
    handler = _handler(form, child)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.value)
