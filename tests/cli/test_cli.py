"""The ``strew`` command, run as users run it: a real process against the real Redis.

Memory-store cases run in-process through Typer's runner (a memory:// docket lives only in
the process that made it). Every Redis test uses a docket name of its own and deletes its keys.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from strew import Docket, __version__
from strew.cli import app
from strew.stores.memory.store import _registry
from strew.testing import free_port

from ..helpers import wait_until

STREW = Path(sys.executable).parent / "strew"
# One line per message, whatever the terminal: Rich wraps at COLUMNS (80 when not a tty).
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
for _name in list(ENV):
    if _name.startswith(("STREW_", "DOCKET_")) and _name != "STREW_TEST_REDIS_URL":
        del ENV[_name]


@dataclass
class Result:
    code: int
    out: str
    err: str


def command() -> list[str]:
    if STREW.exists():
        return [str(STREW)]
    return [sys.executable, "-c", "from strew.cli import main; main()"]  # pragma: no cover


async def strew(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None, cwd: Path | None = None
) -> Result:
    process = await asyncio.create_subprocess_exec(
        *command(),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**ENV, **(env or {})},
        cwd=cwd,
    )
    out, err = await asyncio.wait_for(
        process.communicate(stdin.encode() if stdin is not None else b""), timeout=30
    )
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def flat(text: str) -> str:
    """Error panels drawn as plain words, for matching whole messages."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


async def record(path: str, text: object) -> None:
    """Stands in for the task of the same name in the worker's module."""


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


# -- version and help --------------------------------------------------------------------------


async def test_version_prints_the_package_version() -> None:
    result = await strew("version")
    assert (result.code, result.out.strip()) == (0, f"strew {__version__}")


