"""What each dashboard page costs on a docket of 1,000,000 scheduled tasks, and what an open
page costs Redis.

On a redis-server of its own (a free loopback port, nothing persisted, shut down at the end)
this fills one docket with ``--tasks`` future tasks (default 1,000,000) as one scatter over
the next 24 hours (every scheduled task a member of it: the worst case for its progress),
plus 9 scatters of 1,000 (so the front page reads the progress of ten), has 10 workers report
and fills a day of their lateness summaries, has a stand-in worker claim 50 due tasks
(so "Running now" has rows and progress to read), has a real worker fail ``--failures``
tasks (default 10,000: as many as the record keeps by default) and quarantines nothing.
Then, ``--runs`` times each, it times every page as the dashboard serves it: its read
(what `SharedReads` shares among viewers) plus drawing the HTML, in-process, no HTTP.

It also counts, with ``INFO commandstats``, the commands one refresh of each page sends to
Redis (a Lua script's inner calls included), checks that ten viewers of one page within a
refresh interval cost what one does, through a real uvicorn, and measures the commands per
second while headless Chromium keeps each page open (``--watch`` seconds each, polling every
2 s). docs/dashboard.md quotes them.

    .venv/bin/python -m bench.dashboard [--tasks 1000000] [--failures 10000] [--runs 5]
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import redis.asyncio as aioredis

from bench import common
from strew import Agenda, Docket, Worker
from strew.dashboard import scatters, strew_dashboard, views
from strew.dashboard.html import Context
from strew.dashboard.pages import PAGES, Page, draw_task
from strew.docket.failures import MAX_LIMIT
from strew.docket.workers import encode_report
from strew.stores.views import LatenessSummary
from tests.dashboard.serving import served
from tests.helpers import wait_until

NAME = "dashboard"
FILL_CHUNK = 20_000
RUNNING = 50
SMALL_SCATTERS = 9
WORKERS = 10


async def work(i: int, label: str) -> None:
    return None


async def broken(i: int) -> None:
    raise ValueError(f"row {i} is <b>broken</b>")


async def failing(docket: Docket, count: int) -> None:
    """``count`` tasks due now, each failed once by a real worker (its log silenced)."""
    await docket.add_many(
        [docket.call(broken, key=f"broken-{i}")(i) for i in range(count)], chunk_size=5_000
    )
    logging.getLogger("strew").setLevel(logging.CRITICAL)
    worker = Worker(docket, concurrency=100, poll_ceiling=timedelta(milliseconds=50))
    run = asyncio.create_task(worker.run_forever())
    try:

        async def recorded() -> bool:
            return len(await docket.failures(min(count, MAX_LIMIT))) >= count

        await wait_until(recorded, timeout=900, interval=0.5, message="failures recorded")
    finally:
        worker.stop()
        await run
        logging.getLogger("strew").setLevel(logging.NOTSET)


async def fill(docket: Docket, want: int) -> str:
    """``want`` tasks as one scatter over the next day, then the small ones; the big one's id."""
    start = datetime.now(UTC) + timedelta(minutes=1)
    agenda = Agenda()
    for i in range(want):
        agenda.add(work, key=f"t-{i}")(i, f"user-{i}")
    done = await agenda.scatter(docket, over=timedelta(days=1), start=start)
    assert done.scatter_id is not None
    for n in range(SMALL_SCATTERS):
        small = Agenda()
        for i in range(1_000):
            small.add(work, key=f"s{n}-{i}")(i, "small")
        await small.scatter(docket, over=timedelta(hours=1), start=start)
    return done.scatter_id


