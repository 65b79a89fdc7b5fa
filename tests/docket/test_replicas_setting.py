"""``Docket(replicas=...)`` and ``$STREW_REPLICAS``: checked before anything connects, refused
where there is no replica to wait for, and every Redis script classified as waited for or not
(the waiting itself is tested against real replicas in tests/resilience/test_replicas.py)."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from strew import Docket
from strew.cli import app
from strew.stores.redis.durability import NOT_WAITED, PRODUCER_WRITES, WORKER_WRITES
from strew.stores.redis.store import RedisStore


@pytest.mark.parametrize("value", [-1, -100])
def test_a_negative_number_of_replicas_is_refused_naming_the_argument(value: int) -> None:
    with pytest.raises(ValueError, match=rf"replicas must be 0 or more, got {value}"):
        Docket("d", url="redis://127.0.0.1:1/0", replicas=value)


@pytest.mark.parametrize("value", ["1", 1.0, True, [1]])
def test_a_number_of_replicas_that_is_not_a_whole_number_is_refused(value: object) -> None:
    with pytest.raises(TypeError, match=r"replicas must be a whole number of replicas"):
        Docket("d", url="redis://127.0.0.1:1/0", replicas=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [timedelta(0), timedelta(seconds=-1), timedelta(seconds=4), 0.5])
def test_a_replica_timeout_outside_its_bounds_is_refused_naming_it(value: object) -> None:
    with pytest.raises((TypeError, ValueError), match=r"replica_timeout must be"):
        Docket("d", url="redis://127.0.0.1:1/0", replicas=1, replica_timeout=value)  # type: ignore[arg-type]


def test_strew_replicas_is_read_when_the_argument_is_left_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREW_REPLICAS", "2")
    assert Docket("d", url="redis://127.0.0.1:1/0").replicas == 2
    assert Docket("d", url="redis://127.0.0.1:1/0", replicas=0).replicas == 0  # argument wins
    monkeypatch.setenv("STREW_REPLICAS", "")
    assert Docket("d", url="redis://127.0.0.1:1/0").replicas == 0


@pytest.mark.parametrize("raw", ["one", "-1", "1.5"])
def test_a_strew_replicas_that_is_not_a_count_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("STREW_REPLICAS", raw)
    with pytest.raises(ValueError, match=r"STREW_REPLICAS must be"):
        Docket("d", url="redis://127.0.0.1:1/0")


def test_the_memory_store_refuses_to_wait_for_replicas_it_does_not_have() -> None:
    with pytest.raises(ValueError, match=r"replicas=1 needs a Redis store with replicas"):
        Docket("d", url="memory://", replicas=1)
    assert Docket("d", url="memory://", replicas=0).replicas == 0


def test_the_memory_store_names_strew_replicas_when_the_variable_asked_for_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREW_REPLICAS", "1")
    with pytest.raises(ValueError, match=r"STREW_REPLICAS=1 needs a Redis store"):
        Docket("d", url="memory://")


def test_a_redis_cluster_refuses_replicas_before_it_connects() -> None:
    with pytest.raises(ValueError, match=r"replicas=1 is not supported on a Redis Cluster"):
        Docket("d", url="redis+cluster://127.0.0.1:1", replicas=1)


async def test_every_script_the_redis_store_runs_is_classified_as_waited_for_or_not() -> None:
    store = RedisStore("redis://127.0.0.1:1/0", "d")
    try:
        loaded = set(store._scripts)
    finally:
        await store.close()
    groups = (PRODUCER_WRITES, WORKER_WRITES, NOT_WAITED)
    assert set().union(*groups) == loaded
    assert sum(len(group) for group in groups) == len(loaded)  # each in one group only


@pytest.mark.parametrize(
    ("replicas", "url", "complaint"),
    [
        ("x", "redis://127.0.0.1:1/0", "STREW_REPLICAS must be a whole number of replicas"),
        ("1", "memory://", "STREW_REPLICAS=1 needs a Redis store with replicas"),
    ],
)
def test_the_command_line_refuses_a_bad_strew_replicas_as_a_usage_error(
    replicas: str, url: str, complaint: str
) -> None:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "STREW_REPLICAS": replicas}
    result = CliRunner().invoke(app, ["snapshot", "--url", url], env=env)
    assert result.exit_code == 2
    assert complaint in " ".join(result.output.replace("│", " ").split())
