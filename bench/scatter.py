"""Scatter: schedule a whole agenda over a window, strew's `Agenda` vs pydocket's.

For each size, an agenda of small calls is built (untimed) and scattered over an hour; the
clock covers ``await agenda.scatter(...)`` alone. The Redis memory it took (``used_memory``
before and after) is divided by the tasks scheduled. pydocket writes one task per round trip,
so at large sizes its scatter is stopped after ``--pydocket-cap`` seconds: its rate is then
the tasks it had scheduled by that moment (counted in Redis) over the time taken, and its time
for the full size is extrapolated from that rate (marked as such). strew alone is also run at
1,000,000 tasks, atomic (the default: staged, then committed in one step) and streamed
(``atomic=False``).

    .venv/bin/python -m bench.scatter [--runs 3] [--sizes 10000 100000] [--big 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from contextlib import suppress
from datetime import timedelta
from typing import Any

import redis.asyncio as aioredis

from bench import common

NAME = "scatter"
TARGET_RATIO = 30.0
TARGET_100K_SECONDS = 3.0
OVER = timedelta(hours=1)


async def work(i: int, label: str) -> None:
    return None


async def pydocket_count(url: str, theirs: Any) -> int:
    """Tasks pydocket holds for this docket: future ones in its queue, due ones in its
    stream."""
    client = aioredis.Redis.from_url(url)
    try:
        queued = int(await client.zcard(theirs.queue_key))
        streamed = (
            int(await client.xlen(theirs.stream_key))
            if await client.exists(theirs.stream_key)
            else 0
        )
        return queued + streamed
    finally:
        await client.aclose()


async def one(
    system: str, url: str, n: int, *, atomic: bool = True, cap: float | None = None
) -> dict[str, Any]:
    name = common.docket_name(NAME, system)
    try:
        if system == "strew":
            import strew

            async with strew.Docket(name, url) as docket:
                docket.register(work)
                agenda = strew.Agenda()
                for i in range(n):
                    agenda.add(work)(i, f"user-{i}")
                common.settle()
                before = await common.used_memory(url)
                scripts = await common.ScriptTime.read(url)
                started = time.perf_counter()
                executions = await agenda.scatter(docket, over=OVER, atomic=atomic)
                seconds = time.perf_counter() - started
                busy, longest = await scripts.since(url)
                after = await common.used_memory(url)
                scheduled = (await docket.snapshot(limit=0)).total_tasks
                if len(executions) != n:
                    raise RuntimeError(f"strew scattered {len(executions)} of {n}")
                del executions, agenda
            extrapolated = False
            redis_time = {"redis_busy_seconds": busy, "longest_block_seconds": longest}
        else:
            redis_time = {}
            from docket import Docket as TheirDocket
            from docket.agenda import Agenda as TheirAgenda

            async with TheirDocket(name, common.pydocket_url(url)) as theirs:
                theirs.register(work)
                their_agenda = TheirAgenda()
                for i in range(n):
                    their_agenda.add(work)(i, f"user-{i}")
                common.settle()
                before = await common.used_memory(url)
                started = time.perf_counter()
                scatter = asyncio.ensure_future(their_agenda.scatter(theirs, over=OVER))
                done, _ = await asyncio.wait([scatter], timeout=cap)
                seconds = time.perf_counter() - started
                extrapolated = scatter not in done
                if extrapolated:
                    scatter.cancel()
                    with suppress(asyncio.CancelledError):
                        await scatter
                else:
                    scatter.result()
                after = await common.used_memory(url)
                scheduled = await pydocket_count(url, theirs)
                del their_agenda, scatter
    finally:
        await common.forget(url, name)
        common.settle()
    if not extrapolated and scheduled != n:
        raise RuntimeError(f"{system}: {scheduled} of {n} tasks are scheduled")
    rate = scheduled / seconds
    return {
        "tasks": n,
        "scheduled": scheduled,
        "seconds": seconds if not extrapolated else n / rate,
        "measured_seconds": seconds,
        "rate": rate,
        "extrapolated": extrapolated,
        "bytes_per_task": (after - before) / scheduled if scheduled else float("nan"),
        **redis_time,
    }


async def main(args: argparse.Namespace) -> None:
    with common.redis_server(args.url) as url:
        runs: dict[str, list[dict[str, Any]]] = {}

        def note(label: str, result: dict[str, Any], i: int) -> None:
            runs.setdefault(label, []).append(result)
            extra = (
                f" (stopped after {result['measured_seconds']:.1f}s with "
                f"{result['scheduled']:,} scheduled; full time extrapolated)"
                if result["extrapolated"]
                else ""
            )
            busy = ""
            if "redis_busy_seconds" in result:
                longest = result["longest_block_seconds"]
                busy = f", Redis in scripts {result['redis_busy_seconds']:.2f}s, longest " + (
                    f"{longest * 1000:,.0f} ms" if longest is not None else "under the slow log's"
                )
            print(
                f"run {i + 1}/{args.runs} {label:>24}: {result['rate']:>9,.0f} tasks/s, "
                f"{result['seconds']:7.2f}s, {result['bytes_per_task']:,.0f} B/task{busy}{extra}",
                flush=True,
            )

        for i in range(args.runs):
            for n in args.sizes:
                note(f"strew {n}", await one("strew", url, n), i)
                note(f"pydocket {n}", await one("pydocket", url, n, cap=args.pydocket_cap), i)
        # The big runs last: a million tasks leave this process's heap and Redis's larger,
        # which would blur the smaller comparisons run after them.
        for i in range(args.runs):
            for n in args.big:
                note(f"strew {n} atomic", await one("strew", url, n), i)
                note(f"strew {n} streamed", await one("strew", url, n, atomic=False), i)

        def med(label: str, key: str) -> float:
            return common.median([r[key] for r in runs[label]])

        def med_busy(label: str, key: str) -> float | None:
            values = [r[key] for r in runs[label] if r.get(key) is not None]
            return common.median(values) if values else None

        medians: dict[str, dict[str, Any]] = {
            label: {
                "rate": med(label, "rate"),
                "seconds": med(label, "seconds"),
                "bytes_per_task": med(label, "bytes_per_task"),
                "extrapolated": any(r["extrapolated"] for r in results),
                "redis_busy_seconds": med_busy(label, "redis_busy_seconds"),
                "longest_block_seconds": med_busy(label, "longest_block_seconds"),
            }
            for label, results in runs.items()
        }
        rows: list[common.Row] = []
        for n in args.sizes:
            s, p = medians[f"strew {n}"], medians[f"pydocket {n}"]
            mark = " (pydocket extrapolated)" if p["extrapolated"] else ""
            rows.append(
                common.Row(
                    f"{n:,} tasks: tasks/s{mark}",
                    s["rate"],
                    p["rate"],
                    "/s",
                    target=f">= {TARGET_RATIO:.0f}x",
                )
            )
            rows.append(
                common.Row(
                    f"{n:,} tasks: seconds{mark}",
                    s["seconds"],
                    p["seconds"],
                    "s",
                    better="lower",
                    target=f"strew < {TARGET_100K_SECONDS:g} s" if n == 100_000 else "",
                )
            )
            rows.append(
                common.Row(
                    f"{n:,} tasks: Redis bytes per task",
                    s["bytes_per_task"],
                    p["bytes_per_task"],
                    "B",
                    better="lower",
                )
            )
        shown = [(f"strew {n}", f"{n:,} tasks") for n in args.sizes] + [
            (f"strew {n} {how}", f"{n:,} tasks {how}")
            for n in args.big
            for how in ("atomic", "streamed")
        ]
        for label, title in shown:
            m = medians[label]
            busy = m["redis_busy_seconds"]
            rows.append(common.Row(f"{title}: Redis busy in scripts", busy, None, "s"))
            rows.append(
                common.Row(
                    f"{title}: longest single script (Redis blocked)",
                    m["longest_block_seconds"],
                    None,
                    "s",
                )
            )
        for n in args.big:
            for how in ("atomic", "streamed"):
                m = medians[f"strew {n} {how}"]
                rows.append(common.Row(f"{n:,} tasks {how}: tasks/s", m["rate"], None, "/s"))
                rows.append(common.Row(f"{n:,} tasks {how}: seconds", m["seconds"], None, "s"))
                rows.append(
                    common.Row(
                        f"{n:,} tasks {how}: Redis bytes per task", m["bytes_per_task"], None, "B"
                    )
                )
        print()
        print(common.table(f"scatter over {OVER}: medians of {args.runs} runs", rows))
        verdicts = {}
        for n in args.sizes:
            r = common.ratio(medians[f"strew {n}"]["rate"], medians[f"pydocket {n}"]["rate"])
            verdicts[f"ratio_{n}"] = r
            verdicts[f"ratio_{n}_met"] = r >= TARGET_RATIO
            print(
                f"{n:,} tasks: strew {r:.1f}x pydocket (target >= {TARGET_RATIO:.0f}x: "
                f"{'met' if r >= TARGET_RATIO else 'MISSED'})"
            )
        if 100_000 in args.sizes:
            secs = medians["strew 100000"]["seconds"]
            verdicts["seconds_100000_met"] = secs < TARGET_100K_SECONDS
            print(
                f"100,000 tasks in {secs:.2f}s (target < {TARGET_100K_SECONDS:g}s: "
                f"{'met' if secs < TARGET_100K_SECONDS else 'MISSED'})"
            )
        common.save(NAME, args, url, {"medians": medians, "verdicts": verdicts, "runs": runs})


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--big", type=int, nargs="*", default=[1_000_000], help="sizes only strew runs")
    p.add_argument(
        "--pydocket-cap",
        type=float,
        default=8.0,
        help="stop pydocket's scatter after this many seconds and extrapolate",
    )
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
