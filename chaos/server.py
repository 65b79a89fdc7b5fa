"""The chaos run's own redis-server: loopback, free port, AOF fsynced on every write.

It is a `strew.testing.RedisServer` in the run's directory. Restarting it (after SIGKILL or
SIGTERM) reuses the port and the directory, so it comes back with everything it acknowledged,
as a production server with ``appendfsync always`` would.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
from pathlib import Path

from strew.testing import RedisServer


def die_with_parent() -> None:
    """For ``preexec_fn``: have the kernel SIGKILL the child when the driver dies, however it
    dies (a SIGKILL from a test's timeout included), so no Redis or worker outlives a run."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def chaos_redis(directory: Path) -> RedisServer:
    """The server, not started yet; it logs to ``redis.log`` in ``directory``."""
    return RedisServer(
        directory, appendonly=True, logfile=directory / "redis.log", preexec_fn=die_with_parent
    )
