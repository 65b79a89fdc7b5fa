"""The Redis store (Redis 7+, Valkey; Cluster-safe key layout).

Every multi-key step is one Lua script from ``lua/``, loaded once and called by SHA (redis-py
falls back to loading it again after a server restart). All keys of one docket share the hash
tag ``{name}``, so a Redis Cluster keeps them in one slot and every script stays legal there.

The layout, for a docket called ``emails``::

    strew:{emails}:schedule   sorted set  task key -> due time (us), immediate and future alike
    strew:{emails}:payloads   hash        task key -> payload of a scheduled task
    strew:{emails}:leases     sorted set  task key -> lease deadline (us) of a running task
    strew:{emails}:running    hash        task key -> payload of a running task
    strew:{emails}:tokens     hash        task key -> token of the claim holding it
    strew:{emails}:dues       hash        task key -> "due claimed-at" of the running task
    strew:{emails}:workers    sorted set  worker -> heartbeat expiry (us)
    strew:{emails}:seen       hash        worker -> last heartbeat (us)
    strew:{emails}:watch      string      the worker on watch (expires; see notices.py)
    strew:{emails}:standby    sorted set  worker -> until when it waits in line (us)
    strew:{emails}:quarantine hash        task key -> "time reason-length reason" + payload
    strew:{emails}:chains:ended hash      automatic chain key -> when it ended itself (us)
    strew:{emails}:failures[:notes|:payloads]   the record of failures (see failures.py)
    strew:{emails}:stage:ID   hash        a scatter's stage, then its merge (see batches.py)
    strew:{emails}:merging    sorted set  committed scatters still merging (see batches.py)
    strew:{emails}:batch:ID   list        'due key' of each task scatter ID wrote (expires)
    strew:{emails}:record:KEY string      what task KEY left when it finished (expires)
    strew:{emails}:progress:KEY hash      current, total, message, updated (expires)

A running task's payload lives apart from the scheduled ones so that ``replace`` can schedule
the next run of a key while the current one is still going.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError

from strew.stores.records import (
    Claim,
    ClaimResult,
    Entry,
    Finish,
    Record,
    Release,
    StoreError,
    StoreUnavailable,
)
from strew.stores.redis.admission import ADMISSION_SCRIPTS, RedisAdmission
from strew.stores.redis.batches import BATCH_SCRIPTS, RedisBatches
from strew.stores.redis.chains import CHAIN_SCRIPTS, RedisChains
from strew.stores.redis.common import _flags, _load_lua, _millis, _text
from strew.stores.redis.durability import NO_WAIT, Durability, ReplicaWait
from strew.stores.redis.errors import UNAVAILABLE, store_error
from strew.stores.redis.failures import FAILURE_SCRIPTS, RedisFailures, failure_keys
from strew.stores.redis.notices import RedisNotices
from strew.stores.redis.packing import pack_entries, pack_finishes
from strew.stores.redis.preflight import EvictionCheck
from strew.stores.redis.quarantine import QUARANTINE_SCRIPTS, RedisQuarantine
from strew.stores.redis.readmodel import READMODEL_SCRIPTS, RedisReadModel
from strew.stores.redis.results import RESULT_SCRIPTS, RedisResults
from strew.stores.redis.sentinel import sentinel_client
from strew.stores.redis.snapshots import SNAPSHOT_SCRIPTS, RedisSnapshots
from strew.stores.redis.strikes import STRIKE_SCRIPTS, RedisStrikes
from strew.stores.sentinel_url import SENTINEL_SCHEMES
from strew.stores.urls import CLUSTER_SCHEMES

logger = logging.getLogger("strew.store")

T = TypeVar("T")

_SCRIPTS = (
    "schedule",
    "claim",
    "finish",
    "extend",
    "release",
    "cancel",
    "heartbeat",
    "clear",
    "forget",
    "now",
)
REFUSABLE_SIZE = 1024 * 1024
"""The lowest ``proto-max-bulk-len`` Redis accepts: no smaller value is refused for its size."""


class RedisStore(
    RedisNotices,
    RedisAdmission,
    RedisStrikes,
    RedisBatches,
    RedisReadModel,
    RedisChains,
    RedisResults,
    RedisQuarantine,
    RedisFailures,
    RedisSnapshots,
):
    """One docket's state in one Redis (or Valkey) database."""

    def __init__(
        self,
        url: str,
        docket: str,
        *,
        connect_timeout: float = 2.0,
        socket_timeout: float = 4.0,
        max_connections: int = 50,
        allow_eviction: bool | None = None,
        durability: Durability = NO_WAIT,
    ) -> None:
        self.url = url
        self.docket = docket
        self._waits = ReplicaWait(durability, url, docket)  # WAIT for replicas: durability.py
        # None: $STREW_ALLOW_EVICTION decides, when the first command runs.
        self._eviction = EvictionCheck(docket, allow_eviction)
        self.cluster = url.split("://", 1)[0] in CLUSTER_SCHEMES
        # Fail fast: a producer should hear that Redis is down in well under a second or
        # two, not after the client's default minute of retries. Workers retry on their own.
        # Timeouts are not retried: the command may have run, and the caller knows better
        # whether to repeat it.
        retry = Retry(
            ExponentialBackoff(cap=0.2, base=0.05),
            retries=2,
            supported_errors=(RedisConnectionError,),
        )
        self._client: aioredis.Redis | RedisCluster
        if self.cluster:
            # Any node will do to find the others; every key of this docket carries the same
            # hash tag, so each script runs whole on the one node that owns the slot.
            self._client = RedisCluster.from_url(
                url.replace("+cluster://", "://", 1),
                max_connections=max_connections,
                decode_responses=False,
                encoding_errors="surrogateescape",
                socket_connect_timeout=connect_timeout,
                socket_timeout=socket_timeout,
                retry=retry,
            )
        elif url.split("://", 1)[0] in SENTINEL_SCHEMES:
            # The master the sentinels name, asked again on every new connection (failover).
            self._client = sentinel_client(url, connect_timeout, socket_timeout, max_connections)
        else:
            self._client = self._standalone(url, connect_timeout, socket_timeout, max_connections)
        self._setup_keys(docket)

    @staticmethod
    def _standalone(
        url: str, connect_timeout: float, socket_timeout: float, max_connections: int
    ) -> aioredis.Redis:
        # Keep-alive is a TCP option; a unix:// connection refuses the keyword.
        tcp: dict[str, Any] = {} if url.startswith("unix://") else {"socket_keepalive": True}
        # A blocking pool: a burst of concurrent calls beyond `max_connections` waits for a
        # free connection (up to `socket_timeout`) instead of failing with "Too many
        # connections", which redis-py's default pool raises past 100.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=socket_timeout,
            **tcp,
            decode_responses=False,
            encoding_errors="surrogateescape",
            socket_connect_timeout=connect_timeout,
            health_check_interval=15,
            retry=Retry(
                ExponentialBackoff(cap=0.2, base=0.05),
                retries=2,
                supported_errors=(RedisConnectionError,),
            ),
            # A server that accepts connections but stops answering (stopped, swamped) must
            # turn into StoreUnavailable, not a hang.
            socket_timeout=socket_timeout,
        )
        return aioredis.Redis.from_pool(pool)  # closes the pool with the client

    def _setup_keys(self, docket: str) -> None:
        prefix = f"strew:{{{docket}}}:"
        self.schedule_key = prefix + "schedule"
        self.payloads_key = prefix + "payloads"
        self.leases_key = prefix + "leases"
        self.running_key = prefix + "running"
        self.tokens_key = prefix + "tokens"
        self.dues_key = prefix + "dues"
        self.workers_key = prefix + "workers"
        self.seen_key = prefix + "seen"
        self.quarantine_key = prefix + "quarantine"
        self.ended_key = prefix + "chains:ended"
        self.wake_channel = prefix + "wake"
        self.watch_key = prefix + "watch"
        self.standby_key = prefix + "standby"
        self.handoff_prefix = prefix + "wake:"  # + worker: wake-ups for that worker alone
        self.cancel_channel = prefix + "cancel"
        self._task_keys = [
            self.schedule_key,
            self.payloads_key,
            self.leases_key,
            self.running_key,
            self.tokens_key,
            self.dues_key,
        ]
        self._scripts: dict[str, AsyncScript] = {
            name: self._client.register_script(_load_lua(name))
            for name in (
                *_SCRIPTS,
                *BATCH_SCRIPTS,
                *STRIKE_SCRIPTS,
                *CHAIN_SCRIPTS,
                *QUARANTINE_SCRIPTS,
                *RESULT_SCRIPTS,
                *ADMISSION_SCRIPTS,
                *FAILURE_SCRIPTS,
                *READMODEL_SCRIPTS,
                *SNAPSHOT_SCRIPTS,
            )
        }
        self._serial = itertools.count(1)

    async def _call(self, what: str, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            await self._eviction(self._client)  # once per store: see preflight.py
            return await operation()
        except (*UNAVAILABLE, RedisError, RedisClusterException) as error:
            raise store_error(error, self.url, what) from error

    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any:
        return await self._call(what, lambda: self._waits.run(self, name, what, keys, args))

    # -- the contract ----------------------------------------------------------------------

    async def schedule(self, entries: Sequence[Entry], *, replace: bool) -> list[bool]:
        if not entries:
            return []
        # As packed blobs, like a scatter's chunks: three arguments per task cost redis-py and
        # Redis more than the task itself (see packing.py).
        args: list[Any] = ["1" if replace else "0", self.wake_channel, *pack_entries(entries)]
        keys = [self.schedule_key, self.payloads_key, self.leases_key]
        written = await self._script("schedule", "schedule tasks", keys, args)
        return _flags(written)

    async def cancel(self, keys: Sequence[str], record: Record | None = None) -> int:
        if not keys:
            return 0
        script_keys = [self.schedule_key, self.payloads_key, self.leases_key]
        script_keys += self._strike_keys()[2:]  # held tasks are cancelled too
        script_keys += [self._record_key(key) for key in keys]
        kept: list[Any] = [record.data, _millis(record.ttl)] if record else ["", 0]
        removed = await self._script(
            "cancel", "cancel tasks", script_keys, [self.cancel_channel, *kept, *keys]
        )
        return int(removed)

    async def claim(
        self, worker: str, limit: int, lease: int, horizon: int, *, watch: int = 0
    ) -> ClaimResult:
        first = next(self._serial)
        # Reserve `limit` serial numbers for the tokens of this claim (without a loop: a
        # worker of huge concurrency asks for huge limits).
        self._serial = itertools.count(first + max(limit, 1))
        reply = await self._script(
            "claim",
            "claim due tasks",
            [*self._task_keys, self.watch_key, self.standby_key, self._merging_key()],
            [f"{worker}/", limit, lease, horizon, first, worker, watch, self.handoff_prefix],
        )
        if reply[-1] not in (b"", ""):
            # A committed batch still merging (its producer is at it, or died): merge a step
            # of it beside this claim; the next due time the claim reported already counts
            # what is left.
            self._merge_behind(_text(reply[-1]))
        now, next_due, scheduled, running = reply[:4]
        claims = [
            Claim(
                key=_text(reply[i]),
                token=_text(reply[i + 1]),
                payload=bytes(reply[i + 2]),
                due=int(reply[i + 3]),
                redelivered=bool(int(reply[i + 4])),
            )
            for i in range(4, len(reply) - 3, 5)
        ]
        return ClaimResult(
            claims,
            int(now),
            int(next_due) if next_due not in (b"", "") else None,
            int(scheduled),
            int(running),
            int(reply[-3]),
            int(reply[-2]),
        )

    async def finish(self, finishes: Sequence[Finish]) -> list[bool]:
        if not finishes:
            return []
        # As packed blobs: ten arguments a task cost redis-py more than the task (packing.py).
        args: list[Any] = [self.wake_channel, *pack_finishes(finishes, _millis)]
        keys = [*self._task_keys, self.ended_key, *failure_keys(self.docket)]
        try:
            done = await self._script("finish", "acknowledge tasks", keys, args)
        except StoreUnavailable as error:
            # Redis drops the connection of a request with an argument over its
            # proto-max-bulk-len. That is a refusal, not an outage, when it answers otherwise:
            # retrying the same acknowledgement would never succeed.
            largest = max((len(f.record.data) for f in finishes if f.record), default=0)
            if largest >= REFUSABLE_SIZE and await self._answers():
                raise StoreError(
                    f"Redis refused to acknowledge tasks: it closed the connection on a "
                    f"request carrying {largest:,} bytes in one value, over its "
                    f"proto-max-bulk-len ({error})"
                ) from error
            raise
        return _flags(done)

    async def _answers(self) -> bool:
        try:
            await self._client.ping()
        except Exception:
            return False
        return True

    async def extend(self, leases: Sequence[tuple[str, str]], lease: int) -> list[bool]:
        if not leases:
            return []
        args: list[Any] = [lease]
        for key, token in leases:
            args.extend((key, token))
        extended = await self._script(
            "extend", "extend leases", [self.leases_key, self.tokens_key], args
        )
        return _flags(extended)

    async def release(self, releases: Sequence[Release]) -> list[bool]:
        if not releases:
            return []
        args: list[Any] = [self.wake_channel]
        for item in releases:
            args.extend((item.key, item.token, str(item.due)))
        released = await self._script("release", "release tasks", self._task_keys, args)
        return _flags(released)

    async def clear(self) -> int:
        removed = await self._script(
            "clear",
            "clear the schedule",
            [self.schedule_key, self.payloads_key, *failure_keys(self.docket), self._merging_key()],
            [],
        )
        return int(removed)

    async def heartbeat(self, worker: str, ttl: int, report: bytes = b"") -> None:
        keys = [self.workers_key, self.seen_key, self._reports_key()]
        await self._script("heartbeat", "record a heartbeat", keys, [worker, ttl, report])

    async def now(self) -> int:
        if self.cluster:
            # The clock of the node that owns this docket's slot: the one claim.lua reads.
            seconds, micros = await self._script(
                "now", "read the server clock", [self.schedule_key], []
            )
        else:
            seconds, micros = await self._call("read the server clock", self._client.time)
        return int(seconds) * 1_000_000 + int(micros)

    async def destroy(self) -> None:
        keys = [
            *self._task_keys,
            self.watch_key,
            self.standby_key,
            self.workers_key,
            self.seen_key,
            self.quarantine_key,
            self.ended_key,
            self._merging_key(),
            *self._strike_keys(),
            *failure_keys(self.docket),
            *self._readmodel_keys(),
        ]
        await self._call("delete the docket", lambda: self._client.delete(*keys))
        await self._call("delete the docket's batches", self._destroy_batches)
        await self._call("delete the docket's limits", self._destroy_limits)

    async def close(self) -> None:
        await self._stop_merging_behind()
        await self._client.aclose()
