"""Run every benchmark, one process each, one after the other: ``python -m bench``.

Extra arguments (``--runs 1``, ``--url redis://...``) go to every benchmark; ``--only drain
memory`` picks some. Each benchmark writes ``bench/results/<name>.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

ALL = [
    "drain",
    "lateness",
    "add_many",
    "memory",
    "scatter",
    "smoothness",
    "catch_up",
    "snapshot",
    "load",
]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=ALL, default=ALL)
    known, rest = p.parse_known_args()
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
