"""A/B: the same strew measurements from several checkouts, alternating, on one Redis.

For a change that must not slow strew down (a refactor, a new check on the hot path): check
out the commit before it beside this one, give each checkout its ``.venv`` (``scripts/setup``
there), and run

    .venv/bin/python -m bench.ab --rounds 5 ../before .

Each round runs, in every checkout in turn and each in a fresh process of that checkout's
``.venv``: a drain of ``--tasks`` no-op tasks at concurrency 10 and 100
(`bench.drain.drain_strew`), an atomic scatter of 10,000 and 100,000 (`bench.scatter.one`),
and 1,000 tasks due at 100/s started by one default worker (lateness, `common.timed_run`).
Alternating keeps a slow minute of a shared machine from landing on one side only. Medians
per checkout are printed with their spread (min-max), which is the noise to compare against.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from bench import common

PROBE = """
import asyncio, json, logging, sys
logging.basicConfig(level=logging.WARNING)
logging.getLogger("strew").setLevel(logging.WARNING)
from bench import common, drain, lateness, scatter
url, kind, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
async def go():
    if kind == "drain":
        r = await drain.drain_strew(url, size, int(sys.argv[4]))
        return r["rate"]
    if kind == "scatter":
        r = await scatter.one("strew", url, size)
        return r["rate"]
    timed = await common.timed_run(
        "strew", url, "lateness", size, lateness.evenly(100.0, 1.5), None, give_up_after=10.0
    )
    return timed.summary()["p99_ms"]
print(json.dumps(asyncio.run(go())))
"""


def measure(checkout: Path, url: str, *args: str) -> float:
    python = checkout / ".venv" / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", PROBE, url, *args],
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkouts", nargs="+", type=Path, help="checkouts, each with its .venv")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--tasks", type=int, default=20_000, help="tasks per drain")
    p.add_argument("--url", default=None, help="Redis (default: a throwaway redis-server)")
    args = p.parse_args()
    checkouts = [path.resolve() for path in args.checkouts]
    probes = [
        ("drain c10, tasks/s", ("drain", str(args.tasks), "10")),
        ("drain c100, tasks/s", ("drain", str(args.tasks), "100")),
        ("scatter 10k, tasks/s", ("scatter", "10000")),
        ("scatter 100k, tasks/s", ("scatter", "100000")),
        ("lateness p99, ms", ("lateness", "1000")),
    ]
    results: dict[tuple[str, Path], list[float]] = {}
    with common.redis_server(args.url) as url:
        for round_ in range(1, args.rounds + 1):
            for label, probe in probes:
                for checkout in checkouts:
                    value = measure(checkout, url, *probe)
                    results.setdefault((label, checkout), []).append(value)
                    print(f"round {round_} {label:22} {checkout.name:>12} {value:12,.2f}")
                    sys.stdout.flush()
    print(f"\nmedians of {args.rounds} rounds (min-max):")
    for label, _ in probes:
        cells = []
        for checkout in checkouts:
            values = results[(label, checkout)]
            median = statistics.median(values)
            cells.append(f"{checkout.name}: {median:,.2f} ({min(values):,.2f}-{max(values):,.2f})")
        print(f"  {label:22} " + "   ".join(cells))


if __name__ == "__main__":
    main()
