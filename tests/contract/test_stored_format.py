"""What an earlier strew wrote to Redis, read by this one: the layout is a stored format.

tests/stored_format/written-by-<commit>.json holds every key that commit's strew wrote for
one docket (by tests/stored_format/write.py: a finished task's record and a progress, a
task scheduled for later, a strike and the task it held, a scatter's tasks and members). The
test loads those keys into Redis under a docket name of its own and reads and runs them with
the code under test. A change to the layout must keep these passing (or migrate the data and
say so); add a file written by each main that changed what it writes.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from strew import Agenda, Docket, ExecutionState, Worker

from ..stored_format import tasks
from ..stored_format.tasks import TASKS

FIXTURES = {
    path.stem: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted((Path(__file__).resolve().parents[1] / "stored_format").glob("*.json"))
}


def decode(text: str) -> bytes:
    return base64.b64decode(text)


async def load(client: aioredis.Redis, written: dict[str, Any], name: str) -> None:
    """Write the keys of ``written`` under docket ``name``, with their remaining lifetimes."""
    old, new = f"{{{written['docket']}}}".encode(), f"{{{name}}}".encode()
    for item in written["keys"]:
        key = decode(item["key"]).replace(old, new, 1)
        kind, value = item["type"], item["value"]
        if kind == "string":
            await client.set(key, decode(value))
        elif kind == "hash":
            await client.hset(key, mapping={decode(k): decode(v) for k, v in value})
        elif kind == "zset":
            await client.zadd(key, {decode(m): float(s) for m, s in value})
        elif kind == "set":
            await client.sadd(key, *[decode(m) for m in value])
        elif kind == "list":
            await client.rpush(key, *[decode(v) for v in value])
        else:
            raise AssertionError(f"unknown type {kind} in the fixture")
        if item["pttl"] > 0:
            await client.pexpire(key, item["pttl"])


@pytest.fixture(autouse=True)
def _fresh() -> None:
    tasks.ran.clear()


def test_there_is_a_fixture_written_by_an_earlier_main() -> None:
    assert FIXTURES, "tests/stored_format/ has no written-by-*.json"


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
async def test_what_an_earlier_main_wrote_is_read_and_run(
    fixture: str, redis_docket: Docket, redis_url: str
) -> None:
    written = FIXTURES[fixture]
    docket = redis_docket
    for task in TASKS:
        docket.register(task)
    client = aioredis.Redis.from_url(redis_url)
    try:
        await load(client, written, docket.name)
    finally:
        await client.aclose()

    # A finished run's record, and a progress.
    done = await docket.get_execution("done")
    assert done is not None and done.state is ExecutionState.COMPLETED
    assert await done.get_result() == 42
    progressing = await docket.get_execution("progressing")
    assert progressing is not None and progressing.progress is not None
    assert (progressing.progress.current, progressing.progress.total) == (4, 10)
    assert progressing.progress.message == "four of ten"

    # What waits: a task for later, a scatter's five, and a task a strike holds.
    snapshot = await docket.snapshot()
    later = {e.key: e for e in snapshot.future}["later"]
    assert (later.function_name, later.args, later.kwargs) == ("later", ("hello",), {"n": 3})
    assert sorted(e.key for e in snapshot.future) == sorted(["later", *written["scatter_keys"]])
    assert [(e.key, e.args) for e in snapshot.held] == [("paused", (7,))]

    # The scatter is cancelled by its id; the held task runs once its strike is lifted.
    assert await Agenda.cancel(docket, written["scatter_id"]) == 5
    await docket.cancel("later")
    await docket.restore(tasks.paused)
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert tasks.ran == [("paused", 7)]


async def failing(n: int) -> None:
    raise ValueError(f"failed {n}")


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
async def test_a_docket_an_earlier_main_wrote_has_no_failures_until_one_fails(
    fixture: str, redis_docket: Docket, redis_url: str
) -> None:
    written = FIXTURES[fixture]
    docket = redis_docket
    for task in (*TASKS, failing):
        docket.register(task)
    client = aioredis.Redis.from_url(redis_url)
    try:
        await load(client, written, docket.name)
    finally:
        await client.aclose()
    assert await docket.failures() == []
    assert await docket.retry_failed(["done"]) == {"done": "missing"}
    assert await docket.drop_failed() == 0

    await docket.clear()
    await docket.restore(tasks.paused)
    await docket.add(failing, key="new-failure")(1)
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert [(f.key, f.message) for f in await docket.failures()] == [("new-failure", "failed 1")]
