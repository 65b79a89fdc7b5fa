"""``strew cancel``: by key or by scatter id, saying how many, asking unless --yes, and never
waiting on a question nobody can answer."""

from __future__ import annotations

import asyncio
import importlib
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from strew import Agenda, Docket, ExecutionState
from strew.cli import app

from .test_cli import flat, strew


async def later_task(n: int) -> None: ...


def later(minutes: int = 10) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


async def test_cancelling_keys_says_how_many_and_records_them_cancelled(
    redis_docket: Docket, redis_url: str
) -> None:
    redis_docket.register(later_task)
    await redis_docket.add(later_task, when=later(), key="a")(1)
    await redis_docket.add(later_task, when=later(), key="b")(2)
    await redis_docket.add(later_task, when=later(), key="keep")(3)
    where = ("--url", redis_url, "--docket", redis_docket.name)
    result = await strew("cancel", "a", "b", "unknown", "a", *where, "--yes")
    assert result.code == 0, result.err
    assert "Cancelled 2 waiting and 0 running of 3 keys" in flat(result.out)
    snapshot = await redis_docket.snapshot()
    assert [e.key for e in snapshot.future] == ["keep"]
    execution = await redis_docket.get_execution("a")
    assert execution is not None and execution.state is ExecutionState.CANCELLED
    none = await strew("cancel", "gone", *where, "--yes")
    assert none.code == 0 and "None of the 1 keys is scheduled or running" in flat(none.out)


async def test_cancelling_a_scatter_removes_what_has_not_started(
    redis_docket: Docket, redis_url: str
) -> None:
    redis_docket.register(later_task)
    agenda = Agenda()
    for n in range(5):
        agenda.add(later_task)(n)
    scattered = await agenda.scatter(redis_docket, start=later(), over=timedelta(minutes=5))
    await redis_docket.add(later_task, when=later(), key="other")(9)
    where = ("--url", redis_url, "--docket", redis_docket.name)
    result = await strew("cancel", "--scatter", str(scattered.scatter_id), *where, "--yes")
    assert result.code == 0, result.err
    assert f"Cancelled 5 tasks of scatter {scattered.scatter_id}" in flat(result.out)
    assert [e.key for e in (await redis_docket.snapshot()).future] == ["other"]
    again = await strew("cancel", "--scatter", str(scattered.scatter_id), *where, "--yes")
    assert "Cancelled 0 tasks" in flat(again.out) and "unknown id" in flat(again.out)


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        ((), "give the keys of the tasks to cancel, or --scatter ID, not both"),
        (("k", "--scatter", "s"), "give the keys of the tasks to cancel, or --scatter ID"),
        (("--scatter", "a{b}"), "--scatter: scatter_id must be 1 to 200 characters"),
        (("k",), "standard input is not a terminal, so nobody can confirm: pass --yes"),
    ],
)
async def test_a_cancel_that_cannot_go_ahead_exits_2_and_changes_nothing(
    redis_docket: Docket, redis_url: str, args: tuple[str, ...], complaint: str
) -> None:
    redis_docket.register(later_task)
    await redis_docket.add(later_task, when=later(), key="k")(1)
    result = await strew("cancel", *args, "--url", redis_url, "--docket", redis_docket.name)
    assert result.code == 2, result.out
    assert complaint in flat(result.err)
    assert [e.key for e in (await redis_docket.snapshot()).future] == ["k"]


def test_at_a_terminal_it_asks_and_a_no_keeps_everything(
    redis_url: str, docket_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process (the command's own asyncio.run), with a terminal made to answer."""

    async def add() -> None:
        async with Docket(docket_name, redis_url) as docket:
            docket.register(later_task)
            await docket.add(later_task, when=later(), key="k")(1)

    async def waiting(destroy: bool = False) -> list[str]:
        async with Docket(docket_name, redis_url) as docket:
            keys = [e.key for e in (await docket.snapshot()).future]
            if destroy:
                await docket.store.destroy()
            return keys

    asyncio.run(add())
    # The module (strew.cli.cancel), not the command of the same name strew.cli exports.
    module = importlib.import_module("strew.cli.cancel")
    monkeypatch.setattr(module, "interactive", lambda: True)
    where = ["--url", redis_url, "--docket", docket_name]
    refused = CliRunner().invoke(app, ["cancel", "k", *where], input="n\n")
    assert refused.exit_code == 1, refused.output
    assert "Cancel 1 waiting and 0 running of 1 keys" in refused.output
    assert asyncio.run(waiting()) == ["k"]
    accepted = CliRunner().invoke(app, ["cancel", "k", *where], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert asyncio.run(waiting(destroy=True)) == []
