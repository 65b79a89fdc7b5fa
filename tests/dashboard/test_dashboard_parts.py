"""The dashboard's parts on their own: the shared reads, the token that guards a standalone
dashboard, the arguments `strew_dashboard` checks, the quarantine's drop, and the
``strew dashboard`` command's refusals and its real server."""

from __future__ import annotations

import asyncio
import base64
import re
from datetime import timedelta

import httpx
import pytest

from strew import Docket
from strew.cli.dashboard import is_loopback
from strew.dashboard import strew_dashboard
from strew.dashboard.reads import MAX_VIEWS, SharedReads
from strew.dashboard.safety import TokenAuth, same_origin
from strew.stores.records import Entry, Quarantine
from strew.testing import free_port

from ..cli.test_cli import ENV, command, flat, strew
from ..helpers import wait_until
from .serving import served

TOKEN = "correct-horse-battery-staple"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_viewers_within_one_interval_share_one_read_and_the_next_interval_reads_again() -> (
    None
):
    clock = Clock()
    reads = SharedReads(2.0, clock)
    calls: list[int] = []
    gate = asyncio.Event()

    async def read() -> int:
        calls.append(1)
        await gate.wait()
        return len(calls)

    waiting = [asyncio.create_task(reads.read("running", read)) for _ in range(10)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiting) == [1] * 10
    clock.now += 1.9
    assert await reads.read("running", read) == 1
    clock.now += 0.1
    assert await reads.read("running", read) == 2
    assert await reads.read("workers", read) == 3
    reads.forget()
    assert await reads.read("running", read) == 4


async def test_a_failed_read_is_not_kept_and_the_kept_reads_are_bounded() -> None:
    reads = SharedReads(60.0, Clock())
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("the store is away")
        return "back"

    with pytest.raises(ConnectionError):
        await reads.read("load", flaky)
    assert await reads.read("load", flaky) == "back"

    async def constant() -> int:
        return 1

    for i in range(MAX_VIEWS + 10):
        await reads.read(f"task:{i}", constant)
    assert len(reads._reads) == MAX_VIEWS


def test_shared_reads_refuse_an_interval_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="interval must be a positive number of seconds, got 0"):
        SharedReads(0)


async def test_a_dashboard_refuses_bad_arguments_naming_them(docket: Docket) -> None:
    with pytest.raises(TypeError, match="docket must be a strew Docket, got 'strew'"):
        strew_dashboard("strew")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="read_only must be True or False, got 'no'"):
        strew_dashboard(docket, read_only="no")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"refresh must be at least half a second, got 0\.1"):
        strew_dashboard(docket, refresh=0.1)
    with pytest.raises(ValueError, match="refresh must be at least half a second"):
        strew_dashboard(docket, refresh=timedelta(milliseconds=10))


async def test_the_token_lets_through_basic_auth_and_bearer_and_nothing_else(
    docket: Docket,
) -> None:
    guarded = TokenAuth(strew_dashboard(docket), TOKEN)
    basic = base64.b64encode(f"anyone:{TOKEN}".encode()).decode()
    async with served(guarded) as base, httpx.AsyncClient(base_url=base) as client:
        refused = await client.get("/workers")
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Basic")
        assert (await client.get("/workers", auth=("x", TOKEN))).status_code == 200
        ok = await client.get("/workers", headers={"authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200
        for header in (
            "Bearer wrong",
            f"Basic {basic[:-4]}",
            "Basic !!!",
            f"Digest {TOKEN}",
            f"Basic {base64.b64encode(TOKEN.encode()).decode()}",
        ):
            answer = await client.get("/static/dashboard.css", headers={"authorization": header})
            assert answer.status_code == 401, header
        assert basic


async def nothing(scope: object, receive: object, send: object) -> None:
    """An ASGI app that is never called."""


def test_a_token_shorter_than_sixteen_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="token must be at least 16 characters"):
        TokenAuth(nothing, "short")


def test_loopback_hosts_are_told_from_the_others() -> None:
    assert all(map(is_loopback, ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "example.com", ""]))


def test_an_origin_from_another_host_is_not_this_server() -> None:
    assert same_origin(None, "h:1")
    assert same_origin("http://h:1", "h:1")
    assert not same_origin("http://evil:1", "h:1")
    assert not same_origin("null", "h:1")


async def test_a_quarantined_task_is_listed_and_dropped_from_the_page(docket: Docket) -> None:
    now = await docket.store.now()
    await docket.store.schedule([Entry("bad-1", now - 1, b"\x80\x05garbage")], replace=False)
    [claim] = (await docket.store.claim("w", 1, 60_000_000, 0)).claims
    await docket.store.quarantine([Quarantine("bad-1", claim.token, "unreadable <b>payload</b>")])
    async with served(strew_dashboard(docket)) as base, httpx.AsyncClient(base_url=base) as client:
        page = await client.get("/held")
        assert "bad-1" in page.text and "unreadable &lt;b&gt;payload&lt;/b&gt;" in page.text
        asked = await client.get("/quarantine/drop", params={"key": "bad-1"})
        assert "Delete quarantined task bad-1 for good?" in asked.text
        token = re.search(r'name="csrf" value="([^"]+)"', asked.text)
        assert token
        done = await client.post("/quarantine/drop", data={"key": "bad-1", "csrf": token[1]})
        assert done.status_code == 303 and done.headers["location"] == "/held"
    assert await docket.quarantined() == []


async def test_strew_dashboard_will_not_listen_beyond_loopback_without_a_token() -> None:
    result = await strew("dashboard", "--url", "memory://", "--host", "0.0.0.0")
    assert result.code == 2
    assert "--host 0.0.0.0 is not a loopback address" in flat(result.err)
    short = await strew("dashboard", "--url", "memory://", "--token", "short")
    assert short.code == 2 and "--token: token must be at least 16 characters" in flat(short.err)


@pytest.mark.slow
async def test_strew_dashboard_serves_the_pages_and_asks_for_its_token() -> None:
    port = free_port()
    env = {**ENV, "STREW_TOKEN": TOKEN, "DOCKET_NAME": "dashboard-cli"}
    process = await asyncio.create_subprocess_exec(
        *command(),
        *("dashboard", "--url", "memory://", "--port", str(port), "--read-only"),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await check_the_served_dashboard(base)
    finally:
        if process.returncode is None:
            process.terminate()
        # uvicorn shuts down cleanly, then ends by the signal it was sent (as systemd expects).
        assert await asyncio.wait_for(process.wait(), 10) in (0, -15)


async def check_the_served_dashboard(base: str) -> None:
    async with httpx.AsyncClient(base_url=base) as client:

        async def answers() -> bool:
            try:
                await client.get("/")
            except httpx.TransportError:
                return False
            return True

        await wait_until(answers, timeout=20, message="strew dashboard to listen")
        assert (await client.get("/")).status_code == 401
        page = await client.get("/", auth=("me", TOKEN))
        assert page.status_code == 200 and "dashboard-cli" in page.text and "read-only" in page.text
        assert (await client.get("/cancel?key=k", auth=("me", TOKEN))).status_code == 404


async def test_a_store_that_does_not_answer_gives_a_503_page_not_a_crash(docket_name: str) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    async with (
        Docket(docket_name, nowhere) as unreachable,
        served(strew_dashboard(unreachable)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        for path in ("/", "/running", "/live/workers", "/tasks/some-key"):
            answer = await client.get(path)
            assert answer.status_code == 503, path
            assert "The store did not answer" in answer.text
