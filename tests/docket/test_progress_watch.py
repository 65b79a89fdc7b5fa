"""`Progress` from inside a task, read from elsewhere; ``strew watch`` as a real process.

The watch tests run the command against the real Redis, with the worker in this process.
The one that follows a running task gives the command a pseudo-terminal, so Rich draws its
live view and the test can wait for what it shows instead of sleeping.
"""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import suppress
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strew import Docket, ExecutionState, Progress, Worker
from strew.cli import app
from strew.stores.memory.store import _registry
from strew.task.clock import utc_now

from ..helpers import wait_until

STREW = Path(sys.executable).parent / "strew"
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("STREW_")},
    "COLUMNS": "200",
    "NO_COLOR": "1",
    "TERM": "xterm",
}


def fast_worker(docket: Docket) -> Worker:
    return Worker(docket, poll_ceiling=timedelta(milliseconds=20))


@pytest.fixture
async def other(docket: Docket) -> AsyncIterator[Docket]:
    async with Docket(docket.name, docket.url) as second:
        yield second


# -- Progress --------------------------------------------------------------------------------


async def test_progress_is_readable_from_another_docket_while_the_task_runs(
    docket: Docket, other: Docket
) -> None:
    reported, release = asyncio.Event(), asyncio.Event()

    async def crunch(rows: int, progress: Progress = Progress()) -> int:
        await progress.set_total(rows)
        await progress.increment()
        await progress.increment(2)
        await progress.set_message("row 3 of 10")
        assert (progress.current, progress.total, progress.message) == (3, 10, "row 3 of 10")
        reported.set()
        await release.wait()
        await progress.increment(7)
        return rows

    execution = await docket.add(crunch, key="crunch")(10)
    worker = asyncio.create_task(fast_worker(docket).run_until_finished())
    await asyncio.wait_for(reported.wait(), 10)
    seen = await other.get_execution("crunch")
    assert seen is not None and seen.state is ExecutionState.RUNNING
    assert seen.progress is not None
    assert (seen.progress.current, seen.progress.total) == (3, 10)
    assert seen.progress.message == "row 3 of 10"
    assert seen.progress.fraction == pytest.approx(0.3)
    release.set()
    assert await execution.get_result(timeout=10) == 10
    await asyncio.wait_for(worker, 10)
    # The last progress stays readable beside the result.
    assert await seen.sync() is ExecutionState.COMPLETED
    assert seen.progress is not None and seen.progress.current == 10


async def test_a_bad_progress_call_fails_the_task_naming_the_value(docket: Docket) -> None:
    async def backwards(progress: Progress = Progress()) -> None:
        await progress.increment(-1)

    execution = await docket.add(backwards)()
    await fast_worker(docket).run_until_finished()
    with pytest.raises(ValueError, match="amount must be zero or more, got -1"):
        await execution.get_result()
    assert (await docket.store.task_state(execution.key)).progress is None  # nothing written


async def test_progress_outside_a_task_says_how_to_use_it() -> None:
    with pytest.raises(RuntimeError, match="as a task parameter default"):
        await Progress().set_total(3)
    with pytest.raises(TypeError, match="total must be an integer, got '3'"):
        await Progress().set_total("3")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="message must be a string, got 5"):
        await Progress().set_message(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="amount must be an integer, got True"):
        await Progress().increment(True)


def test_progress_fraction_is_none_without_a_total() -> None:
    from strew import ExecutionProgress

    assert ExecutionProgress(3, None, None, utc_now()).fraction is None
    assert ExecutionProgress(12, 10, None, utc_now()).fraction == 1.0


# -- strew watch -------------------------------------------------------------------------------


def command() -> list[str]:
    if STREW.exists():
        return [str(STREW)]
    return [sys.executable, "-c", "from strew.cli import main; main()"]  # pragma: no cover


