"""A docket reaches Redis over a Unix socket (``unix://``) as well as TCP."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from strew import Docket, Worker

from ..helpers import wait_until


@pytest.fixture
def redis_socket() -> Iterator[Path]:
    binary = shutil.which("redis-server")
    assert binary, "redis-server is not installed (scripts/test installs it)"
    directory = Path(tempfile.mkdtemp(prefix="strew-sock-"))
    socket = directory / "redis.sock"
    process = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(socket), "--save", "", "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield socket
    finally:
        process.kill()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


async def test_tasks_flow_through_a_unix_socket(redis_socket: Path, docket_name: str) -> None:
    await wait_until(redis_socket.exists, message="the socket to appear")
    ran: list[int] = []

    async def work(n: int) -> None:
        ran.append(n)

    async with Docket(docket_name, url=f"unix://{redis_socket}") as docket:
        await docket.add_many([docket.call(work)(n) for n in range(5)])
        async with Worker(docket) as worker:
            await worker.run_until_finished()
        assert sorted(ran) == [0, 1, 2, 3, 4]
        await docket.store.destroy()
