"""The runnable examples the docs point to run here, so they never rot."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_the_quickstart_greets_jane_then_johnny_and_nobody_else() -> None:
    quickstart = load("quickstart")
    assert await quickstart.main() == ["Jane", "Johnny"]


async def test_the_scatter_demo_runs_every_task_it_scattered() -> None:
    demo = load("scatter_demo")
    summary = await demo.main(count=60, seconds=1.5, live=False)
    assert summary["tasks"] == 60


async def test_the_testing_demo_runs_on_memory_and_on_a_crashed_and_restarted_redis() -> None:
    demo = load("testing_demo")
    assert await demo.main() == {
        "memory": ["order-1", "order-2"],
        "redis, after a crash": ["order-3"],
    }


async def test_the_security_demo_runs_what_it_signed_and_quarantines_the_forgery() -> None:
    demo = load("security_demo")
    outcome = await demo.main()
    assert outcome["result"] == "invoice sent to customer 42"
    assert outcome["quarantined"] == [
        ("forged", "its signature does not verify with this docket's signing keys")
    ]
    assert "args[0] of task 'send_invoice' cannot be serialised as JSON" in str(outcome["refused"])


async def test_the_admission_demo_flattens_the_flood_drops_the_duplicates_and_debounces(
    monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    monkeypatch.setenv("STREW_URL", store_url)
    demo = load("admission_demo")
    assert await demo.main() == {
        "customer syncs": 10,
        "most calls at once for one customer": 1,
        "urgent syncs put back by the quota": 3,
        "times put back": 3,
        "alerts posted": ["#billing", "#crm-sync"],
        "alerts dropped by the cooldown": 3,
        "#crm-sync alerts ended": ["cancelled", "cancelled", "cancelled", "completed"],
        "search index rebuilds": 1,
        "rebuild requests dropped by the debounce": 4,
    }
