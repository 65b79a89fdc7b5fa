"""Durability across a failover: how many replicas must have a write before it counts.

Redis replicates asynchronously: a master that dies right after answering a write may take
that write with it, and the replica promoted in its place never had it. With ``replicas=N``
(``Docket(..., replicas=N)`` or ``$STREW_REPLICAS``) the Redis store follows each write a
caller is told succeeded with ``WAIT N timeout`` on the same connection, and answers only
once N replicas confirm it (docs/stores.md, "Durability across a failover").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

from strew.stores.records import StoreError
from strew.stores.urls import CLUSTER_SCHEMES, masked

REPLICAS_ENV = "STREW_REPLICAS"
"""The number of replicas every write waits for when ``Docket(replicas=...)`` is not given."""
DEFAULT_REPLICA_TIMEOUT = timedelta(seconds=1)
MAX_REPLICA_TIMEOUT = timedelta(seconds=3)
"""Below the store's 4 s socket timeout: a longer WAIT would be reported as an outage."""


class NotReplicated(StoreError):
    """Fewer replicas than asked for confirmed a write before the timeout. The write is on the
    master, and will stay unless the master fails before a replica has it: after a failover it
    may or may not be there. Not an outage (the master answered): decide whether to retry
    (adds with a key, cancels and strikes are safe to repeat) or to alert."""


@dataclass(frozen=True)
class Durability:
    """Wait for ``replicas`` replicas, at most ``timeout`` each write (0 replicas: no wait)."""

    replicas: int = 0
    timeout: timedelta = DEFAULT_REPLICA_TIMEOUT
    source: str = "replicas"
    """Where ``replicas`` came from, as errors name it: the argument or the variable."""

    @property
    def spelled(self) -> str:
        return f"{self.source}={self.replicas}"

    @property
    def timeout_ms(self) -> int:
        return max(1, round(self.timeout.total_seconds() * 1000))


NO_WAIT = Durability()


def check_replicas(replicas: object, name: str = "replicas") -> int:
    """``replicas`` if it is a whole number of zero or more; otherwise an error naming it."""
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        raise TypeError(f"{name} must be a whole number of replicas (0 or more), got {replicas!r}")
    if replicas < 0:
        raise ValueError(f"{name} must be 0 or more, got {replicas!r}")
    return replicas


def replicas_from_env() -> int:
    """``$STREW_REPLICAS`` as a number (0 when unset or empty); a clear error otherwise."""
    raw = os.environ.get(REPLICAS_ENV, "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(
            f"{REPLICAS_ENV} must be a whole number of replicas (0 or more), got {raw!r}"
        ) from None
    return check_replicas(value, REPLICAS_ENV)


def durability(replicas: object, timeout: object) -> Durability:
    """The checked setting: ``replicas`` (None: ``$STREW_REPLICAS``) and ``timeout``."""
    count = replicas_from_env() if replicas is None else check_replicas(replicas)
    source = REPLICAS_ENV if replicas is None else "replicas"
    if not isinstance(timeout, timedelta):
        raise TypeError(f"replica_timeout must be a timedelta, got {timeout!r}")
    if not timedelta(0) < timeout <= MAX_REPLICA_TIMEOUT:
        raise ValueError(
            f"replica_timeout must be more than 0 and at most {MAX_REPLICA_TIMEOUT} (below the "
            f"store's socket timeout), got {timeout}"
        )
    return Durability(count, timeout, source)


def check_store(setting: Durability, url: str) -> Durability:
    """``setting`` if the store at ``url`` can honour it; a clear error otherwise.

    The memory store has no replica and does not outlive its process: accepting the setting
    there would promise a durability it cannot give. A Redis Cluster pipeline would send the
    keyless ``WAIT`` to any node, not the one that made the write.
    """
    if not setting.replicas:
        return setting
    if url.startswith("memory://"):
        raise ValueError(
            f"{setting.spelled} needs a Redis store with replicas, but {url} is the "
            "in-process memory store: it has no replica to wait for and does not outlive the "
            "process. Use 0 (or leave it out) with memory://"
        )
    if url.split("://", 1)[0] in CLUSTER_SCHEMES:
        raise ValueError(
            f"{setting.spelled} is not supported on a Redis Cluster ({masked(url)}): "
            "strew cannot yet send WAIT to the node that made each write; use 0"
        )
    return setting
