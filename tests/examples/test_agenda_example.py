"""examples/find_and_flood.py keeps running (so the docs never point at a broken recipe)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "find_and_flood.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("find_and_flood", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


async def test_the_find_and_flood_example_runs_every_customer_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = load_example()
    crm = await example.main(customers=200, seconds=0.3, url="memory://find-and-flood-test")
    customers = sorted(customer for _, customer in crm.calls)
    assert customers == list(range(1000, 1200))
    printed = capsys.readouterr().out
    assert "scattered 200 re-syncs" in printed and "200 calls over" in printed
