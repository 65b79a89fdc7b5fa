"""Tools for tests of code that uses strew: a throwaway ``redis-server``, and assertions
about what a docket has scheduled.

strew's own test suite, its chaos driver and its benchmarks all start Redis servers of their
own on loopback ports (never touching a server someone else uses); this module is that one
piece, public so that your tests can do the same::

    from strew.testing import RedisServer

    with RedisServer() as server:  # started; stopped and its directory removed on exit
        async with Docket("test-orders", server.url) as docket:
            ...
        server.stop(kill=True)  # a crash: with AOF on (the default) nothing acknowledged
        server.start()          # is lost, and it comes back on the same port

It needs the ``redis-server`` binary on ``PATH`` (Debian: ``apt-get install redis-server``).

It also has the assertions pydocket's ``docket.testing`` offers, with the same signatures, so
tests written for pydocket run unchanged: `assert_task_scheduled`, `assert_task_not_scheduled`,
`assert_task_count` and `assert_no_tasks`. They see every task waiting on the schedule (not
only the first thousand a snapshot shows) and, when they fail, list what is there.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from strew.docket.docket import Docket
from strew.task.execution import Execution

__all__ = [
    "RedisServer",
    "RedisServerMissing",
    "assert_no_tasks",
    "assert_task_count",
    "assert_task_not_scheduled",
    "assert_task_scheduled",
    "free_port",
]


class RedisServerMissing(RuntimeError):
    """There is no ``redis-server`` on ``PATH``."""


def free_port(below: int = 65536) -> int:
    """A loopback port nothing listens on now, lower than ``below``."""
    if not 1024 < below <= 65536:
        raise ValueError(f"below must be between 1025 and 65536, got {below!r}")
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port < below:
            return port


def _answers_pong(port: int) -> bool:
    # PONG, not LOADING: a server that restarts replays its AOF before it serves.
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` on ``127.0.0.1`` and a free port, in a directory of its own.

    Args:
        directory: where it keeps its AOF (and ``logfile``, if relative). By default a new
            temporary directory, removed by `cleanup`; a directory you pass is left in place.
        port: by default a free one, kept across restarts.
        appendonly: AOF on with ``appendfsync always`` (the default), so a restart after a
            kill keeps every acknowledged write, as a production server configured that way
            would; off, a restart comes back empty. RDB snapshots are always off.
        extra: more ``redis-server`` arguments (``["--cluster-enabled", "yes"]``, say).
        logfile: where the server logs; by default nowhere.
        preexec_fn: run in the child before ``redis-server`` starts (see `subprocess.Popen`).
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        port: int | None = None,
        appendonly: bool = True,
        extra: Sequence[str] = (),
        logfile: Path | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port must be between 1 and 65535, got {port!r}")
        self._owns_directory = directory is None
        self.directory = (
            Path(tempfile.mkdtemp(prefix="strew-redis-")) if directory is None else directory
        )
        self.port = free_port() if port is None else port
        self.appendonly = appendonly
        self.extra = list(extra)
        self.logfile = logfile
        self.preexec_fn = preexec_fn
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self.process is not None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"RedisServer(port={self.port}, {state}, directory={str(self.directory)!r})"

    def start(self, timeout: float = 20.0) -> None:
        """Start it and return once it answers PING (after replaying its AOF, if any)."""
        if self.process is not None:
            raise RuntimeError(f"{self!r} is already running")
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisServerMissing(
                "redis-server is not on PATH (Debian: apt-get install redis-server; "
                "strew's scripts/test installs it)"
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        arguments = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "always",
            "--dir",
            str(self.directory),
        ]
        if self.logfile is not None:
            arguments += ["--logfile", str(self.logfile)]
        self.process = subprocess.Popen(
            [*arguments, *self.extra],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=self.preexec_fn,
        )
        deadline = time.monotonic() + timeout
        while not _answers_pong(self.port):
            code = self.process.poll()
            if code is not None:
                self.process = None
                where = f"; see {self.logfile}" if self.logfile is not None else ""
                raise RuntimeError(
                    f"redis-server on port {self.port} exited with code {code} while "
                    f"starting{where}"
                )
            if time.monotonic() > deadline:
                self.stop(kill=True)
                raise RuntimeError(f"redis-server on port {self.port} did not start in {timeout}s")
            time.sleep(0.02)

    def stop(self, kill: bool = False, timeout: float = 30.0) -> None:
        """Stop it: SIGTERM (it finishes writing its AOF) or, with ``kill``, SIGKILL. A server
        that has not ended after ``timeout`` seconds of SIGTERM is killed."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if kill:
            process.kill()
        else:
            process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def cleanup(self) -> None:
        """Kill it and remove its directory if it made that directory itself."""
        self.stop(kill=True)
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.cleanup()


# -- assertions about what a docket has scheduled (the same as pydocket's docket.testing) -------