async def watch(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *command(),
        "watch",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**ENV, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def options(docket: Docket) -> list[str]:
    return ["--url", docket.url, "--docket", docket.name]


async def square(n: int) -> int:
    return n * n


async def explode(text: str) -> None:
    raise ValueError(text)


async def test_watch_of_an_unknown_key_exits_2_and_says_why(redis_docket: Docket) -> None:
    env = {"STREW_URL": redis_docket.url, "STREW_DOCKET": redis_docket.name}
    env["STREW_KEY"] = "no-such-key"  # every option, the key too, can come from a variable
    code, out, err = await watch(env=env)
    assert code == 2, err
    assert "Task no-such-key in docket" in out
    assert "unknown: nothing is known about this key" in out


async def test_watch_of_a_completed_task_shows_its_result_and_exits_0(
    redis_docket: Docket,
) -> None:
    await redis_docket.add(square, key="sq")(12)
    await fast_worker(redis_docket).run_until_finished()
    code, out, err = await watch("sq", *options(redis_docket))
    assert code == 0, err
    assert "completed" in out and "144" in out and "square" in out


async def test_watch_of_a_failed_task_shows_the_error_and_exits_1(redis_docket: Docket) -> None:
    await redis_docket.add(explode, key="bad")("no such customer 42")
    await fast_worker(redis_docket).run_until_finished()
    code, out, err = await watch("bad", "--no-follow", *options(redis_docket))
    assert code == 1, err
    assert "failed" in out and "ValueError: no such customer 42" in out


async def test_watch_of_a_cancelled_task_exits_1(redis_docket: Docket) -> None:
    execution = await redis_docket.add(square, when=utc_now() + timedelta(hours=1))(3)
    await redis_docket.cancel(execution.key)
    code, out, _ = await watch(execution.key, *options(redis_docket))
    assert code == 1
    assert "cancelled" in out


async def test_watch_no_follow_prints_a_scheduled_task_once_and_exits_0(
    redis_docket: Docket,
) -> None:
    execution = await redis_docket.add(square, when=utc_now() + timedelta(hours=1))(3)
    env = {"STREW_FOLLOW": "false"}
    code, out, err = await watch(execution.key, *options(redis_docket), env=env)
    assert code == 0, err
    assert "scheduled" in out and "square(3)" in out and "Due" in out and "(in " in out
    await redis_docket.cancel(execution.key)


async def test_watch_shows_a_task_a_strike_holds_as_scheduled_and_held(
    redis_docket: Docket,
) -> None:
    await redis_docket.add(square, key="held-sq")(4)
    await redis_docket.strike(square, "n", "==", 4)
    await fast_worker(redis_docket).run_until_finished()
    code, out, err = await watch("held-sq", "--no-follow", *options(redis_docket))
    assert code == 0, err
    assert "scheduled" in out and "square(4)" in out
    assert "Held" in out and "by a strike" in out
    await redis_docket.cancel("held-sq")
    await redis_docket.restore(square, "n", "==", 4)


async def test_watch_refuses_a_bad_interval_before_connecting() -> None:
    code, _, err = await watch("k", "--interval", "0s", "--url", "redis://127.0.0.1:1/0")
    assert code == 2
    assert "must be more than zero" in err


class Terminal:
    """A process on a pseudo-terminal, and everything it has drawn so far."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env
        )
        os.close(slave)
        self.screen = ""

    def _read(self) -> None:
        ready, _, _ = select.select([self.master], [], [], 0)
        if ready:
            with suppress(OSError):  # the process ended and closed its side
                self.screen += os.read(self.master, 65536).decode(errors="replace")

    def shows(self, *texts: str) -> bool:
        self._read()
        return all(text in self.screen for text in texts)

    async def wait(self) -> int:
        await wait_until(lambda: self.shows() or self.process.poll() is not None)
        await wait_until(lambda: self.process.poll() is not None, message="watch to exit")
        for _ in range(20):  # what it drew last
            self._read()
        return int(self.process.returncode)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        os.close(self.master)


@pytest.fixture
def terminal() -> Iterator[list[Terminal]]:
    opened: list[Terminal] = []
    yield opened
    for each in opened:
        each.close()


async def test_watch_follows_a_running_task_live_until_it_completes(
    redis_docket: Docket, terminal: list[Terminal]
) -> None:
    release = asyncio.Event()

    async def ingest(rows: int, progress: Progress = Progress()) -> str:
        await progress.set_total(rows)
        await progress.increment(2)
        await progress.set_message("reading batch 2")
        await release.wait()
        await progress.increment(rows - 2)
        return f"{rows} rows"

    await redis_docket.add(ingest, key="ingest")(4)
    worker = asyncio.create_task(fast_worker(redis_docket).run_until_finished())
    args = [*command(), "watch", "ingest", *options(redis_docket), "--interval", "20ms"]
    screen = Terminal(args, ENV)
    terminal.append(screen)
    await wait_until(
        lambda: screen.shows("running", "2/4 (50%)", "reading batch 2"),
        timeout=20,
        message="watch to draw the running task",
    )
    assert screen.process.poll() is None  # still following
    release.set()
    assert await screen.wait() == 0
    assert "completed" in screen.screen and "'4 rows'" in screen.screen
    assert "4/4 (100%)" in screen.screen
    await asyncio.wait_for(worker, 10)


def test_watch_works_on_the_memory_store_in_process(docket_name: str) -> None:
    url = f"memory://{docket_name}"

    async def run_one() -> str:
        docket = Docket(docket_name, url)
        execution = await docket.add(square)(9)
        await fast_worker(docket).run_until_finished()
        return execution.key

    try:
        key = asyncio.run(run_one())
        shown = CliRunner().invoke(app, ["watch", key, "--url", url, "--docket", docket_name])
        assert shown.exit_code == 0, shown.output
        assert "completed" in shown.output and "81" in shown.output
    finally:
        _registry.pop((url, docket_name), None)
