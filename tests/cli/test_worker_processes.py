"""``strew worker --processes N``: real worker processes, forked by one real command, against
the real Redis."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import uuid
from collections import Counter
from pathlib import Path

import pytest
import typer

from strew import Docket
from strew.cli.loops import LoopKind, loop_factory
from strew.cli.worker_processes import child_name, child_port, processes_count

from ..helpers import wait_until
from .test_cli import lines_of, start_worker, strew

TASKS = """
import asyncio
import os
import time

async def note(path: str, key: str) -> None:
    with open(path, "a") as file:
        file.write(f"{key} {os.getpid()}\\n")

async def meet(path: str) -> None:
    # Returns only once two runs are inside it at once: two processes (each of concurrency
    # 1) are running side by side.
    with open(path, "a") as file:
        file.write(f"{os.getpid()}\\n")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with open(path) as file:
            if len(file.read().split()) >= 2:
                return
        await asyncio.sleep(0.01)
    raise RuntimeError("the other process never came")

tasks = [note, meet]
"""


async def note(path: str, key: str) -> None:
    """Stands in for the task of the same name in the workers' module."""


async def meet(path: str) -> None:
    """Stands in for the task of the same name in the workers' module."""


@pytest.fixture
def module(tmp_path: Path) -> str:
    name = f"strew_processes_tasks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(TASKS)
    return name


