"""examples/results_demo.py and examples/failures_demo.py, which docs/results-and-progress.md
and docs/failures.md walk through, run here."""

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


async def test_the_failures_demo_lists_retries_and_clears_its_failures(
    monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    monkeypatch.setenv("STREW_URL", store_url)
    demo = load("failures_demo")
    lines = await demo.main()
    assert sorted(lines[:2]) == [
        "charge-ada: charge raised KeyError on attempt 1 (failed for good)",
        "crm-7: sync_crm raised ConnectionError on attempt 1 (retrying)",
    ]
    assert lines[2:] == [
        "retry: {'charge-ada': 'retried', 'crm-7': 'hastened'}",
        "no failures left",
    ]
