"""The perpetual and cron example runs as its docs page says, on both stores."""

from __future__ import annotations

import pytest

from ..worker.test_dependencies import load_example


async def test_the_perpetual_example_runs_as_documented(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREW_URL", store_url)
    demo = load_example("perpetual_demo")
    summary = await demo.main()
    assert summary["countdown"] == ["countdown 3", "countdown 2", "countdown 1", "countdown 0"]
    assert summary["housekeeping"] == ["housekeeping"] * 3
    # Friday 18:40 in Paris: the next office hours are Monday's, after the clocks went forward.
    assert summary["office hours"] == [
        "2026-03-30T09:00:00+02:00",
        "2026-03-30T09:15:00+02:00",
        "2026-03-30T09:30:00+02:00",
    ]
