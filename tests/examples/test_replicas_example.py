"""examples/replicas_demo.py, which docs/stores.md ("Durability across a failover") walks
through, run here against a master and replica of its own."""

from __future__ import annotations

import pytest

from .test_examples import load

pytestmark = pytest.mark.slow


async def test_the_replicas_demo_waits_for_the_replica_and_refuses_when_it_is_gone() -> None:
    seen = await load("replicas_demo").main()
    assert seen["on the replica"] in (True, 1)
    assert "only 0 of 1 replica(s) confirmed" in seen["refused"]
    assert "may or may not be there" in seen["refused"]
    assert seen["on the master"] in (True, 1)
