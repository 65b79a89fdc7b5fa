"""The chaos suite's short form: 5,000 tasks through worker kills and Redis restarts.

It runs as a subprocess exactly as CI or a person would (``chaos/run --short``); the driver
checks the promise itself (every scheduled task started at least once) and this test checks
that it said so, both in its exit code and in its JSON report.
"""

from __future__ import annotations

import json
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
    assert "LOST (never started)         0" in result.stdout, output[-4000:]
    report = json.loads(report_path.read_text())
    assert report["lost"] == 0
    assert report["scheduled"] >= 5_000
    assert report["executed"] == report["scheduled"]
    assert report["worker_kills"] >= 5
    assert report["redis_restarts"] >= 2
