"""``Docket(serializer="json")``: arguments, results and strike values are JSON, a call with
anything else is refused at ``add`` naming the argument, and nothing such a docket reads can
run code, whatever someone planted in its keys."""

from __future__ import annotations

import os
import pickle
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from strew import (
    Agenda,
    Disposition,
    Docket,
    Execution,
    ExecutionState,
    ResultUnavailable,
    Retry,
    TaskFailed,
    Worker,
)
from strew.stores.memory.store import _registry
from strew.stores.records import Entry, Finish, function_in
from strew.task.codec import JSON_MARK, dump_json_payload, load_json_payload
from strew.task.envelope import CorruptPayload
from strew.task.results import completed_record

from ..conftest import leftover_keys


class Planted:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (os.mkdir, (str(self.path),))


ran: list[Any] = []


async def job(*args: Any, **kwargs: Any) -> Any:
    ran.append((args, kwargs))
    return {"args": args, "kwargs": kwargs}


@pytest.fixture(autouse=True)
def _fresh() -> None:
    ran.clear()


@pytest.fixture
async def docket(store_url: str, docket_name: str) -> AsyncIterator[Docket]:
    async with Docket(docket_name, store_url, serializer="json") as docket:
        docket.register(job)
        yield docket
        await docket.store.destroy()
    if store_url.startswith("redis"):
        assert await leftover_keys(store_url, docket_name) == []
    _registry.pop((store_url, docket_name), None)


def later() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def test_a_json_payload_starts_with_the_function_name_and_reads_back() -> None:
    payload = dump_json_payload("résumé", (1, [2, (3,)]), {"k": {"a": None}}, 5, 2, {"m": 1})
    assert payload.startswith(JSON_MARK) and function_in(payload) == "résumé"
    envelope = load_json_payload(payload)
    assert (envelope.function_name, envelope.args, envelope.kwargs) == (
        "résumé",
        (1, [2, [3]]),
        {"k": {"a": None}},
    )
    assert (envelope.when, envelope.attempt, envelope.meta) == (5, 2, {"m": 1})
    with pytest.raises(CorruptPayload, match="not a JSON task payload"):
        load_json_payload(pickle.dumps((1, "job", (), {}, 0, 1, None)))
    with pytest.raises(CorruptPayload, match="unreadable JSON task payload"):
        load_json_payload(JSON_MARK + b"\x00\x03job{not json")


def test_an_unknown_serializer_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="serializer must be one of pickle, json, got 'yaml'"):
        Docket("json", "memory://json-bad", serializer="yaml")


async def test_json_arguments_run_and_json_results_come_back(docket: Docket) -> None:
    execution = await docket.add(job, key="j")(1, "two", [3.5, None], flag=True, nested={"a": (1,)})
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert ran == [((1, "two", [3.5, None]), {"flag": True, "nested": {"a": [1]}})]
    assert await execution.get_result() == {
        "args": [1, "two", [3.5, None]],
        "kwargs": {"flag": True, "nested": {"a": [1]}},
    }
    snapshot_docket = await docket.get_execution("j")
    assert snapshot_docket is not None and snapshot_docket.state is ExecutionState.COMPLETED


@pytest.mark.parametrize(
    ("args", "kwargs", "named", "why"),
    [
        ((datetime(2026, 1, 1, tzinfo=UTC),), {}, r"args\[0\]", "datetime"),
        ((1,), {"when": {1, 2}}, r"kwargs\['when'\]", "set"),
        ((), {"m": {1: "a"}}, r"kwargs\['m'\]", "a dict key 1 is not a string"),
        ((float("nan"),), {}, r"args\[0\]", "nan is not a finite number"),
        ((b"bytes",), {}, r"args\[0\]", "bytes"),
    ],
)
async def test_anything_but_json_is_refused_at_add_before_anything_is_written(
    docket: Docket, args: tuple[Any, ...], kwargs: dict[str, Any], named: str, why: str
) -> None:
    with pytest.raises(TypeError, match=rf"argument {named} of task 'job' .*json.*{why}"):
        await docket.add(job, key="bad")(*args, **kwargs)
    assert (await docket.snapshot()).total_tasks == 0


