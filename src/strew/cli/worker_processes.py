"""``strew worker --processes N``: N worker processes from one command, each with its own
event loop and `Worker`.

The children are made with ``os.fork`` before anything that must not be forked exists: no
event loop, no thread (the metrics and health servers start in each child), no connection to
Redis. Forking then is safe, takes milliseconds, and the task modules the parent already
imported (and checked) are shared copy-on-write; ``spawn`` would import them again in every
child, and hand each child its arguments by pickling.

The parent only supervises:

- SIGTERM or SIGINT is passed on to every child, which stops as a single worker does
  (finishes its running tasks within the shutdown grace, hands the rest back); a second
  signal is passed on too (hand back at once). The children run in a process group of their
  own, so a Ctrl-C in a terminal reaches them once, through the parent, not twice. Both
  signals are held while the parent forks, and a child keeps one that arrives before its
  worker exists for that worker: a stop asked for during start-up is neither lost nor a kill.
- A child that dies (a non-zero exit or killed by a signal) is reported; the parent then
  stops the others the same way and exits 1, so the supervisor that runs it (systemd,
  Kubernetes, a process manager) restarts the whole command. Nothing restarts children here:
  a crash loop stays visible to the one place that already decides what to do about it.
- Each child watches a pipe from the parent: should the parent die without passing a signal
  on (SIGKILL), the pipe closes and the child stops as on SIGTERM.
- A child that ends with 0 (``--until-finished``, the docket empty) is not an error; the
  parent exits 0 once every child has.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable
from types import FrameType

import typer

from strew.worker.worker import Worker

logger = logging.getLogger("strew.cli")

AUTO = "auto"


def processes_count(value: object) -> int:
    """Typer parser for ``--processes``: a whole number of 1 or more, or 0 / ``auto`` for
    one per CPU (``os.cpu_count()``)."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        text = str(value).strip().lower()
        if text == AUTO:
            number = 0
        else:
            try:
                number = int(text, 10)
            except ValueError:
                raise typer.BadParameter(
                    f"must be a whole number of 0 or more, or 'auto', got {value!r}"
                ) from None
    if number < 0:
        raise typer.BadParameter(f"must be a whole number of 0 or more, or 'auto', got {value!r}")
    return number if number > 0 else (os.cpu_count() or 1)


def child_name(name: str | None, index: int) -> str | None:
    """A child's worker name: the one given with ``#index`` after it (names are unique among
    live workers), or None for the default (host#pid#random, already distinct per child)."""
    return None if name is None else f"{name}#{index}"


def child_port(port: int | None, index: int) -> int | None:
    """The port child ``index`` serves metrics or health on: one each, counting up from the
    one given (0 stays 0: each child picks a free port of its own)."""
    if port is None or port == 0:
        return port
    return port + index


class ChildFilter(logging.Filter):
    """Tags every record of worker process ``child`` (``--processes``) with its number, a
    ``worker_process`` field in JSON."""

    def __init__(self, child: int) -> None:
        super().__init__()
        self.child = child

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker_process = self.child
        return True


def stop_with_parent(worker: Worker, parent: int) -> None:
    """In a worker process of ``--processes``: the parent's end of the pipe ``parent`` closes
    when it dies (even by SIGKILL, which it cannot pass on): stop as on SIGTERM then."""
    loop = asyncio.get_running_loop()

    def readable() -> None:
        if not os.read(parent, 1):
            loop.remove_reader(parent)
            logger.warning("worker %s: its parent process is gone; stopping", worker.name)
            worker.stop()

    loop.add_reader(parent, readable)


_signalled_early: list[int] = []


def _keep_for_later(signum: int, frame: FrameType | None = None) -> None:
    _signalled_early.append(signum)


def signalled_early() -> bool:
    """In a worker process: a stop was asked for before its worker could take signals."""
    return bool(_signalled_early)


def run_children(count: int, child: Callable[[int, int], int]) -> int:
    """Fork ``count`` children, each running ``child(index, parent_pipe_fd)`` and exiting with
    what it returns; supervise them (see the module's docstring) and return the exit code
    for the parent."""
    if not hasattr(os, "fork"):  # pragma: no cover - Windows
        raise OSError("--processes above 1 needs os.fork, which this platform lacks")
    children: dict[int, int] = {}  # pid -> index
    # Held until each side has its handlers: a signal arriving meanwhile waits, not lost.
    stops = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    keep_alive: list[int] = []  # the parent's write ends: closed, they tell children to stop
    for index in range(count):
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - measured in the child, which never returns here
            os.close(writer)
            for fd in keep_alive:
                os.close(fd)
            os.setpgid(0, 0)
            for signum in (signal.SIGTERM, signal.SIGINT):
                # Until the child's worker exists and takes the signals over: kept for it.
                signal.signal(signum, _keep_for_later)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
            code = 1
            try:
                code = child(index, reader)
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
            except BaseException:
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(reader)
        keep_alive.append(writer)
        children[pid] = index
    logger.info(
        "started %d worker processes: %s",
        count,
        ", ".join(f"{index} (pid {pid})" for pid, index in children.items()),
    )
    return _supervise(children, keep_alive)


def _supervise(children: dict[int, int], pipes: list[int]) -> int:
    stopping = False
    failed = 0

    def pass_on(signum: int, frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    previous = {s: signal.signal(s, pass_on) for s in (signal.SIGTERM, signal.SIGINT)}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    try:
        while children:
            pid, status = os.waitpid(-1, 0)  # a signal's handler runs, then it waits again
            index = children.pop(pid, None)
            if index is None:
                continue
            code = os.waitstatus_to_exitcode(status)
            if code == 0:
                logger.info("worker process %d (pid %d) exited", index, pid)
                continue
            how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited {code}"
            logger.error(
                "worker process %d (pid %d) %s%s",
                index,
                pid,
                how,
                "" if stopping else "; stopping the others (exit 1: let the supervisor restart)",
            )
            failed += 1
            if not stopping:
                pass_on(signal.SIGTERM)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for fd in pipes:
            os.close(fd)
    return 1 if failed else 0
