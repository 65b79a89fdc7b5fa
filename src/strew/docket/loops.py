"""One store per event loop, so a `Docket` outlives the loop that first used it.

A Redis client's connections belong to the event loop that opened them: once that loop is
closed (the end of an ``asyncio.run``), the next command on them fails with "Event loop is
closed". Synchronous programs (Django views, Flask handlers, scripts) call
``asyncio.run(docket.add(fn)(...))`` with a module-level Docket, a fresh loop each time, so
the Docket keeps one store per running loop and opens another when a new loop appears.

Each loop's store is closed on its own loop when that loop ends: a small guard task waits
for the cancellation ``asyncio.run`` (and ``asyncio.Runner``) send to every task still
pending at the end, and closes the store then. Connections are never abandoned to a closed
loop (they would only be reclaimed by the garbage collector, with ResourceWarnings).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

from strew.stores import NO_WAIT, Durability, Store, open_store


class LoopLocalStore:
    """A `Store` that hands every call to the store of the running loop (see the module)."""

    def __init__(self, opener: Callable[[], Store]) -> None:
        self._opener = opener
        self._lock = threading.Lock()
        # Opened lazily: nothing connects until the first command, on whichever loop.
        self._spare: Store | None = opener()
        self._stores: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[Store, asyncio.Event, asyncio.Task[None]]
        ] = weakref.WeakKeyDictionary()
        _LIVE.add(self)

    def _current(self) -> Store | None:
        """The running loop's store (opened on first use), None outside any loop."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        with self._lock:
            found = self._stores.get(loop)
            if found is not None:
                return found[0]
            store, self._spare = self._spare or self._opener(), None
            closing = asyncio.Event()
            guard = loop.create_task(self._guard(loop, store, closing), name="strew store closer")
            self._stores[loop] = (store, closing, guard)
            return store

    def here(self) -> Store:
        """The running loop's store itself (for tests that look beneath the seam)."""
        current = self._current()
        if current is None:
            raise RuntimeError("LoopLocalStore.here() needs a running event loop")
        return current

    def _unbound(self) -> Store:
        with self._lock:
            if self._spare is None:
                self._spare = self._opener()
            return self._spare

    def __getattr__(self, name: str) -> Any:
        current = self._current()
        if current is not None:
            return getattr(current, name)
        # Outside any loop (``sync_docket.run(docket.store.destroy())``): a method is looked
        # up now and called later on some loop, so it must find that loop's store then.
        attribute = getattr(self._unbound(), name)
        if inspect.iscoroutinefunction(attribute):

            async def deferred(*args: Any, **kwargs: Any) -> Any:
                return await getattr(self, name)(*args, **kwargs)

            return deferred
        if inspect.isasyncgenfunction(attribute):

            async def deferred_stream(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                async for item in getattr(self, name)(*args, **kwargs):
                    yield item

            return deferred_stream
        return attribute

    async def _guard(
        self, loop: asyncio.AbstractEventLoop, store: Store, closing: asyncio.Event
    ) -> None:
        """Close ``store`` when told to, or when its loop cancels every task at its end; then
        forget it (the entry holds the loop: kept, every ended loop would stay in memory)."""
        try:
            await closing.wait()
        finally:
            with self._lock:
                found = self._stores.get(loop)
                if found is not None and found[0] is store:
                    del self._stores[loop]
            with contextlib.suppress(Exception):
                await store.close()

    async def close(self) -> None:
        """Close the running loop's store (other loops close theirs when they end)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            found = self._stores.pop(loop, None)
        if found is None:
            return
        _, closing, guard = found
        closing.set()
        await guard


_LIVE: weakref.WeakSet[LoopLocalStore] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A thread of the parent may have held the lock when it forked; in the child it would
    # stay held for ever. The parent's loops never run here, so their stores are never used.
    for store in list(_LIVE):
        store._lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def store_per_loop(
    url: str, docket: str, allow_eviction: bool | None, durability: Durability = NO_WAIT
) -> Store:
    """The store for ``docket`` at ``url`` that follows the running event loop; the memory
    store is one per process and bound to no loop, so it is returned as it is."""

    def opener() -> Store:
        return open_store(url, docket, allow_eviction=allow_eviction, durability=durability)

    if url.startswith("memory://"):
        return opener()
    return cast(Store, LoopLocalStore(opener))
