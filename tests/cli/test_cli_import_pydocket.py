"""``strew import-pydocket``: the tasks pydocket 0.27 wrote (tests/pydocket_import, written by
pydocket itself) become strew's, with their keys, due times, arguments and attempts; running
ones stay; nothing is written on a dry run, or removed from pydocket without --delete."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any, cast

import pytest
import redis.asyncio as aioredis

from strew import Docket, Worker
from tests.pydocket_import import load as fixture

from .test_cli import Result, flat, strew

ran: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []


async def greet(name: str, punctuation: str = "!") -> None:
    ran.append(("greet", (name,), {"punctuation": punctuation}))


async def total(*numbers: int, scale: int = 1) -> None:
    ran.append(("total", numbers, {"scale": scale}))


async def flaky(n: int) -> None:
    ran.append(("flaky", (n,), {}))


async def far(amount: Decimal, since: datetime) -> None:
    ran.append(("far", (amount,), {"since": since}))


async def path(where: PurePosixPath) -> None:
    ran.append(("path", (where,), {}))


def _total_key() -> str:
    """The key pydocket made up for the ``total`` call it was given none for."""
    for item in fixture.written()["keys"]:
        if item["type"] == "stream":
            for _, pairs in item["value"]["entries"]:
                fields = {fixture.decode(k): fixture.decode(v) for k, v in pairs}
                if fields[b"function"] == b"total":
                    return fields[b"key"].decode()
    raise AssertionError("the fixture has no total call")


TOTAL_KEY = _total_key()


def expected() -> dict[str, tuple[str, tuple[Any, ...], dict[str, Any], datetime, int]]:
    """What the fixture holds waiting, by key: function, args, kwargs, due time, attempt
    (the due times read from the fixture's own bytes, not from pydocket's clock)."""
    whens: dict[str, datetime] = {}
    for item in fixture.written()["keys"]:
        if item["type"] == "hash" and b":runs:" not in fixture.decode(item["key"]):
            fields = {fixture.decode(k): fixture.decode(v) for k, v in item["value"]}
            if b"when" in fields:
                whens[fields[b"key"].decode()] = datetime.fromisoformat(fields[b"when"].decode())
        if item["type"] == "stream":
            for _, pairs in item["value"]["entries"]:
                fields = {fixture.decode(k): fixture.decode(v) for k, v in pairs}
                whens[fields[b"key"].decode()] = datetime.fromisoformat(fields[b"when"].decode())
    since = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    return {
        "greet-now": ("greet", ("Ada",), {}, whens["greet-now"], 1),
        TOTAL_KEY: ("total", (1, 2, 3), {"scale": 10}, whens[TOTAL_KEY], 1),
        "greet-later": ("greet", ("Grace",), {"punctuation": "?"}, whens["greet-later"], 1),
        "flaky": ("flaky", (7,), {}, whens["flaky"], 2),
        "far": ("far", (Decimal("1.50"),), {"since": since}, datetime(2200, 1, 1, tzinfo=UTC), 1),
        "path": ("path", (PurePosixPath("/srv/data"),), {}, whens["path"], 1),
    }


@pytest.fixture
async def pydocket(docket_name: str, redis_url: str) -> AsyncIterator[str]:
    """The fixture's keys, loaded as pydocket docket ``pd-<the test's docket name>``."""
    name = f"pd-{docket_name}"
    client = aioredis.Redis.from_url(redis_url)
    try:
        await fixture.load(client, name)
        yield name
    finally:
        await fixture.remove(client, name)
        await client.aclose()


async def import_(redis_url: str, strew_docket: str, pydocket: str, *more: str) -> Result:
    where = ("--url", redis_url, "--docket", strew_docket, "--from-docket", pydocket)
    return await strew("import-pydocket", *where, *more)


async def scheduled(docket: Docket) -> dict[str, tuple[Any, ...]]:
    snapshot = await docket.snapshot()
    return {e.key: (e.function_name, e.args, e.kwargs, e.when, e.attempt) for e in snapshot.future}


async def pydocket_keys(redis_url: str, name: str) -> set[bytes]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        return set(await fixture.keys_of(client, name))
    finally:
        await client.aclose()


async def test_importing_schedules_every_waiting_task_as_pydocket_had_it(
    redis_docket: Docket, redis_url: str, pydocket: str
) -> None:
    before = await pydocket_keys(redis_url, pydocket)
    result = await import_(redis_url, redis_docket.name, pydocket, "--yes", "--load-arguments")
    assert result.code == 0, result.err
    out = flat(result.out)
    assert "6 tasks to move (3 due now, 3 later), 1 running, 0 skipped" in out
    assert "Not moved, running: running (a pydocket worker has read them" in out
    assert "Scheduled 6 on strew docket" in out and "0 already scheduled there" in out
    assert "pydocket still holds them" in out
    assert await scheduled(redis_docket) == expected()
    assert await pydocket_keys(redis_url, pydocket) == before  # nothing removed


async def test_a_strew_worker_runs_the_imported_tasks_with_their_arguments(
    redis_docket: Docket, redis_url: str, pydocket: str
) -> None:
    result = await import_(redis_url, redis_docket.name, pydocket, "--yes", "--load-arguments")
    assert result.code == 0, result.err
    for function in (greet, total, flaky, far, path):
        redis_docket.register(function)
    now = datetime.now(UTC)
    waiting = {key: task for key, task in expected().items() if task[3] > now}
    for key in waiting:  # run what is due; the rest would keep the worker waiting
        await redis_docket.cancel(key)
    ran.clear()
    async with Worker(redis_docket) as worker:
        await worker.run_until_finished()
    defaults: dict[str, dict[str, Any]] = {"greet": {"punctuation": "!"}}
    due = [
        (f, a, {**defaults.get(f, {}), **k})
        for key, (f, a, k, _, _) in expected().items()
        if key not in waiting
    ]
    assert sorted(map(repr, ran)) == sorted(map(repr, due))
    assert ("greet", ("Ada",), {"punctuation": "!"}) in ran and "far" in waiting


async def test_a_dry_run_counts_by_function_and_writes_nothing(
    redis_docket: Docket, redis_url: str, pydocket: str
) -> None:
    before = await pydocket_keys(redis_url, pydocket)
    result = await import_(redis_url, redis_docket.name, pydocket, "--dry-run")
    assert result.code == 0, result.err
    lines = [line.split() for line in result.out.splitlines()]
    assert [line for line in lines if len(line) == 2] == [
        ["far", "1"],
        ["flaky", "1"],
        ["greet", "2"],
        ["total", "1"],
    ]
    out = flat(result.out)
    assert "5 tasks to move (2 due now, 3 later), 1 running, 1 skipped" in out
    assert "Skipped path 'path': refused to load pathlib.PurePosixPath" in out
    assert "(--load-arguments unpickles them)" in out and "Dry run: nothing was written." in out
    assert await scheduled(redis_docket) == {}
    assert await pydocket_keys(redis_url, pydocket) == before


async def test_without_load_arguments_only_plain_arguments_are_moved(
    redis_docket: Docket, redis_url: str, pydocket: str
) -> None:
    result = await import_(redis_url, redis_docket.name, pydocket, "--yes")
    assert result.code == 0, result.err
    assert "Scheduled 5 on strew docket" in flat(result.out)
    assert await scheduled(redis_docket) == {k: v for k, v in expected().items() if k != "path"}


async def test_delete_removes_what_was_moved_from_pydocket_and_keeps_the_rest(
    redis_docket: Docket, redis_url: str, pydocket: str
) -> None:
    redis_docket.register(greet)
    await redis_docket.add(greet, key="greet-now")("someone else")
    result = await import_(redis_url, redis_docket.name, pydocket, "--yes", "--delete")
    assert result.code == 0, result.err
    out = flat(result.out)
    assert "Scheduled 4 on strew docket" in out and "1 already scheduled there, left alone" in out
    assert "Removed 4 moved tasks from pydocket docket" in out
    tasks = await scheduled(redis_docket)
    assert tasks["greet-now"][1] == ("someone else",)  # strew's own schedule kept
    assert set(tasks) == set(expected()) - {"path"}
    left = {
        key.decode().removeprefix(f"{pydocket}:")
        for key in await pydocket_keys(redis_url, pydocket)
    }
    # Moved: gone with their runs hashes. Kept: the running one, the skipped one, the one
    # strew already had (pydocket's copy is not strew's to drop).
    for key in ("flaky", "greet-later", "far", f"runs:{TOTAL_KEY}", "runs:flaky"):
        assert key not in left
    assert {"runs:running", "runs:path", "runs:greet-now", "stream"} <= left
    client = aioredis.Redis.from_url(redis_url)
    try:
        entries = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]", await client.xrange(f"{pydocket}:stream")
        )
        assert sorted(fields[b"key"] for _, fields in entries) == [
            b"greet-now",
            b"path",
            b"running",
        ]
        assert await client.zcard(f"{pydocket}:queue") == 0
    finally:
        await client.aclose()
    again = await import_(redis_url, redis_docket.name, pydocket, "--yes", "--load-arguments")
    assert "Scheduled 1 on strew docket" in flat(again.out)  # path, now its arguments load


@pytest.mark.parametrize(
    ("args", "code", "complaint"),
    [
        ((), 2, "standard input is not a terminal, so nobody can confirm: pass --yes"),
        (("--yes", "--from-url", "memory://"), 2, "redis://, rediss:// or unix:// only"),
        (("--yes", "--from-url", "http://x"), 2, "--from-url"),
        (("--yes", "--from-docket", ""), 2, "a pydocket docket's name, got ''"),
        (("--yes", "--from-url", "redis://127.0.0.1:1/0"), 1, "Error: reading pydocket's docket"),
    ],
)
async def test_an_import_that_cannot_go_ahead_says_why_and_writes_nothing(
    redis_docket: Docket,
    redis_url: str,
    pydocket: str,
    args: tuple[str, ...],
    code: int,
    complaint: str,
) -> None:
    result = await strew(
        "import-pydocket",
        "--url",
        redis_url,
        "--docket",
        redis_docket.name,
        "--from-docket",
        pydocket,
        *args,
    )
    assert result.code == code, (result.out, result.err)
    assert complaint in flat(result.err)
    assert await scheduled(redis_docket) == {}


async def test_a_pydocket_docket_with_nothing_waiting_moves_nothing(
    redis_docket: Docket, redis_url: str
) -> None:
    result = await import_(redis_url, redis_docket.name, "nothing-here-at-all", "--yes")
    assert result.code == 0, result.err
    assert "0 tasks to move" in flat(result.out) and "Nothing to move." in result.out
