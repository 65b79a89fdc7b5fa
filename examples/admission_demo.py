"""Admission controls, runnable: a find-and-flood job that the CRM, the ops channel and the
search index all survive.

    python examples/admission_demo.py            # in-process store, nothing to install
    STREW_URL=redis://localhost:6379/0 python examples/admission_demo.py

* ``sync_customer`` runs one at a time per customer (`ConcurrencyLimit`) and at most ten
  times a minute in all (`RateLimit`, the CRM's quota at demo scale).
* ``alert_ops`` posts at most once a minute per channel (`Cooldown`): the rest are dropped.
* ``rebuild_search_index`` turns a burst of requests into one run after the burst goes quiet
  (`Debounce`).

Every number in the summary is decided by the store, not by timing, so it is the same on every
run; docs/admission.md walks through it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from strew import (
    Agenda,
    ConcurrencyLimit,
    Cooldown,
    Debounce,
    Docket,
    RateLimit,
    Worker,
)

CRM_QUOTA = RateLimit(10, per=timedelta(minutes=1))


class Crm:
    """Stands in for the API we must not flood: it remembers how many calls per customer
    were in flight at once."""

    def __init__(self) -> None:
        self.in_flight: Counter[int] = Counter()
        self.most_in_flight: Counter[int] = Counter()
        self.calls: list[tuple[int, str]] = []

    async def push(self, customer_id: int, part: str) -> None:
        self.in_flight[customer_id] += 1
        self.most_in_flight[customer_id] = max(
            self.most_in_flight[customer_id], self.in_flight[customer_id]
        )
        self.calls.append((customer_id, part))
        await asyncio.sleep(0.02)  # a call takes a while: overlapping calls would show
        self.in_flight[customer_id] -= 1


CRM = Crm()
posted: list[tuple[str, str]] = []
rebuilds: list[str] = []


async def sync_customer(
    customer_id: Annotated[int, ConcurrencyLimit(1)],  # one call per customer at a time
    part: str,
    rate: RateLimit = CRM_QUOTA,  # and the CRM's quota over every customer
) -> None:
    await CRM.push(customer_id, part)


async def alert_ops(
    channel: Annotated[str, Cooldown(timedelta(minutes=1))],  # one post a minute per channel
    text: str,
) -> None:
    posted.append((channel, text))


async def rebuild_search_index(
    reason: str, debounce: Debounce = Debounce(timedelta(milliseconds=200))
) -> None:
    rebuilds.append(reason)


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds; fail loudly after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.005)


def find_stale_customers() -> list[int]:
    """The 'find' half: in real life, a database query."""
    return [1001, 1002, 1003, 1004]


async def main() -> dict[str, Any]:
    CRM.__init__()
    posted.clear()
    rebuilds.clear()
    url = os.environ.get("STREW_URL", "memory://admission-demo")
    name = f"admission-demo-{uuid.uuid4().hex[:8]}"
    async with Docket(name=name, url=url) as docket:
        try:
            for task in (sync_customer, alert_ops, rebuild_search_index):
                docket.register(task)
            poll = timedelta(milliseconds=20)

            # 1. Find and flood, flattened: two syncs per customer, scattered over 0.3 s.
            #    The per-customer limit keeps each customer's two calls from overlapping.
            agenda = Agenda()
            for customer_id in find_stale_customers():
                for part in ("profile", "billing"):
                    agenda.add(sync_customer, key=f"sync-{customer_id}-{part}")(customer_id, part)
            await agenda.scatter(docket, over=timedelta(milliseconds=300))
            async with Worker(docket, concurrency=8, poll_ceiling=poll) as worker:
                await worker.run_until_finished()

            # 2. Every sync wanted to tell #crm-sync it was slow, and one wanted #billing.
            #    The first post per channel goes out; the others within the minute are dropped.
            for n in range(4):
                await docket.add(alert_ops, key=f"alert-crm-{n}")("#crm-sync", f"slow call {n}")
            await docket.add(alert_ops, key="alert-billing")("#billing", "invoice lag")
            async with Worker(docket, concurrency=8, poll_ceiling=poll) as worker:
                await worker.run_until_finished()
            # A dropped task is acknowledged and recorded as cancelled, never run.
            crm_alerts = [await docket.get_execution(f"alert-crm-{n}") for n in range(4)]
            alerts_dropped = worker.stats.dropped

            # 3. Each changed customer asks for a search-index rebuild: a burst of five
            #    becomes one rebuild, once no request has come for 200 ms.
            for customer_id in [*find_stale_customers(), 1005]:
                await docket.add(rebuild_search_index)(f"customer {customer_id} changed")
            async with Worker(docket, concurrency=8, poll_ceiling=poll) as worker:
                await worker.run_until_finished()
            rebuilds_dropped = worker.stats.dropped

            # 4. A second job floods five urgent syncs at once. Eight of the CRM's ten calls
            #    this minute are spent: two go now, three are put back to when the oldest
            #    call leaves the minute. Stop there rather than wait a minute.
            for customer_id in range(2001, 2006):
                await docket.add(sync_customer, key=f"urgent-{customer_id}")(customer_id, "all")
            async with Worker(docket, concurrency=8, poll_ceiling=poll) as worker:
                running = asyncio.create_task(worker.run_forever())
                await wait_until(lambda: worker.stats.deferred == 3 and len(CRM.calls) == 10)
                worker.stop()
                await running
            put_back = [
                key
                for key in (f"urgent-{c}" for c in range(2001, 2006))
                if (await docket.store.task_state(key)).scheduled is not None
            ]
            urgent_deferred = worker.stats.deferred

            return {
                "customer syncs": len(CRM.calls),
                "most calls at once for one customer": max(CRM.most_in_flight.values()),
                "urgent syncs put back by the quota": len(put_back),
                "times put back": urgent_deferred,
                "alerts posted": sorted(channel for channel, _ in posted),
                "alerts dropped by the cooldown": alerts_dropped,
                "#crm-sync alerts ended": sorted(
                    "?" if alert is None or alert.state is None else alert.state.value
                    for alert in crm_alerts
                ),
                "search index rebuilds": len(rebuilds),
                "rebuild requests dropped by the debounce": rebuilds_dropped,
            }
        finally:
            await docket.store.destroy()


if __name__ == "__main__":
    for what, value in asyncio.run(main()).items():
        print(f"{what}: {value}")
