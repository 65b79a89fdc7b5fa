"""A throwaway ``redis-server`` for tests of code that uses strew.

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
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["RedisServer", "RedisServerMissing", "free_port"]


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
