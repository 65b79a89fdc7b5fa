"""Replicas: what ``Docket(replicas=1)`` costs against ``replicas=0`` on a master and replica.

strew alone. Starts a throwaway master and a replica of it on loopback ports (no
persistence), and alternates the two settings on the same pair, ``--runs`` times: ``add_many``
of ``--tasks`` calls (one ``WAIT`` per chunk of 1,000), ``--adds`` sequential ``add`` calls
(one ``WAIT`` each: the worst case), and one worker at concurrency 10 draining the
``--tasks`` (one ``WAIT`` per acknowledgement batch). Reports the rates, their medians and the
ratio. Then the latency of one ``add`` with each setting, the two dockets taking turns call
by call (``--adds`` each), so that load from elsewhere on the machine falls on both alike:
p50 and p99, and the median extra the wait costs. With ``--url`` the given master is used
instead (it must have a replica).

    .venv/bin/python -m bench.replicas [--runs 3] [--tasks 10000] [--adds 2000]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from bench import common
from strew.testing import RedisServer

NAME = "replicas"
SETTINGS = (0, 1)


async def noop(i: int) -> None:
    return None


@contextmanager
def replicated(url: str | None) -> Iterator[str]:
    """The URL of a master with one replica in sync: ``url``, or a pair of our own."""
    if url is not None:
        yield url
        return
    with RedisServer(appendonly=False) as master:
        extra = ["--replicaof", "127.0.0.1", str(master.port)]
        with RedisServer(appendonly=False, extra=extra):
            client = redis.Redis(port=master.port)
            try:
                deadline = time.monotonic() + 20
                while client.info("replication").get("slave0", {}).get("state") != "online":
                    if time.monotonic() > deadline:
                        sys.exit("the replica did not come online in 20 s")
                    time.sleep(0.05)
            finally:
                client.close()
            yield master.url


async def one(url: str, replicas: int, tasks: int, adds: int) -> dict[str, float]:
    import strew

    name = common.docket_name(NAME, f"r{replicas}")
    try:
        async with strew.Docket(name, url, replicas=replicas) as docket:
            docket.register(noop)
            calls = [docket.call(noop)(i) for i in range(tasks)]
            started = time.perf_counter()
            await docket.add_many(calls)
            batch = tasks / (time.perf_counter() - started)
            started = time.perf_counter()
            for i in range(adds):
                await docket.add(noop)(i)
            single = adds / (time.perf_counter() - started)
            common.settle()
            worker = strew.Worker(docket, concurrency=10)
            started = time.perf_counter()
            await worker.run_until_finished()
            drained = (tasks + adds) / (time.perf_counter() - started)
            assert worker.stats.succeeded == tasks + adds, worker.stats
    finally:
        await common.forget(url, name)
    return {"add_many": batch, "add": single, "drain": drained}


async def interleaved(url: str, adds: int) -> dict[int, list[float]]:
    """Seconds per ``add`` with each setting, the two taking turns call by call."""
    import strew

    took: dict[int, list[float]] = {r: [] for r in SETTINGS}
    names = {r: common.docket_name(NAME, f"turns{r}") for r in SETTINGS}
    try:
        dockets = {r: strew.Docket(names[r], url, replicas=r) for r in SETTINGS}
        for docket in dockets.values():
            docket.register(noop)
            await docket.add(noop)(0)  # connect and load the scripts first
        for i in range(adds):
            for replicas in SETTINGS if i % 2 == 0 else SETTINGS[::-1]:
                started = time.perf_counter()
                await dockets[replicas].add(noop)(i)
                took[replicas].append(time.perf_counter() - started)
        for docket in dockets.values():
            await docket.store.close()
    finally:
        for name in names.values():
            await common.forget(url, name)
    return took


async def main(args: argparse.Namespace) -> None:
    with replicated(args.url) as url:
        runs: dict[int, list[dict[str, float]]] = {r: [] for r in SETTINGS}
        for i in range(args.runs):
            for replicas in SETTINGS if i % 2 == 0 else SETTINGS[::-1]:
                result = await one(url, replicas, args.tasks, args.adds)
                runs[replicas].append(result)
                common.settle()
                print(
                    f"run {i + 1}/{args.runs} replicas={replicas}  "
                    f"add_many {result['add_many']:9,.0f}/s  add {result['add']:7,.0f}/s  "
                    f"drain {result['drain']:7,.0f}/s",
                    flush=True,
                )
        metrics = ("add_many", "add", "drain")
        medians = {r: {k: common.median([x[k] for x in runs[r]]) for k in metrics} for r in runs}
        print(f"\nmedians of {args.runs} runs ({args.tasks:,} tasks, {args.adds:,} single adds):")
        print(f"{'':12} " + " ".join(f"{m + '/s':>12}" for m in metrics))
        for replicas, figures in medians.items():
            cells = " ".join(f"{figures[m]:12,.0f}" for m in metrics)
            print(f"replicas={replicas}   {cells}")
        cost = {m: common.ratio(medians[1][m], medians[0][m]) for m in metrics}
        print("1 / 0       " + " ".join(f"{cost[m]:12.2f}" for m in metrics))
        took = await interleaved(url, args.adds)
        latency = {
            r: {"p50_us": common.percentile(t, 50) * 1e6, "p99_us": common.percentile(t, 99) * 1e6}
            for r, t in took.items()
        }
        print(f"\none add, the two settings taking turns ({args.adds:,} each):")
        for replicas, figures in latency.items():
            print(
                f"replicas={replicas}   p50 {figures['p50_us']:7.0f} us   "
                f"p99 {figures['p99_us']:7.0f} us"
            )
        extra = latency[1]["p50_us"] - latency[0]["p50_us"]
        print(f"the wait adds {extra:.0f} us to the median add")
        if not args.no_save:
            data = {"medians": medians, "ratio_1_to_0": cost, "add_latency": latency, "runs": runs}
            common.save(NAME, args, url, data)


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000, help="tasks added with add_many")
    p.add_argument("--adds", type=int, default=2_000, help="tasks added one add() at a time")
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
