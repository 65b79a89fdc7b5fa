"""`strew.testing.RedisServer`: the throwaway Redis the suite, the chaos driver and the
benchmarks stand on, and that users may use in their own tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from strew import Docket
from strew.testing import (
    RedisServer,
    RedisServerMissing,
    assert_no_tasks,
    assert_task_count,
    assert_task_not_scheduled,
    assert_task_scheduled,
    free_port,
)


def test_a_killed_server_comes_back_on_its_port_with_what_it_acknowledged() -> None:
    with RedisServer() as server:
        port = server.port
        client = redis.Redis.from_url(server.url)
        client.set("kept", "yes")
        client.close()
        server.stop(kill=True)
        assert not server.running
        server.start()
        assert server.port == port
        client = redis.Redis.from_url(server.url)
        assert client.get("kept") == b"yes"
        client.close()
    assert not server.running
    assert not server.directory.exists()


def test_without_appendonly_a_restart_comes_back_empty() -> None:
    with RedisServer(appendonly=False) as server:
        client = redis.Redis.from_url(server.url)
        client.set("lost", "yes")
        client.close()
        server.stop()
        server.start()
        client = redis.Redis.from_url(server.url)
        assert client.get("lost") is None
        client.close()


async def test_a_docket_runs_on_it(docket_name: str) -> None:
    with RedisServer(appendonly=False) as server:
        async with Docket(docket_name, server.url) as docket:

            async def noop() -> None: ...

            execution = await docket.add(noop)()
            snapshot = await docket.snapshot()
            assert [task.key for task in snapshot.future] == [execution.key]


def test_a_directory_of_the_callers_is_left_in_place(tmp_path: Path) -> None:
    directory = tmp_path / "redis"
    log = tmp_path / "redis.log"
    with RedisServer(directory, logfile=log) as server:
        assert server.directory == directory
    assert directory.is_dir()
    assert "Ready to accept connections" in log.read_text()


def test_a_server_that_cannot_start_says_why_and_leaves_nothing_running(tmp_path: Path) -> None:
    log = tmp_path / "redis.log"
    server = RedisServer(extra=["--no-such-option", "1"], logfile=log)
    expected = rf"port {server.port} exited with code 1 while starting; see {log}"
    with pytest.raises(RuntimeError, match=expected), server:
        pass
    assert not server.running
    assert not server.directory.exists()


def test_starting_a_running_server_is_refused() -> None:
    with RedisServer(appendonly=False) as server:
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
        assert server.running


def test_no_redis_server_on_path_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    server = RedisServer()
    with pytest.raises(RedisServerMissing, match="redis-server is not on PATH"), server:
        pass
    assert not server.directory.exists()


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_a_port_out_of_range_is_refused(port: int) -> None:
    with pytest.raises(ValueError, match=rf"port must be between 1 and 65535, got {port}"):
        RedisServer(port=port)


def test_free_port_stays_below_its_bound() -> None:
    assert free_port(below=55536) < 55536
    with pytest.raises(ValueError, match="below must be between 1025 and 65536, got 80"):
        free_port(below=80)


# -- assertions about what is scheduled -------------------------------------------------------


async def send_email(address: str, subject: str = "hi") -> None: ...


async def send_sms(number: str) -> None: ...


async def test_assert_task_scheduled_matches_function_args_kwargs_and_key(docket: Docket) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    await docket.add(send_email, when=soon, key="e-1")("a@example.com", subject="welcome")
    docket.register(send_sms, names=["sms"])
    await docket.add("sms", when=soon)("+4412345")

    await assert_task_scheduled(docket, send_email)
    await assert_task_scheduled(docket, "send_email", key="e-1")
    await assert_task_scheduled(docket, send_email, args=("a@example.com",))
    await assert_task_scheduled(docket, send_email, kwargs={"subject": "welcome"})
    await assert_task_scheduled(docket, send_sms, args=("+4412345",))  # under its other name
    await assert_task_not_scheduled(docket, send_email, args=("b@example.com",))
    await assert_task_not_scheduled(docket, send_email, kwargs={"subject": "bye"})
    await assert_task_not_scheduled(docket, send_email, key="e-2")

    # pydocket's words, so a test that matches on them passes on strew too.
    with pytest.raises(
        AssertionError,
        match=r"Task send_email not found with function=send_email, key='e-2'\n\n"
        r"Scheduled tasks:\n(.|\n)*  - send_email\(args=\('a@example.com',\), .*key='e-1'\)",
    ):
        await assert_task_scheduled(docket, send_email, key="e-2")
    with pytest.raises(
        AssertionError,
        match=r"Task send_email found but should not be scheduled\n"
        r"Found: send_email\(args=\('a@example.com',\), kwargs=\{'subject': 'welcome'\}, "
        r"key='e-1'\)",
    ):
        await assert_task_not_scheduled(docket, send_email)
    await docket.clear()
    with pytest.raises(
        AssertionError, match="Task send_email not found: no tasks scheduled on docket"
    ):
        await assert_task_scheduled(docket, send_email)


async def test_assert_task_count_and_no_tasks_see_every_scheduled_task(docket: Docket) -> None:
    await assert_no_tasks(docket)
    await assert_task_count(docket, count=0)
    soon = datetime.now(UTC) + timedelta(hours=1)
    await docket.add_many(
        [docket.call(send_email, when=soon)(f"u{i}@example.com") for i in range(1_200)]
    )
    await docket.add(send_sms, when=soon)("+4412345")
    await assert_task_count(docket, count=1_201)  # past the 1,000 a snapshot shows
    await assert_task_count(docket, send_email, count=1_200)
    await assert_task_count(docket, "send_sms", count=1)
    with pytest.raises(AssertionError, match=r"Expected 2 tasks for send_sms, found 1"):
        await assert_task_count(docket, send_sms, count=2)
    with pytest.raises(AssertionError, match=r"Expected 3 all tasks, found 1201"):
        await assert_task_count(docket, count=3)
    with pytest.raises(
        AssertionError,
        match=r"Expected no tasks, found 1201 task\(s\) scheduled\n\nScheduled tasks:(.|\n)*"
        r"\.\.\. and 1,181 more",
    ):
        await assert_no_tasks(docket)
    with pytest.raises(ValueError, match="count must be a non-negative integer, got -1"):
        await assert_task_count(docket, count=-1)
    with pytest.raises(TypeError, match="function must be a task function or its name"):
        await assert_task_scheduled(docket, 42)  # type: ignore[arg-type]
    await docket.clear()
    await assert_no_tasks(docket)
