"""The Redis store's notifications, and the watch that spares a fleet from waking whole.

A mixin of `RedisStore`. Its keys share the docket's hash tag::

    strew:{emails}:watch      string      the worker on watch, for a short lease (PX)
    strew:{emails}:standby    sorted set  worker -> until when it waits in line (us)

and its channels are ``strew:{emails}:wake`` (an earlier due time: everyone hears it, only
the watcher acts), ``strew:{emails}:cancel`` (a key to cancel) and
``strew:{emails}:wake:WORKER`` (the watch handed to WORKER: only it hears). ``claim.lua``
keeps the watch and the line as part of each claim; ``forget.lua`` hands a watch on when
its holder stops. Why, and the bounds it keeps: docs/workers.md, "How a fleet wakes".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any, Protocol

from redis.asyncio.client import PubSub
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError, ResponseError

from strew.stores.records import CancelRequested, Notice, Wake
from strew.stores.redis.common import _cancelling, _text
from strew.stores.redis.errors import AUTH_ERRORS, UNAVAILABLE, store_error, unavailable
from strew.stores.redis.sentinel import master_moved

logger = logging.getLogger("strew.store")

HANDOFF_LEASE = 2_000_000
"""The watch lease (us) a stopping worker hands on with: the worker handed it renews it with
its own lease on the claim the hand-off wakes it for."""


class _Core(Protocol):
    """What these methods use of `RedisStore`."""

    url: str
    docket: str
    _client: Any
    wake_channel: str
    cancel_channel: str
    handoff_prefix: str
    workers_key: str
    seen_key: str
    watch_key: str
    standby_key: str

    def _reports_key(self) -> str: ...
    async def _script(self, name: str, what: str, keys: list[str], args: list[Any]) -> Any: ...


class RedisNotices:
    """`Store.notifications` and `Store.forget_worker` (typed on `RedisStore`)."""

    async def forget_worker(self: _Core, worker: str) -> None:
        keys = [self.workers_key, self.seen_key, self._reports_key()]
        keys += [self.watch_key, self.standby_key]
        args = [worker, self.handoff_prefix, HANDOFF_LEASE]
        await self._script("forget", "forget a worker", keys, args)

    async def notifications(self: _Core, worker: str = "") -> AsyncIterator[Notice]:
        backoff = 0.05
        while not _cancelling():
            try:
                if isinstance(self._client, RedisCluster):
                    # A cluster client learns the slot map on its first command; a pubsub
                    # needs it before subscribing (to pick the node owning our channels).
                    await self._client.initialize()
            except (*UNAVAILABLE, ResponseError) as error:
                if not unavailable(error):
                    raise
                logger.warning("cannot reach the cluster of %s: %s", self.docket, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            pubsub: PubSub = self._client.pubsub(ignore_subscribe_messages=True)
            try:
                own = self.handoff_prefix + worker if worker else None
                await pubsub.subscribe(
                    self.wake_channel, self.cancel_channel, *([own] if own else [])
                )
                backoff = 0.05
                # Anything published while we were not subscribed is lost: look again.
                yield Wake(0)
                asked = asyncio.get_running_loop().time()
                while not _cancelling():
                    if asyncio.get_running_loop().time() - asked >= 1.0:
                        asked = asyncio.get_running_loop().time()
                        if await master_moved(self._client, pubsub):  # Sentinel only
                            logger.warning("the master of %s moved: subscribing there", self.docket)
                            break
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    channel, data = _text(message["channel"]), _text(message["data"])
                    if channel == self.wake_channel:
                        yield Wake(int(float(data)))
                    elif channel == own:
                        yield Wake(int(float(data)), handed=True)
                    else:
                        yield CancelRequested(data)
            except AUTH_ERRORS as error:
                # Before UNAVAILABLE (redis-py's AuthenticationError is a ConnectionError):
                # a user that may not subscribe is refused for good, not retried forever.
                raise store_error(error, self.url, "subscribe to notifications") from error
            except (*UNAVAILABLE, ResponseError) as error:
                if not unavailable(error):
                    raise
                # Lost, or Redis busy running a long script: subscribe again once it answers.
                logger.warning("lost the notification channel of %s: %s", self.docket, error)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
            finally:
                with suppress(RedisError, OSError):
                    await pubsub.aclose()
