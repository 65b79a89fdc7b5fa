"""examples/readmodel_demo.py, which docs/agenda.md and docs/workers.md walk through, runs
here."""

from __future__ import annotations

from .test_examples import load


async def test_the_read_model_demo_lists_draws_and_reports() -> None:
    demo = load("readmodel_demo")
    found = await demo.main()
    assert (found["task"], found["size"], found["waiting"]) == ("send_reminder", 100, 100)
    assert sum(found["planned"]) == 100 and len(found["planned"]) == 6
    assert found["workers"] == [("demo-worker", 8)]
    assert found["points"] == 0
