"""``WAIT`` after a write, on the connection that made it (see strew.stores.durability).

``WAIT numreplicas timeout`` waits for the replicas to reach the replication offset of *its
own connection's* last write, so it must follow the script on the same connection: one
pipeline of [EVALSHA, WAIT], which redis-py sends on one connection of the pool, in one round
trip. Each script the store loads is classified here (a test checks that none is left out):

- producer writes (`PRODUCER_WRITES`): what a caller is told succeeded — adds, cancels,
  scatters, strikes, quarantine and failure edits. A shortfall raises `NotReplicated`.
- worker writes (`WORKER_WRITES`): acknowledgements (finish, with its reschedule and record),
  releases, quarantines, holds, restored chains, re-spreads. They wait the same way, but a
  shortfall is logged, not raised: the write is on the master, and if the master fails before
  a replica has it, the replica still holds the task as running under the old lease, which
  lapses, so the task runs again (at least once, as for any acknowledgement lost in a
  crash). Raising would be worse: the worker would send the acknowledgement again, find its
  token gone and report work lost that was not.
- `NOT_WAITED`: reads, and the writes whose loss only repeats work or loses a statistic (a
  claim, a lease extension, a heartbeat, a concurrency slot, progress, punctuality) —
  waiting there would slow every task for nothing at-least-once does not already cover.
  And an atomic scatter's staged chunks: invisible until the commit, whose ``WAIT`` covers
  them, since replication is one ordered stream (a replica that has the commit has every
  write the master made before it).

A streamed scatter's chunk that is not confirmed stops the scatter with ``ScatterError``
caused by `NotReplicated`; that chunk's tasks are marked failed, though the master has them.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from strew.stores.durability import NO_WAIT, Durability, NotReplicated, check_store
from strew.stores.urls import masked

logger = logging.getLogger("strew.store")

PRODUCER_WRITES = frozenset(
    {
        "schedule",
        "cancel",
        "clear",
        "commit_batch",
        "merge_batch",
        "schedule_batch",
        "cancel_batch",
        "add_strike",
        "remove_strike",
        "retry_failures",
        "drop_failures",
        "drop_quarantine",
    }
)
WORKER_WRITES = frozenset(
    {"finish", "release", "quarantine", "hold", "restore_chains", "respread_batch", "respread_step"}
)
NOT_WAITED = frozenset(
    {
        "stage_batch",
        "discard_batch",
        "claim",
        "extend",
        "heartbeat",
        "forget",
        "snapshot",
        "snapshot_page",
        "histogram",
        "count_functions",
        "sample_functions",
        "now",
        "task_state",
        "progress",
        "strikes",
        "held_tasks",
        "failures",
        "admit",
        "release_slots",
        "limits",
        "batch_progress",
        "worker_reports",
        "record_lateness",
    }
)
__all__ = ["NO_WAIT", "Durability", "ReplicaWait"]

WARN_EVERY = 10.0
"""Seconds between two warnings of worker writes that were not replicated in time."""


class _Scripted(Protocol):
    _client: aioredis.Redis | RedisCluster
    _scripts: dict[str, AsyncScript]


class ReplicaWait:
    """Runs the store's scripts, following each write with ``WAIT`` when asked to."""

    def __init__(self, setting: Durability, url: str, docket: str) -> None:
        self.setting = check_store(setting, url)  # a Redis Cluster is refused
        self.url = url
        self.docket = docket
        self._warned = -WARN_EVERY

    def waits(self, name: str) -> bool:
        return self.setting.replicas > 0 and name not in NOT_WAITED

    async def run(
        self, store: _Scripted, name: str, what: str, keys: list[str], args: list[Any]
    ) -> Any:
        """The reply of ``store``'s script ``name``; raises `NotReplicated` for a producer
        write too few replicas confirmed in time, and redis-py's errors as they come."""
        script = store._scripts[name]
        if not self.waits(name):
            return await script(keys=keys, args=args)
        client = store._client
        assert isinstance(client, aioredis.Redis)  # a cluster was refused in __init__
        reply, confirmed = await self._pipelined(client, script, keys, args)
        wanted = self.setting.replicas
        if confirmed >= wanted:
            return reply
        if name in WORKER_WRITES:
            now = time.monotonic()
            if now - self._warned >= WARN_EVERY:
                self._warned = now
                logger.warning(
                    "docket %s: only %d of %d replica(s) confirmed the write to %s within %s; "
                    "it is on the master, and if the master fails before a replica has it, "
                    "the tasks concerned run again (at least once)",
                    self.docket,
                    confirmed,
                    wanted,
                    what,
                    self.setting.timeout,
                )
            return reply
        raise NotReplicated(
            f"only {confirmed} of {wanted} replica(s) confirmed the write to {what} at "
            f"{masked(self.url)} within {self.setting.timeout} ({self.setting.spelled}): the "
            "master has it, but a failover before a replica copies it may lose it — it may "
            "or may not be there afterwards. Check the replicas (INFO replication), then "
            "retry or alert"
        )

    async def _pipelined(
        self, client: aioredis.Redis, script: AsyncScript, keys: list[str], args: list[Any]
    ) -> tuple[Any, int]:
        """[EVALSHA, WAIT] on one connection; loads the script once if the server lost it."""
        reply, confirmed = await self._send(client, script, keys, args)
        if isinstance(reply, NoScriptError):
            # A restarted or promoted server: the script did not run. Load it and go again.
            script.sha = await client.script_load(script.script)
            reply, confirmed = await self._send(client, script, keys, args)
        for answer in (reply, confirmed):
            if isinstance(answer, Exception):
                raise answer
        return reply, int(confirmed)

    async def _send(
        self, client: aioredis.Redis, script: AsyncScript, keys: list[str], args: list[Any]
    ) -> list[Any]:
        async with client.pipeline(transaction=False) as pipe:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
            pipe.execute_command("WAIT", self.setting.replicas, self.setting.timeout_ms)
            answers: list[Any] = await pipe.execute(raise_on_error=False)
        return answers
