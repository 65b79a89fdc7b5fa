"""Operating strew in production from the command line: `strew workers`, the built-in
smoke-test tasks, the worker's health check and its log formats.

Each test runs the command as users do, in a real process, against Redis; each uses a
docket name of its own and deletes its keys.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from strew import Docket, Worker
from strew import tasks as builtin
from strew.cli import app, health
from strew.stores.memory.store import _registry
from strew.testing import RedisServer, free_port

from ..helpers import wait_until
from .test_cli import ENV, flat, start_worker, stop, strew

# -- strew workers -----------------------------------------------------------------------------

# One gate per test, made inside its event loop (an Event binds to the loop that first uses it).
gates: dict[str, asyncio.Event] = {}


async def hold() -> None:
    """Runs until the test opens the gate, so its worker visibly holds it."""
    await gates["hold"].wait()


async def test_workers_says_plainly_when_none_is_alive(
    redis_docket: Docket, redis_url: str
) -> None:
    result = await strew("workers", "--url", redis_url, "--docket", redis_docket.name)
    assert result.code == 0, result.err
    assert f"Docket {redis_docket.name}" in result.out
    assert "No live workers" in result.out
    assert "same --url and --docket" in result.out


async def test_workers_lists_a_live_worker_and_the_keys_it_holds(
    redis_docket: Docket, redis_url: str
) -> None:
    gates["hold"] = asyncio.Event()
    redis_docket.register(hold)
    await redis_docket.add(hold, key="held-one")()
    await redis_docket.add(hold, key="held-two")()
    worker = Worker(redis_docket, name="ops-worker-1", concurrency=4)
    running = asyncio.create_task(worker.run_forever())
    try:
        await wait_until(lambda: worker.stats.claimed == 2, timeout=10, message="both claimed")

        async def listed() -> bool:
            snapshot = await redis_docket.snapshot(0)
            return any(w.name == "ops-worker-1" and len(w.tasks) == 2 for w in snapshot.workers)

        await wait_until(listed, timeout=10, message="the worker shows up holding both")
        result = await strew("workers", "--url", redis_url, "--docket", redis_docket.name)
    finally:
        gates["hold"].set()
        worker.stop()
        await asyncio.wait_for(running, timeout=10)
    assert result.code == 0, result.err
    assert "Workers (1)" in result.out
    row = next(line for line in result.out.splitlines() if "ops-worker-1" in line)
    assert "held-one, held-two" in row
    assert " 2 " in row
    assert "ago" in row or "now" in row


# -- built-in smoke-test tasks -----------------------------------------------------------------


@pytest.fixture
def user_tasks(tmp_path: Path) -> str:
    """A module of the user's with one task, for ``--tasks``."""
    name = f"strew_ops_tasks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("async def noop() -> None: ...\ntasks = [noop]\n")
    return name


async def test_a_trace_scheduled_from_the_cli_is_logged_by_a_worker_with_its_key(
    redis_docket: Docket, redis_url: str, tmp_path: Path, user_tasks: str
) -> None:
    where = ("--url", redis_url, "--docket", redis_docket.name)
    scheduled = await strew("tasks", "trace", "hello from the deploy", *where)
    assert scheduled.code == 0, scheduled.err
    found = re.search(
        r"Scheduled trace\('hello from the deploy'\) on docket .*: key (\S+), due", scheduled.out
    )
    assert found, scheduled.out
    key = found.group(1)
    failing = await strew("tasks", "fail", "expected failure", *where)
    assert failing.code == 0, failing.err
    later = await strew("tasks", "sleep", "0.01", *where, "--delay", "1h")
    assert later.code == 0, later.err
    assert "(in 1h)" in later.out
    log = tmp_path / "worker.log"
    process = await start_worker("--tasks", user_tasks, *where, cwd=tmp_path, log=log)
    try:
        await wait_until(
            lambda: "fail failed" in log.read_text(), timeout=20, message="trace and fail ran"
        )
    finally:
        code = await stop(process)
    text = log.read_text()
    assert code == 0, text
    assert "tasks: fail, noop, sleep, trace" in text
    assert re.search(
        rf"Z INFO +strew\.tasks: trace: hello from the deploy \(key {re.escape(key)}\)$",
        text,
        re.MULTILINE,
    ), text
    assert "SmokeTestFailure: expected failure" in text
    # The delayed sleep is still waiting for its hour.
    assert [e.function_name for e in (await redis_docket.snapshot()).future] == ["sleep"]