async def reporting(docket: Docket) -> None:
    """``WORKERS`` workers' reports, and a day of their lateness summaries (one each per
    10 s), as `bench.readmodel` fills them."""
    store = docket.store
    now = await store.now()
    for w in range(WORKERS):
        report = encode_report(
            host="bench",
            pid=w,
            concurrency=16,
            running=3,
            done=1000,
            failed=1,
            started=now,
            version="bench",
        )
        await store.heartbeat(f"worker-{w}", 3_600_000_000, report)
    day, interval = 86_400_000_000, 10_000_000
    summaries = [
        LatenessSummary(now - day + i * interval, f"worker-{w}", 40, 900, 4_000, 9_000)
        for i in range(day // interval)
        for w in range(WORKERS)
    ]
    for low in range(0, len(summaries), 5_000):
        await store.record_lateness(summaries[low : low + 5_000], 2 * day)


async def running(docket: Docket) -> None:
    """``RUNNING`` due tasks claimed by a stand-in worker, with a heartbeat."""
    await docket.add_many([docket.call(work, key=f"run-{i}")(i, "now") for i in range(RUNNING)])
    claimed = await docket.store.claim("bench-worker#0", RUNNING, 3_600_000_000, 0)
    assert len(claimed.claims) == RUNNING, len(claimed.claims)
    await docket.store.heartbeat("bench-worker#0", 3_600_000_000)


async def commands(url: str) -> dict[str, int]:
    client = aioredis.Redis.from_url(url)
    try:
        stats = await client.info("commandstats")
    finally:
        await client.aclose()
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def spent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Commands sent between two readings, less the ``INFO`` (and its connection's ``HELLO``)
    that read them."""
    out = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    out["info"] = out.get("info", 0) - 1
    out["hello"] = out.get("hello", 0) - 1  # the connection that read them
    return {k: v for k, v in sorted(out.items()) if v > 0}


async def page_once(docket: Docket, page: Page | None, query: dict[str, str]) -> str:
    ctx = Context("", "x" * 32, False, docket.name, datetime.now(UTC))
    if page is None:
        found = await views.task(docket, "t-12345")
        # A scheduled first attempt: no failure to look up (a failed task's page also reads
        # the failed page's first page, a read shared with that page).
        return draw_task(ctx, found)
    if page.parse is not None:
        params = page.parse(query)
    else:
        params = {name: allowed[0] for name, allowed in page.params.items()}
    return page.draw(ctx, await page.read(docket, params))


async def main(args: Any) -> None:
    with common.redis_server(args.url) as url:
        name = common.docket_name(NAME, "strew")
        async with Docket(name, url) as docket:
            docket.register(work)
            started = time.monotonic()
            big = await fill(docket, args.tasks)
            print(f"scattered {args.tasks:,} tasks in {time.monotonic() - started:.1f}s")
            await reporting(docket)
            docket.register(broken)
            started = time.monotonic()
            await failing(docket, args.failures)
            print(f"failed {args.failures:,} tasks in {time.monotonic() - started:.1f}s")
            await running(docket)
            targets: list[tuple[str, Page | None]] = [(p.slug, p) for p in PAGES]
            targets.append(("task", None))
            targets.append(("scatter", None))
            targets.append(("load (day)", next(p for p in PAGES if p.slug == "load")))
            # Filtered by a task that has no failure: the most the filter reads (1,000).
            targets.append(("failed (task)", next(p for p in PAGES if p.slug == "failed")))
            timings: dict[str, list[float]] = {label: [] for label, _ in targets}
            cost: dict[str, dict[str, int]] = {}
            for label, page in targets:
                for run in range(args.runs + 1):  # the first warms the connection
                    if label == "load (day)":
                        began = time.perf_counter()
                        ctx = Context("", "x" * 32, False, name, datetime.now(UTC))
                        load = next(p for p in PAGES if p.slug == "load")
                        load.draw(ctx, await views.load_ahead(docket, "day"))
                    elif label == "scatter":
                        before = await commands(url)
                        began = time.perf_counter()
                        ctx = Context("", "x" * 32, False, name, datetime.now(UTC))
                        scatters.draw_one(ctx, big, await scatters.read_one(docket, big))
                    else:
                        before = await commands(url)
                        began = time.perf_counter()
                        query = {"task": "work"} if label == "failed (task)" else {}
                        await page_once(docket, page, query)
                    took = (time.perf_counter() - began) * 1000
                    if run:
                        timings[label].append(took)
                    if run == args.runs and label != "load (day)":
                        # Counted on a warm run: connections already open.
                        cost[label] = spent(before, await commands(url))
            shared = await viewers(docket, url)
            watched = await watching(docket, url, args.watch)
            report(args, url, timings, cost, shared, watched)
            # A million keys take a while to delete on a busy machine; a throwaway server
            # goes away with them in any case.
            if args.url is not None:
                await docket.store.destroy()


def report(
    args: Any,
    url: str,
    timings: dict[str, list[float]],
    cost: dict[str, dict[str, int]],
    shared: dict[str, int],
    watched: dict[str, float],
) -> None:
    print(f"\nEach page (read + HTML) at {args.tasks:,} scheduled tasks, {args.runs} runs:")
    for label, t in timings.items():
        print(f"  {label:12} median {common.median(t):7.1f} ms   max {max(t):7.1f} ms")
    print("\nCommands one refresh of each page sends to Redis (INFO commandstats):")
    for label, used in cost.items():
        print(f"  {label:12} {sum(used.values()):3}  {used}")
    print(f"\nTen viewers of /running within one refresh interval: {shared}")
    print(f"\nOne browser with a page open for {args.watch:.0f}s, refresh 2s: {watched}")
    common.save(
        NAME,
        args,
        url,
        {
            "tasks": args.tasks,
            "running": RUNNING,
            "failures": args.failures,
            "ms": {
                label: {"median": common.median(t), "max": max(t)} for label, t in timings.items()
            },
            "commands_per_refresh": cost,
            "ten_viewers": shared,
            "watched": watched,
        },
    )


async def viewers(docket: Docket, url: str) -> dict[str, int]:
    """Commands for one viewer of /running, then for ten at once, through a real uvicorn
    (a fresh app each time, so neither is answered from the other's read)."""
    out = {}
    for count in (1, 1, 10):  # the first opens the connections
        async with (
            served(strew_dashboard(docket, refresh=30)) as base,
            httpx.AsyncClient(base_url=base) as client,
        ):
            before = await commands(url)
            answers = await asyncio.gather(*(client.get("/live/running") for _ in range(count)))
            assert all(a.status_code == 200 for a in answers)
            out[f"{count} viewers"] = sum(spent(before, await commands(url)).values())
    return out


async def watching(docket: Docket, url: str, seconds: float) -> dict[str, float]:
    """Commands per second while headless Chromium keeps each page open for ``seconds``
    (the default refresh of 2 s): what an open page really costs, polling included."""
    from tests.dashboard.browser import chromium, chromium_path

    if chromium_path() is None or seconds <= 0:
        return {}
    out = {}
    async with (
        served(strew_dashboard(docket)) as base,
        chromium() as browser,
    ):
        page = await browser.new_page()
        for path in ("/", "/load", "/running", "/failed", "/workers", "/punctuality", "/held"):
            await page.goto(base + path)
            before = await commands(url)
            began = time.monotonic()
            await asyncio.sleep(seconds)
            used = sum(spent(before, await commands(url)).values())
            out[path] = round(used / (time.monotonic() - began), 1)
    return out


if __name__ == "__main__":
    p = common.parser(__doc__ or NAME)
    p.add_argument("--tasks", type=int, default=1_000_000)
    p.add_argument("--failures", type=int, default=10_000)
    p.add_argument(
        "--watch", type=float, default=20.0, help="seconds each page stays open in Chromium"
    )
    args = p.parse_args()
    common.run(main(args))