def children_of(log: Path) -> dict[int, int]:
    """Worker process number -> pid, from the parent's line naming them."""
    found = re.search(r"started \d+ worker processes: (.*)$", log.read_text(), re.MULTILINE)
    if not found:
        return {}
    return {
        int(index): int(pid) for index, pid in re.findall(r"(\d+) \(pid (\d+)\)", found.group(1))
    }


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie its (new) parent has not reaped yet."""
    if not alive(pid):
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


async def start(
    module: str, docket: Docket, url: str, tmp_path: Path, *extra: str
) -> tuple[asyncio.subprocess.Process, Path]:
    log = tmp_path / "worker.log"
    process = await start_worker(
        "--tasks",
        f"{module}:tasks",
        "--url",
        url,
        "--docket",
        docket.name,
        "--processes",
        "2",
        "--concurrency",
        "1",
        "--shutdown-grace",
        "5s",
        "--logging-level",
        "info",
        *extra,
        cwd=tmp_path,
        log=log,
    )
    await wait_until(lambda: len(children_of(log)) == 2, timeout=20, message="two children")
    return process, log


async def test_two_processes_run_tasks_side_by_side_once_each_and_all_stop_on_sigterm(
    redis_docket: Docket, redis_url: str, tmp_path: Path, module: str
) -> None:
    redis_docket.register(note)
    redis_docket.register(meet)
    process, log = await start(module, redis_docket, redis_url, tmp_path, "--name", "pair")
    children = children_of(log)
    met = tmp_path / "met.txt"
    out = tmp_path / "out.txt"
    await redis_docket.add(meet, key="meet-1")(str(met))
    await redis_docket.add(meet, key="meet-2")(str(met))
    keys = [f"task-{i}" for i in range(200)]
    await redis_docket.add_many([redis_docket.call(note, key=key)(str(out), key) for key in keys])
    try:
        await wait_until(lambda: len(lines_of(out)) >= 200, timeout=30, message="200 tasks ran")
        await wait_until(lambda: log.read_text().count("meet finished") == 2, timeout=10)
    finally:
        process.send_signal(signal.SIGTERM)
        code = await process.wait()
    text = log.read_text()
    assert code == 0, text
    # Each child, and only they, ran tasks: the two meetings were inside `meet` at once.
    assert set(map(int, lines_of(met))) == set(children.values()), text
    ran = Counter(line.split()[0] for line in lines_of(out))
    assert ran == Counter(keys)  # none lost, none twice
    for pid in children.values():
        assert gone(pid)
    # Each says which process it is, under a name of its own.
    assert re.search(r"strew\.worker \[process 0\]: worker pair#0 ", text), text
    assert re.search(r"strew\.worker \[process 1\]: worker pair#1 ", text), text
    snapshot = await redis_docket.snapshot()
    assert (snapshot.total_tasks, snapshot.workers) == (0, [])


async def test_a_process_that_dies_stops_the_others_and_the_command_exits_1(
    redis_docket: Docket, redis_url: str, tmp_path: Path, module: str
) -> None:
    process, log = await start(module, redis_docket, redis_url, tmp_path)
    children = children_of(log)
    await wait_until(lambda: log.read_text().count("tasks: ") == 2, timeout=20)
    os.kill(children[1], signal.SIGKILL)
    code = await process.wait()
    text = log.read_text()
    assert code == 1, text
    assert f"worker process 1 (pid {children[1]}) was killed by SIGKILL; stopping" in text
    assert f"worker process 0 (pid {children[0]}) exited" in text
    assert gone(children[0])


async def test_processes_stop_when_their_parent_is_killed(
    redis_docket: Docket, redis_url: str, tmp_path: Path, module: str
) -> None:
    process, log = await start(module, redis_docket, redis_url, tmp_path)
    children = children_of(log)
    process.kill()
    await process.wait()
    # Orphans, reaped by init: they log why they stop, then are gone.
    await wait_until(
        lambda: log.read_text().count("its parent process is gone; stopping") == 2, timeout=20
    )
    await wait_until(lambda: all(gone(pid) for pid in children.values()), timeout=20)


async def test_until_finished_each_process_exits_0_once_the_docket_is_empty(
    redis_docket: Docket, redis_url: str, tmp_path: Path, module: str
) -> None:
    redis_docket.register(note)
    out = tmp_path / "out.txt"
    keys = [f"task-{i}" for i in range(50)]
    await redis_docket.add_many([redis_docket.call(note, key=key)(str(out), key) for key in keys])
    result = await strew(
        "worker",
        "--tasks",
        f"{module}:tasks",
        "--url",
        redis_url,
        "--docket",
        redis_docket.name,
        "--processes",
        "2",
        "--until-finished",
        "--logging-format",
        "json",
        cwd=tmp_path,
    )
    assert result.code == 0, result.err
    assert Counter(line.split()[0] for line in lines_of(out)) == Counter(keys)
    assert '"worker_process": 0' in result.err and '"worker_process": 1' in result.err


async def test_a_bad_processes_value_is_refused_naming_it() -> None:
    result = await strew("worker", "--processes", "many")
    assert result.code == 2
    assert "must be a whole number of 0 or more, or 'auto', got 'many'" in result.err


def test_auto_and_0_mean_one_process_per_cpu() -> None:
    cpus = os.cpu_count() or 1
    assert (processes_count("auto"), processes_count("AUTO"), processes_count("0")) == (
        cpus,
        cpus,
        cpus,
    )
    assert processes_count("3") == 3
    with pytest.raises(typer.BadParameter, match="got '-1'"):
        processes_count("-1")


def test_each_process_gets_a_name_and_ports_of_its_own() -> None:
    assert (child_name("w", 2), child_name(None, 2)) == ("w#2", None)
    assert (child_port(9000, 2), child_port(0, 2), child_port(None, 2)) == (9002, 0, None)


# -- --loop ------------------------------------------------------------------------------------


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
async def test_the_worker_runs_its_tasks_on_the_event_loop_asked_for(
    redis_docket: Docket, redis_url: str, tmp_path: Path, module: str, loop: str
) -> None:
    redis_docket.register(note)
    out = tmp_path / "out.txt"
    await redis_docket.add(note, key="one")(str(out), "one")
    result = await strew(
        "worker",
        "--tasks",
        f"{module}:tasks",
        "--url",
        redis_url,
        "--docket",
        redis_docket.name,
        "--until-finished",
        "--loop",
        loop,
        "--logging-level",
        "debug",
        cwd=tmp_path,
    )
    assert result.code == 0, result.err
    assert [line.split()[0] for line in lines_of(out)] == ["one"]
    assert f"event loop: {loop}" in result.err


def test_auto_takes_uvloop_when_it_is_installed_and_asyncio_never_does() -> None:
    factory, name = loop_factory(LoopKind.AUTO)
    assert factory is not None and name.startswith("uvloop ")
    loop = factory()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
    assert loop_factory(LoopKind.ASYNCIO) == (None, "asyncio")