async def test_a_result_or_an_error_that_is_not_json_fails_the_run_readably(
    docket: Docket,
) -> None:
    async def returns_a_date() -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)

    async def raises() -> None:
        raise LookupError("no such customer")

    docket.register(returns_a_date)
    docket.register(raises)
    dated = await docket.add(returns_a_date)()
    raising = await docket.add(raises)()
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    with pytest.raises(TaskFailed, match=r"cannot be serialised.*datetime.*json"):
        await dated.get_result()
    with pytest.raises(TaskFailed, match="no such customer") as failed:
        await raising.get_result()
    assert failed.value.type_name == "LookupError"


async def test_a_pickle_planted_in_a_json_docket_is_never_unpickled(
    docket: Docket, tmp_path: Path
) -> None:
    proof = tmp_path / "ran"
    planted = pickle.dumps((1, "job", (Planted(proof),), {}, 0, 1, None))
    now = await docket.store.now()
    await docket.store.schedule([Entry("planted", now, planted)], replace=False)
    later_payload = pickle.dumps((1, "job", (Planted(proof),), {}, 0, 1, None))
    await docket.store.schedule(
        [Entry("viewed", now + 3_600_000_000, later_payload)], replace=False
    )
    snapshot = await docket.snapshot()
    assert [e.function_name for e in snapshot.future] == ["<corrupt>", "<corrupt>"]
    await docket.cancel("viewed")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert ran == [] and worker.stats.quarantined == 1 and not proof.exists()


async def test_a_pickled_record_planted_in_a_json_docket_is_never_read(
    docket: Docket, tmp_path: Path
) -> None:
    proof = tmp_path / "ran"
    # What a pickle docket's worker writes, holding a value that runs code when unpickled.
    planted = completed_record(timedelta(minutes=5), "job", Planted(proof), 0)
    assert planted is not None and not planted.data.startswith(JSON_MARK)
    now = await docket.store.now()
    await docket.store.schedule(
        [Entry("k", now, dump_json_payload("job", (), {}, now, 1))], replace=False
    )
    [claim] = (await docket.store.claim("w", 1, 60_000_000, 0)).claims
    await docket.store.finish([Finish("k", claim.token, record=planted)])
    execution = await docket.get_execution("k")
    assert execution is None  # a JSON docket reads no pickled record
    reader = Execution(docket, job, "job", (), {}, "k", datetime.now(UTC))
    with pytest.raises(ResultUnavailable):
        await reader.get_result()
    assert not proof.exists()


async def test_scatters_retries_and_strikes_work_in_json(docket: Docket) -> None:
    attempts: list[int] = []

    async def flaky(n: int, retry: Retry = Retry(attempts=2)) -> None:
        attempts.append(retry.attempt)
        if retry.attempt < 2:
            raise RuntimeError("again")

    docket.register(flaky)
    await docket.add(flaky)(1)
    agenda = Agenda()
    for n in range(3):
        agenda.add(job)(n)
    await agenda.scatter(docket, over=timedelta(milliseconds=20))
    await docket.strike(job, "n", "==", 99)  # a plain value: a JSON docket reads it
    struck = await docket.add(job, key="struck")(n=99)
    assert struck.disposition is Disposition.STRUCK
    counts = await docket.count_by_function()  # names read from the start of JSON payloads
    assert counts.scheduled.counts == {"flaky": 1, "job": 3}
    async with Worker(docket, poll_ceiling=timedelta(milliseconds=50)) as worker:
        await worker.run_until_finished()
    assert attempts == [1, 2]
    assert sorted(args for args, _ in ran) == [(0,), (1,), (2,)]
    assert worker.stats.quarantined == 0
