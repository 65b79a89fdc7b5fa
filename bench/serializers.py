"""Serializers: what signing payloads and the JSON serializer cost, per task.

Three dockets on the same Redis, one after the other: pickle (the default), pickle with a
signing key (HMAC-SHA256 on every payload and record written, a verification on every one
read), and JSON. Each adds ``--tasks`` calls with ``add_many`` (three arguments: an int, a
short string and a small dict, what a re-sync task typically takes) and then drains them with
one worker at concurrency 10; the payload bytes per task are read from the store. Reported
per configuration: add and drain rates, microseconds per task against plain pickle, payload
size. A micro-benchmark of the payload step alone (encode, sign, verify, decode) comes first.

    .venv/bin/python -m bench.serializers [--runs 3] [--tasks 10000]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import common

NAME = "serializers"
KEY = "bench-signing-key-of-32-bytes-ok"
CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("pickle", {}),
    ("pickle + signing", {"signing_key": KEY}),
    ("json", {"serializer": "json"}),
]


async def noop(customer: int, region: str, options: dict[str, Any]) -> None:
    pass


def payload_step(tasks: int) -> dict[str, float]:
    """Microseconds per task of encoding (and signing) then verifying and decoding one
    payload, in this process, with no Redis."""
    from strew.stores.signing import Signer
    from strew.task.codec import JSON, PICKLE

    signer = Signer([KEY.encode()])
    args = (12345, "eu-west", {"full": True, "since": 1_700_000_000})
    out: dict[str, float] = {}
    for label, codec, sign in [
        ("pickle", PICKLE, False),
        ("pickle + signing", PICKLE, True),
        ("json", JSON, False),
    ]:
        started = time.perf_counter()
        for i in range(tasks):
            payload = codec.dump("noop", args, {}, i, 1)
            if sign:
                payload = signer.verify(signer.sign(payload)) or b""
            codec.load(payload)
        out[label] = (time.perf_counter() - started) / tasks * 1e6
    return out


async def one(url: str, tasks: int, options: dict[str, Any]) -> dict[str, float]:
    import strew

    name = common.docket_name(NAME, "strew")
    try:
        async with strew.Docket(name, url, **options) as docket:
            docket.register(noop)
            calls = [
                docket.call(noop)(i, "eu-west", {"full": True, "since": 1_700_000_000})
                for i in range(tasks)
            ]
            started = time.perf_counter()
            await docket.add_many(calls)
            added = time.perf_counter() - started
            # The bytes Redis keeps: under a signed docket's store, which strips the trailer.
            raw = getattr(docket.store, "inner", docket.store)
            snapshot = await raw.snapshot(1)
            size = len(snapshot.scheduled[0].payload) if snapshot.scheduled else 0
            common.settle()
            worker = strew.Worker(docket, concurrency=10)
            started = time.perf_counter()
            await worker.run_until_finished()
            drained = time.perf_counter() - started
            assert worker.stats.succeeded == tasks, worker.stats
    finally:
        await common.forget(url, name)
    return {"add": tasks / added, "drain": tasks / drained, "bytes": float(size)}


async def main(args: argparse.Namespace) -> None:
    step_runs = [payload_step(args.tasks) for _ in range(args.runs)]
    step = {label: common.median([r[label] for r in step_runs]) for label, _ in CONFIGS}
    print("payload step alone (encode, sign, verify, decode), median us per task:")
    for label, _ in CONFIGS:
        print(f"  {label:18} {step[label]:7.2f} us  ({step[label] / step['pickle']:.2f}x pickle)")
    with common.redis_server(args.url) as url:
        runs: dict[str, list[dict[str, float]]] = {label: [] for label, _ in CONFIGS}
        for i in range(args.runs):
            for label, options in CONFIGS:
                result = await one(url, args.tasks, options)
                runs[label].append(result)
                common.settle()
                print(
                    f"run {i + 1}/{args.runs} {label:18} add {result['add']:9,.0f}/s  "
                    f"drain {result['drain']:7,.0f}/s  {result['bytes']:.0f} B/payload",
                    flush=True,
                )
        medians = {
            label: {
                k: common.median([r[k] for r in runs[label]]) for k in ("add", "drain", "bytes")
            }
            for label in runs
        }
        base = medians["pickle"]
        print(f"\nmedians of {args.runs} runs, {args.tasks:,} tasks each:")
        heads = ("add/s", "drain/s", "+us/task add", "+us/task drain", "B/payload")
        print(f"{'':18} " + " ".join(f"{head:>14}" for head in heads))
        for label, figures in medians.items():
            extra_add = (1 / figures["add"] - 1 / base["add"]) * 1e6
            extra_drain = (1 / figures["drain"] - 1 / base["drain"]) * 1e6
            print(
                f"{label:18} {figures['add']:14,.0f} {figures['drain']:14,.0f} "
                f"{extra_add:14.1f} {extra_drain:14.1f} {figures['bytes']:14.0f}"
            )
        if not args.no_save:
            common.save(
                NAME, args, url, {"payload_step_us": step, "medians": medians, "runs": runs}
            )


def parse() -> argparse.Namespace:
    p = common.parser(__doc__.splitlines()[0])
    p.add_argument("--tasks", type=int, default=10_000, help="tasks per configuration and run")
    return p.parse_args()


if __name__ == "__main__":
    common.run(main(parse()))