async def _waiting(docket: Docket) -> list[Execution]:
    """Every task waiting on the schedule (due or not), earliest first."""
    return list((await docket.snapshot()).future)


def _names_of(docket: Docket, function: str | Callable[..., Any]) -> set[str]:
    if isinstance(function, str):
        return {function}
    names = {name for name, known in docket.tasks.items() if known is function}
    own = getattr(function, "__name__", None)
    if isinstance(own, str):
        names.add(own)
    if not names:
        raise TypeError(f"function must be a task function or its name, got {function!r}")
    return names


def _matches(
    execution: Execution,
    names: set[str],
    args: tuple[Any, ...] | None,
    kwargs: Mapping[str, Any] | None,
    key: str | None,
) -> bool:
    return (
        execution.function_name in names
        and (key is None or execution.key == key)
        and (args is None or tuple(execution.args) == tuple(args))
        and (
            kwargs is None
            or all(
                name in execution.kwargs and execution.kwargs[name] == value
                for name, value in kwargs.items()
            )
        )
    )


def _name(function: str | Callable[..., Any]) -> str:
    return function if isinstance(function, str) else str(getattr(function, "__name__", function))


def _criteria(
    function: str | Callable[..., Any],
    args: tuple[Any, ...] | None,
    kwargs: Mapping[str, Any] | None,
    key: str | None,
) -> str:
    """``function=send, key='k', args=(1,), kwargs={...}``: what was asked for, worded as
    pydocket's assertions word it."""
    parts = [f"function={_name(function)}"]
    if key is not None:
        parts.append(f"key={key!r}")
    if args is not None:
        parts.append(f"args={tuple(args)!r}")
    if kwargs is not None:
        parts.append(f"kwargs={dict(kwargs)!r}")
    return ", ".join(parts)


def _call(task: Execution) -> str:
    return f"{task.function_name}(args={task.args!r}, kwargs={task.kwargs!r}, key={task.key!r})"


def _listing(tasks: Sequence[Execution]) -> str:
    """``Scheduled tasks:`` and a line each (the first `LISTED`), as pydocket lists them."""
    lines = [f"  - {_call(task)}" for task in tasks[:LISTED]]
    if len(tasks) > LISTED:
        lines.append(f"  ... and {len(tasks) - LISTED:,} more")
    return "Scheduled tasks:\n" + "\n".join(lines)


LISTED = 20
"""How many scheduled tasks a failed assertion lists."""


async def assert_task_scheduled(
    docket: Docket,
    function: str | Callable[..., Any],
    *,
    args: tuple[Any, ...] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    key: str | None = None,
) -> None:
    """Fail unless a task of ``function`` (a task function or its name) waits on the
    schedule, with exactly these ``args``, with at least these ``kwargs`` and under ``key``
    (each only when given). Running and strike-held tasks do not count."""
    names = _names_of(docket, function)
    tasks = await _waiting(docket)
    if any(_matches(task, names, args, kwargs, key) for task in tasks):
        return
    if not tasks:
        raise AssertionError(f"Task {_name(function)} not found: no tasks scheduled on docket")
    raise AssertionError(
        f"Task {_name(function)} not found with {_criteria(function, args, kwargs, key)}"
        f"\n\n{_listing(tasks)}"
    )


async def assert_task_not_scheduled(
    docket: Docket,
    function: str | Callable[..., Any],
    *,
    args: tuple[Any, ...] | None = None,
    kwargs: Mapping[str, Any] | None = None,
    key: str | None = None,
) -> None:
    """Fail if a task matching these criteria (see `assert_task_scheduled`) waits on the
    schedule."""
    names = _names_of(docket, function)
    found = [task for task in await _waiting(docket) if _matches(task, names, args, kwargs, key)]
    if found:
        more = f" (and {len(found) - 1:,} more)" if len(found) > 1 else ""
        raise AssertionError(
            f"Task {_name(function)} found but should not be scheduled\n"
            f"Found: {_call(found[0])}{more}"
        )


async def assert_task_count(
    docket: Docket, function: str | Callable[..., Any] | None = None, *, count: int
) -> None:
    """Fail unless exactly ``count`` tasks (of ``function`` only, when given) wait on the
    schedule."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    tasks = await _waiting(docket)
    if function is not None:
        names = _names_of(docket, function)
        tasks = [task for task in tasks if task.function_name in names]
    if len(tasks) != count:
        what = "all tasks" if function is None else f"tasks for {_name(function)}"
        raise AssertionError(f"Expected {count} {what}, found {len(tasks)}\n\n{_listing(tasks)}")


async def assert_no_tasks(docket: Docket) -> None:
    """Fail if any task waits on the schedule."""
    tasks = await _waiting(docket)
    if tasks:
        raise AssertionError(
            f"Expected no tasks, found {len(tasks)} task(s) scheduled\n\n{_listing(tasks)}"
        )
