"""bench/redis_steps.py still runs: every workload at a tiny size, on a redis-server of its
own, so the measurement of issue 18 §1 ("Never block Redis") does not rot between runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

WORKLOADS = (
    "atomic scatter of 200",
    "strew snapshot's reads at 200",
    "count_by_function() at 200",
    "cancel of the 200 scatter",
    "atomic scatter of 2,000",
    "strew snapshot's reads at 2,000",
    "dashboard reads at 2,000",
    "snapshot() of everything at 2,000",
    "cancel of the 2,000 scatter",
    "clear() of 2,000 scheduled",
    "catch-up re-spread of an overdue 2,000",
)


def test_redis_steps_measures_every_workload_and_prints_the_table() -> None:
    done = subprocess.run(
        [
            sys.executable,
            *("-m", "bench.redis_steps", "--tasks", "2000", "--small", "200", "--no-save"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=50,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    table = done.stdout.split("Redis steps, medians of 1 run(s)", 1)[-1]
    for workload in WORKLOADS:
        assert workload in table, done.stdout
    assert "ERROR" not in done.stdout, done.stdout
    assert "setting up failed" not in done.stdout, done.stdout
    assert "rate ratio" in done.stdout
    assert "2,000 re-timed" in done.stdout