async def test_a_negative_sleep_is_a_usage_error_before_connecting() -> None:
    result = await strew("tasks", "sleep", "--url", "redis://127.0.0.1:1/0", "--", "-1")
    assert result.code == 2
    assert "Invalid value for 'DURATION': '-1' is not a duration" in flat(result.err)


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "5 seconds", "101y"])
async def test_a_sleep_that_is_no_finite_duration_is_refused_naming_it(value: str) -> None:
    result = await strew("tasks", "sleep", value, "--url", "redis://127.0.0.1:1/0")
    assert result.code == 2, result.err
    assert f"Invalid value for 'DURATION': '{value}' is not a duration" in flat(result.err)


async def test_a_sleep_takes_a_duration_as_the_other_options_do(
    redis_docket: Docket, redis_url: str
) -> None:
    where = ("--url", redis_url, "--docket", redis_docket.name)
    for text in ("5s", "1m30s", "250ms", "2.5"):
        result = await strew("tasks", "sleep", text, *where, "--delay", "1h")
        assert result.code == 0, result.err
    from_env = await strew("tasks", "sleep", *where, env={"STREW_SLEEP": "2m", "STREW_DELAY": "1h"})
    assert from_env.code == 0, from_env.err
    scheduled = sorted(e.args for e in (await redis_docket.snapshot()).future)
    assert scheduled == [(0.25,), (2.5,), (5.0,), (90.0,), (120.0,)]
    await redis_docket.clear()


async def test_the_sleep_task_itself_refuses_what_never_ends() -> None:
    for seconds in (float("inf"), float("nan"), -1.0, True):
        with pytest.raises(ValueError, match="seconds must be a finite number of zero or more"):
            await builtin.sleep(seconds)


# -- health check ------------------------------------------------------------------------------