def commands(group: TyperGroup, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every command under ``group``, sub-groups' commands too (``tasks sleep``), by path."""
    for name, sub in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(sub, TyperGroup):
            yield from commands(sub, path + " ")
        else:
            yield path, sub


def test_every_option_of_every_command_is_readable_from_a_strew_variable() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    paths = dict(commands(group))
    # The sub-groups are walked: their commands are checked like the top-level ones.
    assert {"tasks trace", "tasks fail", "tasks sleep", "worker", "snapshot"} <= paths.keys()
    missing = []
    for path, sub in paths.items():
        for param in sub.params:
            if param.name == "help":
                continue
            envvar = getattr(param, "envvar", None)
            if not (isinstance(envvar, str) and envvar.startswith("STREW_")):
                missing.append(f"{path} {param.name}")
    assert missing == []


# -- snapshot ----------------------------------------------------------------------------------


async def test_snapshot_of_an_empty_docket_says_so(redis_docket: Docket, redis_url: str) -> None:
    result = await strew("snapshot", "--url", redis_url, "--docket", redis_docket.name)
    assert result.code == 0, result.err
    assert f"Docket {redis_docket.name}" in result.out
    assert "the docket is empty" in result.out
    assert "No live workers." in result.out


async def test_snapshot_lists_the_earliest_tasks_and_draws_the_load_ahead(
    redis_docket: Docket, redis_url: str
) -> None:
    redis_docket.register(record)
    for i in range(5):
        await redis_docket.add(record, when=later(60 + 60 * i), key=f"task-{i}")("/dev/null", i)
    await redis_docket.add(record, when=later(-30), key="late-one")("/dev/null", "late")
    result = await strew(
        "snapshot",
        "--url",
        redis_url,
        "--docket",
        redis_docket.name,
        "--limit",
        "3",
        "--window",
        "10m",
        "--buckets",
        "5",
    )
    assert result.code == 0, result.err
    out = result.out
    assert "6 tasks: 6 scheduled (1 due or overdue), 0 running" in out
    assert "Scheduled (first 3 of 6)" in out
    # 30 s when scheduled, plus however long the subprocess took to start on a busy machine.
    assert "late-one" in out and re.search(r"overdue by 3\ds", out)
    assert "task-0" in out and "task-1" in out and "task-2" not in out
    assert "... and 3 more" in out
    # Counted over all six scheduled tasks, not only the three listed.
    [counted] = [line for line in out.splitlines() if line.startswith("│ record ")]
    assert counted.split("│")[2:4] == ["         6 ", "       0 "], counted
    assert "Scheduled load over the next 10m" in out and "5 slices of 2m" in out
    rows = [line.split() for line in out.splitlines() if re.match(r"\s*\+\d", line)]
    assert [row[0] for row in rows] == ["+0s", "+2m", "+4m", "+6m", "+8m"]
    assert sum(int(row[-1]) for row in rows) == 5


async def test_snapshot_shows_running_tasks_and_live_workers(
    redis_docket: Docket, redis_url: str
) -> None:
    redis_docket.register(record)
    await redis_docket.add(record, key="held")("/dev/null", "x")
    result = await redis_docket.store.claim("test-worker-1", 1, 60_000_000, 0)
    assert [claim.key for claim in result.claims] == ["held"]
    await redis_docket.store.heartbeat("test-worker-1", 60_000_000)
    out = (await strew("snapshot", "--url", redis_url, "--docket", redis_docket.name)).out
    assert "1 tasks: 0 scheduled (0 due or overdue), 1 running; 1 live worker" in out
    assert "Running (1)" in out
    running_row = next(line for line in out.splitlines() if "held" in line)
    assert "record" in running_row and "test-worker-1" in running_row
    assert "expires in" in running_row
    # When it was claimed (a UTC clock time) and for how long it has been running since.
    assert "Started (UTC)" in out and "Running for" in out
    assert re.search(r"│ \d\d:\d\d:\d\d\.\d{3}Z +│ [\d.]+(ms|s) +│", running_row), running_row
    assert "Workers (1)" in out


@pytest.mark.slow
async def test_snapshot_stays_fast_on_fifty_thousand_scheduled_tasks(
    redis_docket: Docket, redis_url: str
) -> None:
    redis_docket.register(record)
    # A minute ahead: on a slow machine the first tasks must not fall due (and out of the
    # histogram, which starts at now) before the snapshot looks; the last stay inside its hour.
    start = later(60)
    calls = [
        redis_docket.call(record, when=start + timedelta(seconds=i % 3000))("/dev/null", i)
        for i in range(50_000)
    ]
    await redis_docket.add_many(calls, chunk_size=5000)
    # How long it takes is measured by bench/snapshot.py (no timing assertions in tests).
    result = await strew("snapshot", "--url", redis_url, "--docket", redis_docket.name)
    assert result.code == 0, result.err
    assert "Scheduled (first 20 of 50,000)" in result.out
    assert "... and 49,980 more" in result.out
    # Every task counted, exactly, though only 20 are listed.
    [counted] = [line for line in result.out.splitlines() if line.startswith("│ record ")]
    assert counted.split("│")[2].strip() == "50,000", counted
    assert "≈" not in result.out
    rows = [line for line in result.out.splitlines() if re.match(r"\s*\+\d", line)]
    assert len(rows) == 24
    assert sum(int(row.split()[-1].replace(",", "")) for row in rows) == 50_000


async def test_snapshot_options_come_from_strew_variables(
    redis_docket: Docket, redis_url: str
) -> None:
    redis_docket.register(record)
    for i in range(4):
        await redis_docket.add(record, when=later(120 + i), key=f"env-{i}")("/dev/null", i)
    env = {
        "STREW_URL": redis_url,
        "STREW_DOCKET": redis_docket.name,
        "STREW_LIMIT": "2",
        "STREW_WINDOW": "1h30m",
        "STREW_BUCKETS": "3",
    }
    result = await strew("snapshot", env=env)
    assert result.code == 0, result.err
    assert f"Docket {redis_docket.name}" in result.out
    assert "Scheduled (first 2 of 4)" in result.out
    assert "over the next 1h30m" in result.out and "3 slices of 30m" in result.out


# -- worker ------------------------------------------------------------------------------------

TASK_MODULE = """
import asyncio

async def record(path: str, text: str) -> None:
    await asyncio.sleep(0.001)
    with open(path, "a") as file:
        file.write(text + "\\n")

tasks = [record]
"""


@pytest.fixture
def task_module(tmp_path: Path) -> str:
    name = f"strew_cli_worker_tasks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(TASK_MODULE)
    return name


def log_file(path: Path) -> BinaryIO:
    return path.open("wb")


async def start_worker(
    *args: str, cwd: Path, log: Path, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    with log_file(log) as stderr:
        return await asyncio.create_subprocess_exec(
            *command(),
            "worker",
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
            env={**ENV, **(env or {})},
            cwd=cwd,
        )


async def stop(process: asyncio.subprocess.Process) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(process.wait(), timeout=20)


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_a_worker_runs_tasks_from_a_module_and_stops_cleanly_on_sigterm(
    redis_docket: Docket, redis_url: str, tmp_path: Path, task_module: str
) -> None:
    redis_docket.register(record)
    out = tmp_path / "out.txt"
    await redis_docket.add(record, key="first")(str(out), "one")
    await redis_docket.add(record, key="second")(str(out), "two")
    await redis_docket.add(record, when=later(0.3), key="third")(str(out), "three")
    log = tmp_path / "worker.log"
    process = await start_worker(
        "--tasks",
        f"{task_module}:tasks",
        "--url",
        redis_url,
        "--docket",
        redis_docket.name,
        "--concurrency",
        "2",
        "--redelivery-timeout",
        "30s",
        "--shutdown-grace",
        "2s",
        "--prefetch",
        "20ms",
        "--logging-level",
        "info",
        cwd=tmp_path,
        log=log,
    )
    try:
        await wait_until(lambda: len(lines_of(out)) == 3, timeout=20, message="3 tasks ran")
        await wait_until(lambda: "finished (key third)" in log.read_text(), timeout=10)
    finally:
        code = await stop(process)
    text = log.read_text()
    assert code == 0, text
    assert sorted(lines_of(out)) == ["one", "three", "two"]
    for key in ("first", "second", "third"):
        started = re.search(
            rf"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{{3}}Z INFO +strew\.worker: .*"
            rf"started .*\(key {key}, -?[\d.]+ ms late\)$",
            text,
            re.MULTILINE,
        )
        assert started, text
        finished = rf"Z INFO +strew\.worker: record finished \(key {key}\) in [\d.]+ ms$"
        assert re.search(finished, text, re.MULTILINE), text
    assert "got SIGTERM" in text and "stopped" in text
    assert (await redis_docket.snapshot()).total_tasks == 0


async def test_a_worker_takes_every_option_from_strew_variables(
    redis_docket: Docket, redis_url: str, tmp_path: Path, task_module: str
) -> None:
    redis_docket.register(record)
    out = tmp_path / "out.txt"
    await redis_docket.add(record)(str(out), "from env")
    log = tmp_path / "worker.log"
    env = {
        "STREW_TASKS": task_module,
        "STREW_URL": redis_url,
        "STREW_DOCKET": redis_docket.name,
        "STREW_WORKER_NAME": f"env-worker-{uuid.uuid4().hex[:6]}",
        "STREW_CONCURRENCY": "3",
        "STREW_REDELIVERY_TIMEOUT": "1m",
        "STREW_SHUTDOWN_GRACE": "1s",
        "STREW_PREFETCH": "10ms",
        "STREW_POLL_CEILING": "250ms",
        "STREW_RECONNECTION_DELAY": "2s",
        "STREW_LOGGING_LEVEL": "INFO",
    }
    process = await start_worker(cwd=tmp_path, log=log, env=env)
    try:
        await wait_until(lambda: lines_of(out) == ["from env"], timeout=20)
    finally:
        code = await stop(process)
    text = log.read_text()
    assert code == 0, text
    assert (
        f"worker {env['STREW_WORKER_NAME']} started on docket {redis_docket.name} "
        "(concurrency 3)" in text
    )


# -- clear errors ------------------------------------------------------------------------------


async def test_a_bad_duration_is_a_usage_error_naming_the_option_and_value() -> None:
    result = await strew("worker", "--tasks", "x", "--redelivery-timeout", "5 minutes")
    assert result.code == 2
    assert "Invalid value for '--redelivery-timeout'" in flat(result.err)
    assert "'5 minutes' is not a duration" in flat(result.err)
    from_env = await strew("worker", "--tasks", "x", env={"STREW_SHUTDOWN_GRACE": "soon"})
    assert from_env.code == 2
    assert "'--shutdown-grace' (env var: 'STREW_SHUTDOWN_GRACE')" in flat(from_env.err)
    assert "'soon' is not a duration" in flat(from_env.err)


async def test_a_bad_import_string_names_it_and_exits_2(tmp_path: Path) -> None:
    result = await strew("worker", "--tasks", "no_such_module_xyz:tasks", cwd=tmp_path)
    assert result.code == 2
    assert "--tasks: cannot import 'no_such_module_xyz:tasks'" in result.err
    assert "no module named 'no_such_module_xyz'" in result.err


async def test_a_malformed_url_is_a_usage_error() -> None:
    result = await strew("snapshot", "--url", "http://localhost:6379", "--docket", "x")
    assert result.code == 2
    assert "Invalid value for '--url'" in flat(result.err)
    assert "got 'http://localhost:6379'" in flat(result.err)


async def test_an_unreachable_server_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    for args in (
        ("snapshot", "--url", url),
        ("clear", "--url", url, "--yes"),
        ("worker", "--url", url, "--tasks", "mod"),
    ):
        if args[0] == "worker":
            (tmp_path / "mod.py").write_text("def noop() -> None: ...\ntasks = [noop]\n")
        result = await strew(*args, cwd=tmp_path)
        assert result.code == 1, (args, result.err)
        assert f"Error: could not reach Redis at {url}" in result.err, result.err
        assert "Traceback" not in result.err


def test_a_zero_lease_or_bucket_count_is_refused_before_connecting() -> None:
    runner = CliRunner()
    zero = runner.invoke(app, ["worker", "--tasks", "x", "--redelivery-timeout", "0s"], env=ENV)
    assert zero.exit_code == 2
    assert "must be more than zero, got '0s'" in flat(zero.output)
    buckets = runner.invoke(app, ["snapshot", "--buckets", "0"], env=ENV)
    assert buckets.exit_code == 2
    assert "--buckets" in flat(buckets.output)


# -- the memory store, in-process --------------------------------------------------------------


@pytest.fixture
def memory_docket(docket_name: str) -> Iterator[tuple[str, str]]:
    url = f"memory://{docket_name}"
    yield url, docket_name
    _registry.pop((url, docket_name), None)


def test_snapshot_and_clear_work_on_the_memory_store_in_process(
    memory_docket: tuple[str, str],
) -> None:
    url, name = memory_docket

    async def fill() -> None:
        docket = Docket(name, url)
        docket.register(record)
        for i in range(3):
            await docket.add(record, when=later(30 + i), key=f"m-{i}")("/dev/null", i)

    asyncio.run(fill())
    runner = CliRunner()
    shown = runner.invoke(app, ["snapshot", "--url", url, "--docket", name], env=ENV)
    assert shown.exit_code == 0, shown.output
    assert "Scheduled (3)" in shown.output and "m-2" in shown.output
    cleared = runner.invoke(
        app, ["clear", "--yes"], env={**ENV, "STREW_URL": url, "STREW_DOCKET": name}
    )
    assert cleared.exit_code == 0, cleared.output
    assert "Dropped 3 scheduled tasks" in cleared.output
    empty = runner.invoke(app, ["snapshot", "--url", url, "--docket", name], env=ENV)
    assert "the docket is empty" in empty.output


async def test_snapshot_with_limit_zero_lists_nothing_but_still_counts(
    redis_docket: Docket, redis_url: str
) -> None:
    redis_docket.register(record)
    for i in range(3):
        await redis_docket.add(record, when=later(60))("/dev/null", i)
    result = await strew(
        "snapshot", "--url", redis_url, "--docket", redis_docket.name, "--limit", "0"
    )
    assert result.code == 0, result.err
    assert "Scheduled: 3, none listed (--limit 0)." in result.out
    assert "Tasks by function" in result.out  # counted whatever --limit lists
    assert "Scheduled load over the next 1h" in result.out
