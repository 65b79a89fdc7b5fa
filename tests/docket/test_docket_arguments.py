"""``Docket(...)`` takes every argument pydocket's ``Docket.__init__`` takes, in its order;
the two strew has no use for (``result_storage``, ``enable_internal_instrumentation``) are
checked, kept and change nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from strew import Docket, Worker


class RecordingStorage:
    """Stands in for a py-key-value ``AsyncKeyValue``: notes every call made to it."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def get(self, key: str, collection: str | None = None) -> None:
        self.calls.append(f"get {key}")

    async def put(self, key: str, value: object, collection: str | None = None) -> None:
        self.calls.append(f"put {key}")


async def add(a: int, b: int) -> int:
    return a + b


async def test_every_pydocket_argument_is_taken_positionally_and_results_stay_in_the_store(
    store_url: str, docket_name: str
) -> None:
    storage = RecordingStorage()
    async with Docket(
        docket_name,
        store_url,
        timedelta(seconds=3),
        7,
        timedelta(minutes=5),
        storage,
        True,
    ) as docket:
        assert (docket.name, docket.url) == (docket_name, store_url)
        assert (docket.heartbeat_interval, docket.missed_heartbeats) == (timedelta(seconds=3), 7)
        assert docket.execution_ttl == timedelta(minutes=5)
        assert docket.result_storage is storage
        assert docket.enable_internal_instrumentation is True
        try:
            execution = await docket.add(add)(2, 3)
            async with Worker(docket) as worker:
                await worker.run_until_finished()
            assert await execution.get_result() == 5
        finally:
            await docket.store.destroy()
    assert storage.calls == []


def test_pydockets_arguments_by_keyword_default_as_pydockets_do() -> None:
    docket = Docket(
        name="kw",
        url="memory://kw",
        heartbeat_interval=timedelta(seconds=2),
        missed_heartbeats=5,
        execution_ttl=timedelta(minutes=15),
        result_storage=None,
        enable_internal_instrumentation=False,
    )
    assert docket.result_storage is None and docket.enable_internal_instrumentation is False
    assert Docket("defaults", "memory://defaults").enable_internal_instrumentation is False


@pytest.mark.parametrize(
    ("arguments", "error", "complaint"),
    [
        ({"name": ""}, ValueError, "name must be 1 to 200 characters"),
        ({"name": 42}, TypeError, "name must be a string, got 42"),
        ({"url": "ftp://example.com"}, ValueError, "ftp://example.com"),
        ({"heartbeat_interval": 2}, TypeError, "heartbeat_interval must be a timedelta, got 2"),
        (
            {"heartbeat_interval": timedelta(0)},
            ValueError,
            "heartbeat_interval must be a positive duration, got 0:00:00",
        ),
        (
            {"missed_heartbeats": 0},
            ValueError,
            "missed_heartbeats must be a positive integer, got 0",
        ),
        ({"missed_heartbeats": 2.5}, ValueError, "missed_heartbeats must be a positive integer"),
        (
            {"execution_ttl": timedelta(seconds=-1)},
            ValueError,
            "execution_ttl must be a non-negative duration, got -1 day, 23:59:59",
        ),
        (
            {"result_storage": "redis://localhost"},
            TypeError,
            "result_storage must be None or an AsyncKeyValue store (with get and put), "
            "got 'redis://localhost'",
        ),
        (
            {"enable_internal_instrumentation": "yes"},
            TypeError,
            "enable_internal_instrumentation must be True or False, got 'yes'",
        ),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)
def test_a_bad_pydocket_argument_is_refused_by_name(
    arguments: dict[str, Any], error: type[Exception], complaint: str
) -> None:
    with pytest.raises(error, match=re.escape(complaint)):
        Docket(**{"name": "bad-arguments", "url": "memory://bad-arguments", **arguments})


def test_strews_own_options_are_keyword_only() -> None:
    with pytest.raises(TypeError, match="positional"):
        Docket(
            "kw-only", "memory://kw-only", timedelta(seconds=2), 5, timedelta(0), None, False, "key"
        )  # type: ignore[call-arg]
