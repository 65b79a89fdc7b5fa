"""The field scripts (bench/field_*.py) still run: each in its smallest mode, on a redis-server
of its own, for strew and every other library installed here (the rest are skipped by the
scripts with a printed reason), so they do not rot between measurements."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SMALLEST = {
    "field_enqueue": ["--tasks", "20"],
    "field_drain": ["--tasks", "20", "--slow-tasks", "20", "--timeout", "20"],
    "field_punctuality": ["--tasks", "3", "--spacing-ms", "10", "--lead", "0.3", "--cap", "1.5"],
}


def test_each_field_script_measures_every_installed_library_without_a_failure() -> None:
    # The three run side by side (each on its own redis-server): one after the other they
    # take ~90 s with all eight other libraries installed; strew alone, ~5 s.
    running = {
        script: subprocess.Popen(
            [sys.executable, "-m", f"bench.{script}", "--runs", "1", "--no-save", *args],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script, args in SMALLEST.items()
    }
    for script, process in running.items():
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, f"{script}:\n{out}{err}"
        assert "FAILED" not in out, f"{script}:\n{out}"
        rows = [line.split() for line in out.splitlines() if line.startswith("strew")]
        assert rows, f"{script}:\n{out}"
        assert all("failed" not in row for row in rows), f"{script}:\n{out}"


def test_the_field_scripts_refuse_a_shared_redis_they_would_flush() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.field_drain", "--url", "redis://127.0.0.1:6379/0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "FLUSHDB" in done.stderr
