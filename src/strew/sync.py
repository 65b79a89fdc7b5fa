"""`SyncDocket`: a Docket for synchronous code (Django, Flask, scripts, pre-fork servers).

Every call runs on one private event loop in a daemon thread, started on first use: the
calling thread blocks until its coroutine has finished there and gets its value or its
exception. One loop for the process keeps one pool of connections for every request thread,
where ``asyncio.run`` per call would open (and close) connections each time.

Threads: any number may call at once; their calls run concurrently on the loop. Each call
carries the caller's context variables (a trace span, a request id) to the loop.

Forks (gunicorn or uwsgi with a preloaded app, ``multiprocessing`` with fork): a child never
touches its parent's loop or connections. It notices the fork (``os.register_at_fork``, and
the process id as a second check) and starts a loop of its own on its first call.

Exit: the loop is stopped at interpreter exit (``atexit``), or by `close`, after closing the
docket's connections on it.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import inspect
import os
import threading
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar, overload

from strew.agenda.agenda import Agenda, Scattered
from strew.docket.docket import Docket
from strew.docket.snapshots import DocketSnapshot
from strew.task.execution import Execution, TaskFunction
from strew.task.results import ResultUnavailable

P = ParamSpec("P")
T = TypeVar("T")

_ABANDONED: list[asyncio.AbstractEventLoop] = []
"""Loops inherited from a parent process: never run, closed or collected in the child (its
thread is gone; closing would tear down state the parent's thread owns)."""


class _Runner:
    """The private loop and its thread, for one process."""

    def __init__(self, docket: Docket) -> None:
        self.pid = os.getpid()
        self._docket = docket
        ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

        async def serve() -> None:
            self.loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            ready.set()
            try:
                await self._stop.wait()
            finally:
                await docket.store.close()

        # asyncio.run cancels what is left at the end and closes the loop cleanly.
        self.thread = threading.Thread(
            target=asyncio.run, args=(serve(),), name=f"strew sync {docket.name}", daemon=True
        )
        self.thread.start()
        ready.wait()

    def call(self, awaitable: Awaitable[T], timeout: float | None) -> T:
        """Run ``awaitable`` on the loop, wait for it here; cancel it there after
        ``timeout``."""
        if threading.current_thread() is self.thread:
            if inspect.iscoroutine(awaitable):
                awaitable.close()  # never to run: no "never awaited" warning
            raise RuntimeError(
                "a SyncDocket was called from its own loop's thread (an on_progress callback?), "
                "which would wait for itself for ever: use the async Docket there"
            )
        loop = self.loop
        assert loop is not None
        coroutine = _as_coroutine(awaitable)
        context = contextvars.copy_context()
        result: concurrent.futures.Future[T] = concurrent.futures.Future()
        started: list[asyncio.Task[T]] = []

        def start() -> None:
            if not result.set_running_or_notify_cancel():
                coroutine.close()
                return
            task = loop.create_task(coroutine, context=context)
            started.append(task)

            def finished(task: asyncio.Task[T]) -> None:
                if task.cancelled():
                    # Cancelled by a timeout, or by the loop ending (close() meanwhile).
                    result.set_exception(concurrent.futures.CancelledError())
                elif (error := task.exception()) is not None:
                    result.set_exception(error)
                else:
                    result.set_result(task.result())

            task.add_done_callback(finished)

        try:
            loop.call_soon_threadsafe(start)
        except RuntimeError:  # the loop was closed meanwhile (close() from another thread)
            coroutine.close()
            raise
        try:
            return result.result(timeout)
        except concurrent.futures.TimeoutError:
            if not result.cancel():  # already running: cancel the task on its loop
                loop.call_soon_threadsafe(lambda: [task.cancel() for task in started])
            raise TimeoutError(f"no answer within {timeout} seconds") from None

    def stop(self) -> None:
        loop, stop = self.loop, self._stop
        if loop is None or stop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(stop.set)
        except RuntimeError:  # closed in between: nothing left to stop
            return
        self.thread.join()


class SyncDocket:
    """A `Docket` with blocking methods, for code that is not async.

    Takes the same arguments as `Docket` (``SyncDocket("orders", url=...)``), or wraps one
    already built: ``SyncDocket(docket=my_docket)``. ``docket`` is the async Docket itself;
    register tasks on either. See docs/integrations.md.
    """

    def __init__(self, *args: Any, docket: Docket | None = None, **kwargs: Any) -> None:
        if docket is not None and (args or kwargs):
            raise TypeError("SyncDocket takes a docket or Docket's arguments, not both")
        if docket is not None and not isinstance(docket, Docket):
            raise TypeError(f"docket must be a strew Docket, got {docket!r}")
        self.docket = docket if docket is not None else Docket(*args, **kwargs)
        self._lock = threading.Lock()
        self._runner: _Runner | None = None
        _LIVE.add(self)

    def __repr__(self) -> str:
        return f"SyncDocket({self.docket!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- running ----------------------------------------------------------------------------

    def _current_runner(self) -> _Runner:
        with self._lock:
            runner = self._runner
            if runner is not None and runner.pid != os.getpid():
                self._forget_parent()
                runner = None
            if runner is None:
                runner = self._runner = _Runner(self.docket)
            return runner

    def run(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """Run ``awaitable`` (such as ``docket.add_many(calls)``) on this docket's loop and
        return its value, or raise its error. ``timeout`` (seconds) raises `TimeoutError` and
        cancels it."""
        return self._current_runner().call(awaitable, timeout)

    def close(self) -> None:
        """Close the connections and stop the loop; a later call starts them again."""
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None and runner.pid == os.getpid():
            runner.stop()

    def _forget_parent(self) -> None:
        """In a forked child: drop the parent's loop without touching it (see `_ABANDONED`)."""
        self._lock = threading.Lock()  # the parent may have held it when it forked
        runner, self._runner = self._runner, None
        if runner is not None and runner.pid != os.getpid() and runner.loop is not None:
            _ABANDONED.append(runner.loop)

    # -- the producer's side ----------------------------------------------------------------

    def _blocking(self, scheduler: Callable[..., Awaitable[Execution]]) -> Callable[..., Execution]:
        """``scheduler`` (what `Docket.add` / `replace` return) as a blocking call."""

        def schedule(*args: Any, **kwargs: Any) -> Execution:
            return self.run(scheduler(*args, **kwargs))

        return schedule

    def register(self, function: TaskFunction, names: list[str] | None = None) -> None:
        """As `Docket.register`."""
        self.docket.register(function, names)

    @overload
    def add(
        self,
        function: Callable[P, Any],
        when: datetime | None = None,
        key: str | None = None,
    ) -> Callable[P, Execution]: ...

    @overload
    def add(
        self, function: str, when: datetime | None = None, key: str | None = None
    ) -> Callable[..., Execution]: ...

    def add(
        self, function: TaskFunction | str, when: datetime | None = None, key: str | None = None
    ) -> Callable[..., Execution]:
        """``sync_docket.add(fn, when=..., key=...)(*args, **kwargs)``: as `Docket.add`
        (the call is checked against ``fn``'s signature before anything is written)."""
        return self._blocking(self.docket.add(function, when, key))

    @overload
    def replace(
        self,
        function: Callable[P, Any],
        when: datetime | None = None,
        key: str | None = None,
    ) -> Callable[P, Execution]: ...

    @overload
    def replace(
        self, function: str, when: datetime | None = None, key: str | None = None
    ) -> Callable[..., Execution]: ...

    def replace(
        self, function: TaskFunction | str, when: datetime | None = None, key: str | None = None
    ) -> Callable[..., Execution]:
        """As `Docket.replace`: schedule under ``key``, superseding what is scheduled."""
        return self._blocking(self.docket.replace(function, when, key))

    def cancel(self, key: str) -> None:
        """As `Docket.cancel`."""
        self.run(self.docket.cancel(key))

    def scatter(
        self,
        agenda: Agenda,
        over: timedelta | None = None,
        start: datetime | None = None,
        jitter: timedelta | None = None,
        **options: Any,
    ) -> Scattered:
        """As ``agenda.scatter(docket, ...)``, with every option it takes (an ``on_progress``
        callback runs on the loop's thread)."""
        return self.run(agenda.scatter(self.docket, over, start, jitter, **options))

    def get_execution(self, key: str) -> Execution | None:
        """As `Docket.get_execution`."""
        return self.run(self.docket.get_execution(key))

    def get_result(
        self, execution: Execution | str, timeout: timedelta | float | None = None
    ) -> Any:
        """Wait for the task (an `Execution` or its key) to finish and return its value, or
        raise its error, as `Execution.get_result`."""
        return self.run(_result(self.docket, execution, timeout))

    def snapshot(self, limit: int | None = None) -> DocketSnapshot:
        """As `Docket.snapshot`."""
        return self.run(self.docket.snapshot(limit))


async def _result(
    docket: Docket, execution: Execution | str, timeout: timedelta | float | None
) -> Any:
    if isinstance(execution, str):
        found = await docket.get_execution(execution)
        if found is None:
            raise ResultUnavailable(execution, f"nothing is known about task {execution!r}")
        execution = found
    return await execution.get_result(timeout)


async def _as_coroutine(awaitable: Awaitable[T]) -> T:
    return await awaitable


_LIVE: weakref.WeakSet[SyncDocket] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for sync_docket in list(_LIVE):
        sync_docket._forget_parent()


def _close_all() -> None:
    for sync_docket in list(_LIVE):
        sync_docket.close()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_close_all)