async def probe(port: int, host: str = "127.0.0.1") -> int | None:
    """The status code of ``GET /`` on the health port, None while nothing answers."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return None
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
    parts = status.split()
    return int(parts[1]) if len(parts) >= 2 else None


async def answers(port: int, status: int, host: str = "127.0.0.1") -> bool:
    return await probe(port, host) == status


async def body_of(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def test_the_health_check_follows_the_store_down_and_back_up(
    redis_server: RedisServer, docket_name: str, tmp_path: Path, user_tasks: str
) -> None:
    port = free_port()
    log = tmp_path / "worker.log"
    process = await start_worker(
        "--tasks",
        user_tasks,
        "--url",
        redis_server.url,
        "--docket",
        docket_name,
        "--reconnection-delay",
        "200ms",
        "--poll-ceiling",
        "200ms",
        "--shutdown-grace",
        "1s",
        cwd=tmp_path,
        log=log,
        env={"STREW_HEALTHCHECK_PORT": str(port)},
    )
    try:
        await wait_until(lambda: answers(port, 200), timeout=20, interval=0.05, message="up")
        redis_server.stop(kill=True)
        await wait_until(lambda: answers(port, 503), timeout=20, interval=0.05, message="down")
        redis_server.start()
        await wait_until(lambda: answers(port, 200), timeout=20, interval=0.05, message="again")
    finally:
        code = await stop(process)
    text = log.read_text()
    assert code == 0, text
    assert f"health check on http://127.0.0.1:{port}/" in text


async def test_the_health_check_answers_only_get_slash(
    redis_docket: Docket, redis_url: str, tmp_path: Path, user_tasks: str
) -> None:
    port = free_port()
    log = tmp_path / "worker.log"
    where = ("--url", redis_url, "--docket", redis_docket.name)
    process = await start_worker(
        "--tasks", user_tasks, *where, "--healthcheck-port", str(port), cwd=tmp_path, log=log
    )
    try:
        await wait_until(lambda: answers(port, 200), timeout=20, interval=0.05, message="up")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /metrics HTTP/1.1\r\n\r\n")
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 404")
        writer.close()
    finally:
        code = await stop(process)
    assert code == 0, log.read_text()


async def test_the_health_check_binds_loopback_unless_given_a_host(
    redis_docket: Docket, redis_url: str, tmp_path: Path, user_tasks: str
) -> None:
    # 127.0.0.2 is loopback too, but another address: a server bound to 127.0.0.1 is not
    # there, one bound to every interface (what a Kubernetes httpGet probe needs) is.
    where = ("--tasks", user_tasks, "--url", redis_url, "--docket", redis_docket.name)
    for host, reached in ((None, False), ("0.0.0.0", True)):
        port = free_port()
        log = tmp_path / f"worker-{host}.log"
        env = {"STREW_HEALTHCHECK_PORT": str(port)}
        if host is not None:
            env["STREW_HEALTHCHECK_HOST"] = host
        process = await start_worker(*where, cwd=tmp_path, log=log, env=env)
        try:
            await wait_until(functools.partial(answers, port, 200), timeout=20, interval=0.05)
            assert await probe(port, "127.0.0.2") == (200 if reached else None)
        finally:
            code = await stop(process)
        assert code == 0, log.read_text()
        shown = host or "127.0.0.1"
        assert f"health check on http://{shown}:{port}/" in log.read_text()


async def test_the_health_check_answers_503_once_the_workers_run_has_ended(
    redis_docket: Docket,
) -> None:
    worker = Worker(redis_docket)
    running = asyncio.create_task(worker.run_forever())
    port = free_port()
    server = await health.serve(port, health.store_check(running, redis_docket.store.now))
    try:
        await wait_until(lambda: answers(port, 200), timeout=10, interval=0.05, message="up")
        worker.stop()
        await asyncio.wait_for(running, timeout=10)
        assert await probe(port) == 503
        assert (await body_of(port)).endswith(b"\r\n\r\nthe worker is not running\n")
    finally:
        server.close()
        await server.wait_closed()


async def test_the_health_check_answers_503_when_the_store_does_not_answer_in_time() -> None:
    # A server that accepts connections and never says a word: a Redis that hangs.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    mute = await asyncio.start_server(silent, "127.0.0.1", 0)
    mute_port = mute.sockets[0].getsockname()[1]

    async def forever() -> None:
        await asyncio.Event().wait()

    alive = asyncio.create_task(forever())  # a run that has not ended
    port = free_port()
    try:
        async with Docket("health-timeout", f"redis://127.0.0.1:{mute_port}/0") as docket:
            server = await health.serve(port, health.store_check(alive, docket.store.now))
            try:
                answer = await body_of(port)
            finally:
                server.close()
                await server.wait_closed()
    finally:
        alive.cancel()
        mute.close()
    assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert answer.endswith(b"the store did not answer within 1s\n")


# -- logging formats ---------------------------------------------------------------------------


async def test_json_logs_are_one_object_per_line_with_the_task_key(
    redis_docket: Docket, redis_url: str, tmp_path: Path, user_tasks: str
) -> None:
    where = ("--url", redis_url, "--docket", redis_docket.name)
    scheduled = await strew("tasks", "trace", 'quotes " and ünïcode', *where)
    assert scheduled.code == 0, scheduled.err
    failing = await strew("tasks", "fail", "for the exception field", *where)
    assert failing.code == 0, failing.err
    log = tmp_path / "worker.log"
    process = await start_worker(
        "--tasks", user_tasks, *where, cwd=tmp_path, log=log, env={"STREW_LOGGING_FORMAT": "json"}
    )
    try:
        await wait_until(lambda: "fail failed" in log.read_text(), timeout=20, message="ran")
    finally:
        code = await stop(process)
    text = log.read_text()
    assert code == 0, text
    records = [json.loads(line) for line in text.splitlines()]
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["time"]) for r in records)
    [traced] = [r for r in records if r["logger"] == "strew.tasks"]
    assert traced["level"] == "INFO"
    assert traced["message"].startswith('trace: quotes " and ünïcode (key ')
    assert traced["message"].endswith(f"(key {traced['key']})")
    [failed] = [r for r in records if r["message"].startswith("fail failed")]
    assert failed["level"] == "ERROR"
    assert "SmokeTestFailure: for the exception field" in failed["exception"]
    # The worker's own lines about a task carry its key too.
    assert failed["key"] != traced["key"]
    assert failed["message"].startswith(f"fail failed (key {failed['key']})")
    assert any(
        r["message"].startswith("trace finished") and r.get("key") == traced["key"] for r in records
    )
    assert all("key" not in r for r in records if r["message"].endswith("stopped"))
    assert any(r["message"].endswith("stopped") for r in records)
    # The start and finish of a run carry their figures as fields, not only in the text.
    [started] = [r for r in records if r["message"].startswith("started trace(")]
    assert (started["task"], started["key"], started["attempt"]) == ("trace", traced["key"], 1)
    assert isinstance(started["lateness_ms"], float) and started["redelivered"] is False
    assert f"{started['lateness_ms']:.1f} ms late" in started["message"]
    [finished] = [r for r in records if r["message"].startswith("trace finished")]
    assert (finished["task"], finished["key"], finished["outcome"]) == (
        "trace",
        traced["key"],
        "succeeded",
    )
    assert finished["duration_ms"] >= 0
    assert finished["message"].endswith(f" in {finished['duration_ms']:.1f} ms")
    assert "lateness_ms" not in finished
    assert (failed["task"], failed["outcome"], failed["attempt"]) == ("fail", "failed", 1)
    assert failed["duration_ms"] >= 0


async def test_rich_logs_show_a_run_starting_and_finishing(
    redis_docket: Docket, redis_url: str, tmp_path: Path, user_tasks: str
) -> None:
    log = tmp_path / "worker.log"
    where = ("--url", redis_url, "--docket", redis_docket.name)
    scheduled = await strew("tasks", "trace", "in colour", *where)
    assert scheduled.code == 0, scheduled.err
    key = re.search(r": key (\S+), due", scheduled.out)
    assert key, scheduled.out
    process = await start_worker(
        "--tasks",
        user_tasks,
        *where,
        "--logging-format",
        "rich",
        cwd=tmp_path,
        log=log,
        env={"COLUMNS": "400"},
    )
    try:
        await wait_until(lambda: "trace finished" in log.read_text(), timeout=20, message="ran")
    finally:
        code = await stop(process)
    text = log.read_text()
    assert code == 0, text
    # Rich's columns: a time, the level, the message (and the source file on the right).
    started = re.search(rf"INFO +started trace\('in colour'\) \(key {key.group(1)}, ", text)
    assert started, text
    assert re.search(rf"INFO +trace finished \(key {key.group(1)}\) in [\d.]+ ms", text), text
    assert re.search(r"INFO +trace: in colour", text), text
    assert "{" not in text  # not JSON


def test_a_smoke_task_on_the_memory_store_warns_that_no_worker_will_see_it(
    docket_name: str,
) -> None:
    url = f"memory://{docket_name}"
    try:
        result = CliRunner().invoke(
            app, ["tasks", "trace", "hi", "--url", url, "--docket", docket_name], env=ENV
        )
    finally:
        _registry.pop((url, docket_name), None)
    assert result.exit_code == 0, result.output
    assert "Scheduled trace('hi') on docket" in result.output
    assert "no worker will see this task" in flat(result.output)
