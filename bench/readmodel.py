"""What each read of a dashboard costs on a docket of 1,000,000 scheduled tasks.

On a redis-server of its own (a free loopback port, nothing persisted, shut down at the end)
this scatters ``--scatter`` tasks (default 1,000,000, over the next day: every scheduled task
is a member of that one scatter, the worst case for its progress), adds ``--tasks`` more plain
scheduled tasks (default 0), has ``--workers`` workers (default 10) report and fills a day of
their lateness summaries (one per worker per 10 s), then times, ``--runs`` times each:

* `Docket.scatters(20)`: the listing;
* `Docket.scatter_progress(id, 60)`: the 1,000,000-member scatter drawn in 60 slices,
  estimated from 10,000 members (and once ``exact=True``: a walk of every member, in steps of
  2,500);
* `Docket.workers()` and `Docket.punctuality()` (the last hour).

It also reports the longest single Redis step of the progress read (the slow log, set to
catch anything over 1 ms on this private server).

    .venv/bin/python -m bench.readmodel [--scatter 1000000] [--tasks 0] [--runs 5]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from bench import common

NAME = "readmodel"


async def work(n: int) -> None:
    return None


async def timed(label: str, out: dict[str, list[float]], read: Any) -> Any:
    began = time.perf_counter()
    result = await read
    out.setdefault(label, []).append((time.perf_counter() - began) * 1000)
    return result


async def main(args: Any) -> None:
    import strew
    from strew.docket.workers import encode_report
    from strew.stores.views import LatenessSummary

    own = args.url is None
    with common.redis_server(args.url) as url:
        name = common.docket_name(NAME, "strew")
        try:
            async with strew.Docket(name, url) as docket:
                docket.register(work)
                agenda = strew.Agenda()
                for n in range(args.scatter):
                    agenda.add(work)(n)
                start = datetime.now(UTC) + timedelta(minutes=1)
                began = time.perf_counter()
                done = await agenda.scatter(docket, over=timedelta(days=1), start=start)
                scattered_s = time.perf_counter() - began
                assert done.scatter_id is not None
                if args.tasks:
                    calls = [
                        docket.call(work, when=start + timedelta(seconds=i % 86_400))(i)
                        for i in range(args.tasks)
                    ]
                    await docket.add_many(calls, chunk_size=5000)
                store = docket.store
                now = await store.now()
                for w in range(args.workers):
                    report = encode_report(
                        host="bench",
                        pid=w,
                        concurrency=16,
                        running=3,
                        done=1000,
                        failed=1,
                        started=now,
                        version=strew.__version__,
                    )
                    await store.heartbeat(f"worker-{w}", 3_600_000_000, report)
                day = 86_400_000_000
                interval = 10_000_000
                summaries = [
                    LatenessSummary(now - day + i * interval, f"worker-{w}", 40, 900, 4_000, 9_000)
                    for i in range(day // interval)
                    for w in range(args.workers)
                ]
                for low in range(0, len(summaries), 5_000):
                    await store.record_lateness(summaries[low : low + 5_000], 2 * day)

                client = aioredis.Redis.from_url(url)
                if own:
                    await client.config_set("slowlog-log-slower-than", 1000)
                    await client.slowlog_reset()
                reads: dict[str, list[float]] = {}
                for _ in range(args.runs):
                    await timed("scatters(20)", reads, docket.scatters(20))
                    progress = await timed(
                        "scatter_progress(60)", reads, docket.scatter_progress(done.scatter_id, 60)
                    )
                    await timed("workers()", reads, docket.workers())
                    points = await timed("punctuality(last hour)", reads, docket.punctuality())
                began = time.perf_counter()
                exact = await docket.scatter_progress(done.scatter_id, 60, exact=True)
                exact_ms = (time.perf_counter() - began) * 1000
                assert exact is not None and exact.waiting_total == args.scatter
                entries = await client.slowlog_get(10_000)
                await client.aclose()
                steps = [
                    int(e["duration"]) / 1000
                    for e in entries
                    if b"EVALSHA" in bytes(e["command"]).upper()[:8]
                ]
                assert progress is not None
                off = abs(progress.waiting_total - args.scatter) / args.scatter
                assert len(points) >= 300
            medians = {label: common.median(values) for label, values in reads.items()}
            print(
                f"{args.scatter:,}-task scatter (+{args.tasks:,} tasks), {args.workers} workers, "
                f"{args.runs} runs; scattered in {scattered_s:.1f} s"
            )
            for label, values in reads.items():
                print(
                    f"  {label:<24} median {medians[label]:8.1f} ms"
                    f"  (min {min(values):.1f}, max {max(values):.1f})"
                )
            print(f"  sampled waiting total off by {off:.2%} of the truth")
            print(f"  scatter_progress(60, exact=True) once: {exact_ms:.0f} ms")
            longest = max(steps, default=None)
            print(
                "  longest single script step (slow log, > 1 ms): "
                + ("none" if longest is None else f"{longest:.1f} ms over {len(steps)} steps")
            )
            if not args.no_save:
                common.save(
                    NAME,
                    args,
                    url,
                    {
                        "reads_ms": reads,
                        "medians_ms": medians,
                        "exact_progress_ms": exact_ms,
                        "sampled_waiting_off": off,
                        "longest_step_ms": longest,
                    },
                )
        finally:
            await common.forget(url, name)


if __name__ == "__main__":
    parser = common.parser(__doc__.splitlines()[0])
    parser.set_defaults(runs=5)
    parser.add_argument("--scatter", type=int, default=1_000_000, help="tasks in the scatter")
    parser.add_argument("--tasks", type=int, default=0, help="plain scheduled tasks besides")
    parser.add_argument("--workers", type=int, default=10, help="workers that report")
    common.run(main(parser.parse_args()))
