"""What every field task does: note when it started, cheaply, from any worker process.

A task calls `record(i)`: that appends ``"i:time.time()"`` to a list in memory and nothing
else. A daemon thread of the worker process (started on the first record in each process, so
a forked worker gets its own) pushes what has gathered to one Redis list every 5 ms with one
``RPUSH``. So every library's task costs the same few hundred nanoseconds, none of them makes
a round trip per task, and the benchmark reads each task's start time from Redis whichever
process ran it. The Redis URL comes from ``FIELD_URL`` (the harness sets it).
"""

from __future__ import annotations

import os
import threading
import time

KEY = "field:starts"
URL_VARIABLE = "FIELD_URL"
FLUSH_EVERY = 0.005

_pending: list[str] = []
_pid = 0
_lock = threading.Lock()


def url() -> str:
    return os.environ.get(URL_VARIABLE, "redis://127.0.0.1:1/0")


def record(i: int) -> None:
    _pending.append(f"{i}:{time.time()!r}")
    if _pid != os.getpid():
        _start_flusher()


def _start_flusher() -> None:
    global _pid
    with _lock:
        if _pid == os.getpid():
            return
        _pid = os.getpid()
        threading.Thread(target=_flush_forever, name="field-record", daemon=True).start()


def _flush_forever() -> None:
    import redis

    client = redis.Redis.from_url(url())
    while True:
        time.sleep(FLUSH_EVERY)
        batch = _pending[:]
        if batch:
            # Appends only ever go to the end, so the first len(batch) items are these.
            del _pending[: len(batch)]
            client.rpush(KEY, *batch)
