"""strew: ``Docket.add_many`` (or an ``Agenda`` scatter) and the ``strew worker`` command."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import strew
from bench.field import harness, record

DOCKET = "field"
DELAYED = None
CONCURRENCY = "async task; `strew worker --concurrency N`"

Enqueue = Callable[[Sequence[int], Sequence[float] | None], Awaitable[None]]


async def noop(i: int) -> None:
    record.record(i)


tasks = [noop]


@asynccontextmanager
async def producer() -> AsyncIterator[Enqueue]:
    async with strew.Docket(DOCKET, record.url()) as docket:
        docket.register(noop)

        async def enqueue(indices: Sequence[int], dues: Sequence[float] | None) -> None:
            if dues is None:
                await docket.add_many([docket.call(noop)(i) for i in indices])
            else:
                whens = [datetime.fromtimestamp(d, UTC) for d in dues]
                await docket.add_many(
                    [docket.call(noop, when=w)(i) for i, w in zip(indices, whens, strict=True)]
                )

        yield enqueue


@asynccontextmanager
async def scatter_producer() -> AsyncIterator[Enqueue]:
    """An ``Agenda`` of the calls, scattered over an hour (``atomic``, the default)."""
    async with strew.Docket(DOCKET, record.url()) as docket:
        docket.register(noop)

        async def enqueue(indices: Sequence[int], dues: Sequence[float] | None) -> None:
            agenda = strew.Agenda()
            for i in indices:
                agenda.add(noop)(i)
            await agenda.scatter(docket, over=timedelta(hours=1))

        yield enqueue


def worker_command(concurrency: int) -> list[str]:
    return [
        harness.executable("strew"),
        "worker",
        "--tasks",
        "bench.field.strew:tasks",
        "--url",
        record.url(),
        "--docket",
        DOCKET,
        "--concurrency",
        str(concurrency),
        "--logging-level",
        "warning",
    ]
