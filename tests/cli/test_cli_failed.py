"""``strew failed``: the record of failed tasks as a table or JSON, and retrying or dropping
them by key or all, saying how many and asking unless --yes."""

from __future__ import annotations

import json

from strew import Docket, Worker

from .test_cli import flat, strew


async def broken(n: int) -> None:
    raise ValueError(f"bad input {n}")


async def fail_some(docket: Docket, *keys: str) -> None:
    docket.register(broken)
    for n, key in enumerate(keys):
        await docket.add(broken, key=key)(n)
    async with Worker(docket) as worker:
        await worker.run_until_finished()


def where(docket: Docket, url: str) -> tuple[str, ...]:
    return ("--url", url, "--docket", docket.name)


async def test_the_failed_tasks_are_listed_as_a_table(redis_docket: Docket, redis_url: str) -> None:
    await fail_some(redis_docket, "first", "second")
    result = await strew("failed", *where(redis_docket, redis_url), env={"COLUMNS": "200"})
    assert result.code == 0, result.err
    text = flat(result.out)
    assert "Failed (2, newest first)" in text
    assert "ValueError: bad input 1" in text and "ValueError: bad input 0" in text
    assert text.index("second broken") < text.index("first broken")


async def test_an_empty_record_says_so(redis_docket: Docket, redis_url: str) -> None:
    result = await strew("failed", *where(redis_docket, redis_url))
    assert result.code == 0, result.err
    assert "No task failed recently" in flat(result.out)


async def test_json_gives_one_document_for_scripts(redis_docket: Docket, redis_url: str) -> None:
    await fail_some(redis_docket, "k1")
    result = await strew("failed", "--json", *where(redis_docket, redis_url))
    assert result.code == 0, result.err
    document = json.loads(result.out)
    [failure] = document["failures"]
    assert (failure["key"], failure["task"], failure["error"]) == ("k1", "broken", "ValueError")
    assert failure["message"] == "bad input 0" and failure["attempt"] == 1
    assert failure["retry_at"] is None and failure["failed_at"].endswith("+00:00")


async def test_retrying_by_key_puts_the_task_back(redis_docket: Docket, redis_url: str) -> None:
    await fail_some(redis_docket, "k1", "k2")
    result = await strew("failed", "--retry", "k1", "--yes", *where(redis_docket, redis_url))
    assert result.code == 0, result.err
    assert "1 retried" in flat(result.out)
    assert [e.key for e in (await redis_docket.snapshot()).future] == ["k1"]
    assert [f.key for f in await redis_docket.failures()] == ["k2"]
    await redis_docket.clear()


async def test_dropping_all_forgets_every_failure(redis_docket: Docket, redis_url: str) -> None:
    await fail_some(redis_docket, "k1", "k2")
    result = await strew(
        "failed", "--drop-all", *where(redis_docket, redis_url), env={"STREW_YES": "1"}
    )
    assert result.code == 0, result.err
    assert "Forgot 2 failure(s)" in flat(result.out)
    assert await redis_docket.failures() == []


async def test_acting_without_a_terminal_or_yes_is_refused(
    redis_docket: Docket, redis_url: str
) -> None:
    await fail_some(redis_docket, "k1")
    result = await strew("failed", "--retry-all", *where(redis_docket, redis_url), stdin="y\n")
    assert result.code == 2
    assert "pass --yes" in flat(result.err)
    assert [f.key for f in await redis_docket.failures()] == ["k1"]


async def test_two_actions_at_once_are_refused(redis_docket: Docket, redis_url: str) -> None:
    result = await strew(
        "failed", "--retry", "a", "--drop-all", "--yes", *where(redis_docket, redis_url)
    )
    assert result.code == 2
    assert "give one of --retry KEY, --retry-all, --drop KEY or --drop-all" in flat(result.err)
