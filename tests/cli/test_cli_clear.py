"""``strew clear``: drops what is scheduled, says how many, asks first at a terminal, and
never waits on a question in a script."""

from __future__ import annotations

import asyncio
import importlib
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from strew import Docket
from strew.cli import app

from .test_cli import flat, strew


async def later_task(n: int) -> None: ...


def later() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=10)


async def test_clear_with_yes_drops_scheduled_tasks_and_prints_the_count(
    redis_docket: Docket, redis_url: str
) -> None:
    redis_docket.register(later_task)
    for n in range(3):
        await redis_docket.add(later_task, when=later())(n)
    result = await strew("clear", "--url", redis_url, "--docket", redis_docket.name, "-y")
    assert result.code == 0, result.err
    assert f"Dropped 3 scheduled tasks from docket {redis_docket.name}" in result.out
    assert (await redis_docket.snapshot()).total_tasks == 0


async def test_without_a_terminal_or_yes_clear_refuses_with_exit_2_and_drops_nothing(
    redis_docket: Docket, redis_url: str
) -> None:
    redis_docket.register(later_task)
    await redis_docket.add(later_task, when=later())(1)
    env = {"STREW_URL": redis_url, "STREW_DOCKET": redis_docket.name}
    # A "y" on a pipe is not a person answering: it is refused like any other script.
    refused = await strew("clear", env=env, stdin="y\n")
    assert refused.code == 2, refused.out
    assert "standard input is not a terminal, so nobody can confirm: pass --yes" in flat(
        refused.err
    )
    assert refused.out == ""
    assert (await redis_docket.snapshot()).total_tasks == 1
    from_env = await strew("clear", env={**env, "STREW_YES": "1"})
    assert from_env.code == 0, from_env.err
    assert "Dropped 1 scheduled task " in from_env.out
    assert (await redis_docket.snapshot()).total_tasks == 0


def test_at_a_terminal_clear_asks_and_a_no_keeps_everything(
    redis_url: str, docket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process (the command's own asyncio.run), with a terminal made to answer."""

    async def add() -> None:
        async with Docket(docket_name, redis_url) as docket:
            docket.register(later_task)
            await docket.add(later_task, when=later())(1)

    async def count(destroy: bool = False) -> int:
        async with Docket(docket_name, redis_url) as docket:
            total = (await docket.snapshot()).total_tasks
            if destroy:
                await docket.store.destroy()
            return total

    asyncio.run(add())
    # The module (strew.cli.clear), not the command of the same name strew.cli exports.
    monkeypatch.setattr(importlib.import_module("strew.cli.clear"), "interactive", lambda: True)
    where = ["--url", redis_url, "--docket", docket_name]
    refused = CliRunner().invoke(app, ["clear", *where], input="n\n")
    assert refused.exit_code == 1, refused.output
    assert "Drop all 1 scheduled tasks" in refused.output
    assert asyncio.run(count()) == 1
    accepted = CliRunner().invoke(app, ["clear", *where], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "Dropped 1 scheduled task " in accepted.output
    assert asyncio.run(count(destroy=True)) == 0
