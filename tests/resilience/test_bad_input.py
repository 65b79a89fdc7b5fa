"""Bad input gets a clear error naming the argument and the value, before anything is written.

Every test that can touch a store seeds it with one task first and checks afterwards that
the failed call changed nothing: not the task already there, and nothing new.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from strew import Docket, TaskCall, Worker

WHEN = datetime(2030, 1, 1, tzinfo=UTC)


async def greet_with(name: str, extra: object) -> None: ...


async def greet(name: str) -> None:
    """A task these tests schedule (it never runs: no worker is started)."""


async def state(docket: Docket) -> tuple[object, ...]:
    """Everything a failed call might have changed, in comparable form."""
    snapshot = await docket.snapshot()
    return (
        snapshot.total_tasks,
        [(e.key, e.when, e.function_name, e.args, e.kwargs) for e in snapshot.future],
        [r.execution.key for r in snapshot.running],
    )


@pytest.fixture
async def seeded(docket: Docket) -> tuple[Docket, tuple[object, ...]]:
    """The docket with one task already scheduled, and its state before the bad call."""
    await docket.add(greet, when=WHEN, key="already-here")("Ada")
    return docket, await state(docket)


def says(*parts: str) -> str:
    """A `match` pattern requiring every part, in order, anywhere in the message."""
    return ".*".join(re.escape(part) for part in parts)


# -- task names and functions ---------------------------------------------------------------


async def test_an_unknown_task_name_is_refused(seeded: tuple[Docket, object]) -> None:
    docket, before = seeded
    with pytest.raises(KeyError, match=says("task name", "'no_such_task'", "greet")):
        await docket.add("no_such_task")("Ada")
    assert await state(docket) == before


async def test_an_unknown_task_name_is_refused_by_call_too(seeded: tuple[Docket, object]) -> None:
    docket, before = seeded
    with pytest.raises(KeyError, match=says("'no_such_task'")):
        docket.call("no_such_task")()
    assert await state(docket) == before


async def test_a_non_callable_task_is_refused(seeded: tuple[Docket, object]) -> None:
    docket, before = seeded
    with pytest.raises(TypeError, match=says("function", "42")):
        await docket.add(42)()  # type: ignore[call-overload]
    assert await state(docket) == before


async def test_registering_a_non_callable_is_refused(docket: Docket) -> None:
    with pytest.raises(TypeError, match=says("function must be callable", "'greet'")):
        docket.register("greet")  # type: ignore[arg-type]
    assert docket.tasks == {}


@pytest.mark.parametrize("names", ["greet", [""], [42], ("ok", 42)])
async def test_registering_under_bad_names_is_refused(docket: Docket, names: Any) -> None:
    with pytest.raises((TypeError, ValueError), match=says("names", repr(names)[1:-1])):
        docket.register(greet, names=names)
    assert docket.tasks == {}


# -- when -----------------------------------------------------------------------------------


async def test_a_naive_when_is_refused(seeded: tuple[Docket, object]) -> None:
    docket, before = seeded
    naive = datetime(2030, 1, 1, 12, 0)
    with pytest.raises(ValueError, match=says("when", "timezone-aware", repr(naive))):
        await docket.add(greet, when=naive)("Ada")
    assert await state(docket) == before


@pytest.mark.parametrize(
    "when", ["2030-01-01T00:00:00Z", 1_893_456_000, 1.5, timedelta(seconds=5)], ids=type
)
async def test_a_when_of_the_wrong_type_is_refused(
    seeded: tuple[Docket, object], when: Any
) -> None:
    docket, before = seeded
    with pytest.raises(TypeError, match=says("when", "datetime", repr(when))):
        await docket.add(greet, when=when)("Ada")
    assert await state(docket) == before


async def test_a_naive_when_in_a_task_call_is_refused_by_add_many(
    seeded: tuple[Docket, object],
) -> None:
    docket, before = seeded
    good = docket.call(greet, key="fine")("Grace")
    bad = TaskCall(greet, ("Ada",), {}, "naive", datetime(2030, 1, 1), "greet")
    with pytest.raises(ValueError, match=says("calls[1].when", "naive")):
        await docket.add_many([good, bad])
    assert await state(docket) == before


# -- arguments that cannot be stored --------------------------------------------------------


def _generator() -> Iterator[int]:
    yield 1


@pytest.mark.parametrize(
    ("value", "shown"),
    [(threading.Lock(), "lock"), (_generator(), "generator")],
    ids=["lock", "generator"],
)
async def test_unpicklable_positional_arguments_are_refused(
    seeded: tuple[Docket, object], value: object, shown: str
) -> None:
    docket, before = seeded
    with pytest.raises(TypeError, match=says("args[1]", "'greet_with'", shown)):
        await docket.add(greet_with)("Ada", value)
    assert await state(docket) == before


async def test_unpicklable_keyword_arguments_are_refused(seeded: tuple[Docket, object]) -> None:
    docket, before = seeded
    with pytest.raises(TypeError, match=says("kwargs['name']", "'greet'", "lock")):
        await docket.add(greet)(name=threading.Lock())  # type: ignore[arg-type]
    assert await state(docket) == before


async def test_one_unpicklable_call_keeps_the_whole_add_many_batch_out(
    seeded: tuple[Docket, object],
) -> None:
    docket, before = seeded
    calls = [docket.call(greet)(f"n{i}") for i in range(5)]
    calls.insert(3, docket.call(greet)(threading.Lock()))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=says("args[0]", "'greet'")):
        await docket.add_many(calls)
    assert await state(docket) == before


# -- urls -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:6379/0",
        "localhost:6379",
        "",
        "redis://",
        "redis://localhost:notaport/0",
        "redis://localhost:99999/0",
        "unix://",
    ],
)
def test_a_malformed_url_is_refused_and_named(docket_name: str, url: str) -> None:
    with pytest.raises(ValueError, match=says("url", repr(url))):
        Docket(docket_name, url=url)


def test_a_url_that_is_not_a_string_is_refused(docket_name: str) -> None:
    with pytest.raises(TypeError, match=says("url", "b'redis://localhost'")):
        Docket(docket_name, url=b"redis://localhost")  # type: ignore[arg-type]


def test_a_malformed_url_error_never_shows_the_password(docket_name: str) -> None:
    with pytest.raises(ValueError, match="url") as raised:
        Docket(docket_name, url="redis://:sekrit-pw@localhost:notaport/0")
    assert "sekrit-pw" not in str(raised.value)


@pytest.mark.parametrize("url", ["redis://localhost:6379/abc", "redis://localhost:6379/0/x"])
def test_a_database_that_is_not_a_number_is_refused(docket_name: str, url: str) -> None:
    with pytest.raises(ValueError, match=says("url", repr(url))):
        Docket(docket_name, url=url)


def test_a_memory_url_without_slashes_is_refused_and_named(docket_name: str) -> None:
    with pytest.raises(ValueError, match=says("url", "'memory:x'")):
        Docket(docket_name, url="memory:x")


# -- keys -----------------------------------------------------------------------------------


async def test_an_empty_key_is_refused(seeded: tuple[Docket, object]) -> None:
    docket, before = seeded
    with pytest.raises(ValueError, match=says("key", "''")):
        await docket.add(greet, key="")("Ada")
    with pytest.raises(ValueError, match=says("key", "''")):
        await docket.cancel("")
    assert await state(docket) == before


@pytest.mark.parametrize("key", [42, b"bytes-key", ("a", "b")], ids=type)
async def test_a_key_of_the_wrong_type_is_refused(seeded: tuple[Docket, object], key: Any) -> None:
    docket, before = seeded
    with pytest.raises(TypeError, match=says("key", "string", repr(key))):
        await docket.add(greet, key=key)("Ada")
    with pytest.raises(TypeError, match=says("key", repr(key))):
        await docket.replace(greet, key=key)("Ada")
    assert await state(docket) == before


async def test_a_ten_kilobyte_key_is_refused(seeded: tuple[Docket, object]) -> None:
    docket, before = seeded
    key = "k" * 10_240
    with pytest.raises(ValueError, match=says("key", "1024", "10240", "'kkkk")):
        await docket.add(greet, key=key)("Ada")
    with pytest.raises(ValueError, match=says("key", "10240")):
        docket.call(greet, key=key)("Ada")
    assert await state(docket) == before


async def test_replace_without_a_key_is_refused(seeded: tuple[Docket, object]) -> None:
    docket, before = seeded
    with pytest.raises(TypeError, match=says("key", "None")):
        await docket.replace(greet)("Ada")
    assert await state(docket) == before


# -- batches and snapshots ------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["greet", None, ("greet", (), {}), greet], ids=repr)
async def test_add_many_refuses_anything_but_task_calls(
    seeded: tuple[Docket, object], bad: object
) -> None:
    docket, before = seeded
    calls: list[Any] = [docket.call(greet, key="fine")("Grace"), bad]
    with pytest.raises(TypeError, match=says("calls[1]", "TaskCall", repr(bad))):
        await docket.add_many(calls)
    with pytest.raises(TypeError, match=says("calls[1]", "TaskCall")):
        await docket.replace_many(calls)
    assert await state(docket) == before


@pytest.mark.parametrize("chunk_size", [0, -1, 1.5])
async def test_add_many_refuses_a_bad_chunk_size(
    seeded: tuple[Docket, object], chunk_size: Any
) -> None:
    docket, before = seeded
    with pytest.raises(ValueError, match=says("chunk_size", repr(chunk_size))):
        await docket.add_many([docket.call(greet)("Grace")], chunk_size=chunk_size)
    assert await state(docket) == before


@pytest.mark.parametrize("limit", [-1, 2.5, "10"])
async def test_snapshot_refuses_a_bad_limit(seeded: tuple[Docket, object], limit: Any) -> None:
    docket, before = seeded
    with pytest.raises(ValueError, match=says("limit", repr(limit))):
        await docket.snapshot(limit=limit)
    assert await state(docket) == before


# -- dockets and workers --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["", "a{b}", "line\nbreak", "nul\0", "x" * 201],
    ids=["empty", "braces", "nl", "nul", "long"],
)
def test_a_bad_docket_name_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=says("name", repr(name)[:30])):
        Docket(name, url="memory://bad-names")


@pytest.mark.parametrize("name", [None, 42, b"bytes"])
def test_a_docket_name_of_the_wrong_type_is_refused(name: object) -> None:
    with pytest.raises(TypeError, match=says("name", repr(name))):
        Docket(name, url="memory://bad-names")  # type: ignore[arg-type]


@pytest.mark.parametrize("concurrency", [0, -1, True, False, "10", 2.0])
def test_a_bad_concurrency_is_refused(concurrency: Any) -> None:
    docket = Docket("bad-worker-args", url="memory://bad-worker-args")
    with pytest.raises(ValueError, match=says("concurrency", repr(concurrency))):
        Worker(docket, concurrency=concurrency)


@pytest.mark.parametrize(
    "argument",
    ["redelivery_timeout", "reconnection_delay", "poll_ceiling", "unknown_task_delay"],
)
@pytest.mark.parametrize("value", [timedelta(0), timedelta(seconds=-1)], ids=str)
def test_a_non_positive_worker_duration_is_refused(argument: str, value: timedelta) -> None:
    docket = Docket("bad-worker-args", url="memory://bad-worker-args")
    with pytest.raises(ValueError, match=says(argument, "positive", str(value))):
        Worker(docket, **dict[str, Any]({argument: value}))


@pytest.mark.parametrize("argument", ["shutdown_grace", "prefetch"])
def test_a_negative_worker_grace_or_prefetch_is_refused(argument: str) -> None:
    docket = Docket("bad-worker-args", url="memory://bad-worker-args")
    with pytest.raises(ValueError, match=says(argument, "days=-1")):
        Worker(docket, **dict[str, Any]({argument: timedelta(seconds=-1)}))


@pytest.mark.parametrize("argument", ["redelivery_timeout", "poll_ceiling"])
def test_a_worker_duration_that_is_not_a_timedelta_is_refused(argument: str) -> None:
    docket = Docket("bad-worker-args", url="memory://bad-worker-args")
    with pytest.raises(TypeError, match=says(argument, "timedelta", "30")):
        Worker(docket, **dict[str, Any]({argument: 30}))


def test_a_worker_needs_a_docket() -> None:
    with pytest.raises(TypeError, match=says("docket", "'memory://x'")):
        Worker("memory://x")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["", "a/b", 42])
def test_a_bad_worker_name_is_refused(name: Any) -> None:
    docket = Docket("bad-worker-args", url="memory://bad-worker-args")
    with pytest.raises(ValueError, match=says("name", repr(name))):
        Worker(docket, name=name)


async def test_run_at_most_refuses_a_negative_limit(docket: Docket) -> None:
    worker = Worker(docket)
    with pytest.raises(ValueError, match=says("'tick'", "-1")):
        await worker.run_at_most({"tick": -1})
