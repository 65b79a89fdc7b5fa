"""Memory: Redis bytes per scheduled (future) task.

Each system schedules a few warm-up tasks first (so script caches and per-docket keys are
already there), then ``--sizes`` tasks due in an hour with small arguments (an int and a
short string), in one batch add each; the figure is the change in Redis ``used_memory``
divided by the number of tasks. The Redis is a throwaway one of our own unless ``--url`` is
given (then other clients' traffic would blur the figure).

    .venv/bin/python -m bench.memory [--runs 3] [--sizes 10000 100000]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from bench import common

NAME = "memory"
WARM_UP = 10


async def work(i: int, label: str) -> None:
    return None


async def key_count(url: str) -> int:
    client = aioredis.Redis.from_url(url)
    try:
        return int(await client.dbsize())
    finally:
        await client.aclose()


async def fill(docket: Any, n: int, offset: int) -> None:
    when = datetime.now(UTC) + timedelta(hours=1)
    calls = [docket.call(work, when=when)(offset + i, f"user-{offset + i}") for i in range(n)]
    executions = await docket.add_many(calls)
    if len(executions) != n:
        raise RuntimeError(f"scheduled {len(executions)} of {n}")


async def one(system: str, url: str, n: int) -> dict[str, float]:
    name = common.docket_name(NAME, system)
    try:
        if system == "strew":
            import strew

            async with strew.Docket(name, url) as docket:
                await fill(docket, WARM_UP, 0)
                common.settle()
                before, keys_before = await common.used_memory(url), await key_count(url)
                await fill(docket, n, WARM_UP)
                after, keys_after = await common.used_memory(url), await key_count(url)
        else:
            import docket as pydocket

            async with pydocket.Docket(name, common.pydocket_url(url)) as theirs:
                await fill(theirs, WARM_UP, 0)
                common.settle()
                before, keys_before = await common.used_memory(url), await key_count(url)
                await fill(theirs, n, WARM_UP)
                after, keys_after = await common.used_memory(url), await key_count(url)
    finally:
        await common.forget(url, name)
    return {"bytes_per_task": (after - before) / n, "keys_per_task": (keys_after - keys_before) / n}


async def main(args: argparse.Namespace) -> None:
    with common.redis_server(args.url) as url:
        runs: dict[str, list[dict[str, float]]] = {}
        for i in range(args.runs):
            for n in args.sizes:
                for system in ("strew", "pydocket"):
                    result = await one(system, url, n)
                    common.settle()
                    runs.setdefault(f"{system} {n}", []).append(result)
                    print(
                        f"run {i + 1}/{args.runs} {system:>8} {n:>7,} tasks: "
                        f"{result['bytes_per_task']:,.0f} bytes/task, "
                        f"{result['keys_per_task']:.2f} Redis keys/task",
                        flush=True,
                    )
        medians = {
            label: {k: common.median([r[k] for r in results]) for k in results[0]}
            for label, results in runs.items()
        }
        rows = []
        for n in args.sizes:
            rows.append(
                common.Row(
                    f"bytes per scheduled task, {n:,} tasks",
                    medians[f"strew {n}"]["bytes_per_task"],
                    medians[f"pydocket {n}"]["bytes_per_task"],
                    "B",
                    better="lower",
                )
            )
            rows.append(
                common.Row(
                    f"Redis keys per task, {n:,} tasks",
                    medians[f"strew {n}"]["keys_per_task"],
                    medians[f"pydocket {n}"]["keys_per_task"],
                    compare=False,
                )
            )
        print()
        print(
            common.table(
                f"memory: Redis used_memory per future task, medians of {args.runs} runs", rows
            )
        )
        common.save(NAME, args, url, {"medians": medians, "runs": runs})


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
