"""The chaos suite's short form: 5,000 tasks through worker kills and Redis restarts.

It runs as a subprocess exactly as CI or a person would (``chaos/run --short``); the driver
checks the promise itself (every scheduled task started at least once) and this test checks
that it said so, both in its exit code and in its JSON report.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_short_chaos_run_loses_nothing(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    result = subprocess.run(
        [str(ROOT / "chaos" / "run"), "--short", "--seed", "2026", "--json", str(report_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=380,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert re.search(r"^LOST \(never started\) +0$", result.stdout, re.M), output[-4000:]
    report = json.loads(report_path.read_text())
    assert report["lost"] == 0
    assert report["scheduled"] >= 5_000
    assert report["executed"] == report["scheduled"]
    assert report["unfinished"] == 0
    assert report["worker_kills"] >= 5
    assert report["redis_restarts"] >= 2
    assert report["worker_stops"] >= 1


def test_the_check_counts_a_lost_key_and_explains_duplicates(tmp_path: Path) -> None:
    # The checker itself, on hand-written journals: a checker that cannot see a loss would
    # make the run above prove nothing.
    from chaos.driver import SHORT, Events, analyse

    (tmp_path / "producer-0.keys").write_text(
        "k-ok 1000000 ok 0\n"
        "k-killed 1000000 ok 0\n"
        "k-outage 1000000 hang 0\n"
        "k-retry 1000000 ok 2\n"
        "k-odd 1000000 ok 0\n"
        "k-lease 1000000 ok 0\n"
        "k-cut 1000000 ok 0\n"
        "k-lost 1000000 ok 0\n"
        "k-torn 10"  # a torn last line is not a scheduled key
    )
    (tmp_path / "worker-11.log").write_text(
        "S k-ok 11 1000100\nF k-ok 11 1000200 ok\n"
        "S k-killed 11 1000100\n"
        "S k-cut 11 1000100\n"
        "S k-outage 11 9000000\n"
    )
    (tmp_path / "worker-13.log").write_text(
        "S k-retry 13 1000100\nF k-retry 13 1000200 ok\n"
        "S k-odd 13 1000100\nF k-odd 13 1000200 raised\n"
        "S k-lease 13 1000100\nF k-lease 13 1000200 ok\n"
    )
    (tmp_path / "worker-13.err").write_text(
        "... WARNING strew.worker worker w13 lost the lease on task k-lease; another ...\n"
    )
    (tmp_path / "worker-12.log").write_text(
        "S k-killed 12 3500000\nF k-killed 12 3600000 ok\n"
        "S k-outage 12 12000000\nF k-outage 12 15000000 hang\n"
        "S k-retry 12 1000300\nF k-retry 12 1000400 ok\n"
        "S k-odd 12 1000300\nF k-odd 12 1000400 ok\n"
        "S k-lease 12 1000300\n"
        "S k-stray 12 1000300\n"
    )
    events = Events(kills=[(11, 1000150)], outages=[(9500000, 9900000, "SIGKILL")])
    report = analyse(tmp_path, events, SHORT, seed=1, seconds=1.0)

    assert report.scheduled == 8
    assert report.lost_keys == ["k-lost"]
    assert report.unfinished_keys == ["k-cut"]  # its worker was killed, it never ran again
    assert report.failures[:2] == ["1 task(s) lost", "1 task(s) started but never finished"]
    assert report.duplicated == 5
    assert report.duplicates_by_reason == {
        "worker killed": 1,
        "redis outage": 1,
        "producer retry": 1,
        "lease lapsed": 1,
        "unexplained": 1,
    }
    assert report.unexplained_keys == ["k-odd"]
    assert report.late == 1  # k-outage first started 8 s after it was due
    assert report.raised == 1
    assert report.unscheduled_runs == 1
