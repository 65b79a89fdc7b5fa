"""Run every benchmark, one process each, one after the other: ``python -m bench``.

Extra arguments (``--runs 1``, ``--url redis://...``) go to every benchmark; ``--only drain
memory`` picks some. Each benchmark writes ``bench/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time

ALL = [
    "drain",
    "drain_processes",
    "lateness",
    "add_many",
    "memory",
    "scatter",
    "smoothness",
    "catch_up",
    "snapshot",
    "load",
    "admission",
    "dashboard",
    "readmodel",
    "redis_steps",
    "field_enqueue",
    "field_drain",
    "field_punctuality",
    "fleet",
]
STREW_ONLY = {"catch_up", "snapshot", "load", "dashboard", "readmodel", "redis_steps", "fleet"}
# The field scripts skip, with a printed reason, each library that is not installed.
NO_PYDOCKET = STREW_ONLY | {"field_enqueue", "field_drain", "field_punctuality"}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=ALL, default=ALL)
    known, rest = p.parse_known_args()
    if set(known.only) - NO_PYDOCKET and importlib.util.find_spec("docket") is None:
        # The others compare with pydocket: say so once, before any of them starts.
        print(
            "bench: pydocket is not installed in this environment; run\n"
            '  .venv/bin/pip install -e ".[bench]"\n'
            "first (it is only ever used by the benchmarks)",
            file=sys.stderr,
        )
        return 2
    failed = []
    for name in known.only:
        print(f"\n=== bench.{name} {' '.join(rest)}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"bench.{name}", *rest])
        print(f"=== bench.{name}: exit {code} after {time.monotonic() - started:.0f}s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
