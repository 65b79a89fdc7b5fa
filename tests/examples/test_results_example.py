"""examples/results_demo.py, which docs/results-and-progress.md walks through, runs here."""

from __future__ import annotations

import pytest

from .test_examples import load


async def test_the_results_demo_gets_a_value_an_exception_and_progress(
    monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    monkeypatch.setenv("STREW_URL", store_url)
    demo = load("results_demo")
    assert await demo.main() == [
        "report is queued",  # due, waiting for a worker (scheduled is for a later time)
        "report returned {'year': 2024, 'months': 12}",
        "invoice raised ValueError: invalid literal for int() with base 10: 'twelve'",
        "onlooker sees completed, progress 12/12: reading 2024-12",
    ]
