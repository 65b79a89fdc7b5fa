"""strew under a Redis ACL user that may run exactly the commands docs/security.md lists, on
keys ``strew:*`` and channels ``strew:*``: producing (add, replace, cancel, an atomic Agenda
scatter), a worker draining, strikes (held and restored), results and progress, and the CLI
(``strew snapshot`` in a process of its own). A command strew starts needing later fails here
(NOPERM, a `StoreAuthError`) until `ACL_COMMANDS` and the doc's list name it; a test checks
that the doc lists exactly `ACL_COMMANDS`.

The list was measured by running this workload as a user allowed everything and reading the
server's ``INFO commandstats`` (commands run inside strew's Lua scripts count there too),
then taking each command away in turn: the workload needs 39 of them (``zpopmin``: a
watcher handing the watch on, docs/workers.md; ``hkeys``, ``persist``, ``lpop``: an atomic
scatter's commit and merge); ``lindex`` (a merge of more than one step), ``config|get`` (the
eviction check, which logs and carries on without it), ``script|load`` (needed only where the
server has not cached the scripts yet) and the three below are kept for the reasons given.
``hello`` and ``auth`` are not listed: Redis lets every user run them.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from strew import Agenda, Docket, Progress, StoreAuthError, Worker
from strew.task.clock import utc_now
from strew.task.execution import Disposition
from strew.testing import RedisServer

DOC = Path(__file__).parents[2] / "docs" / "security.md"
STREW = Path(sys.executable).parent / "strew"
PASSWORD = "acl-test-password"

ACL_COMMANDS = (
    "config|get",
    "del",
    "evalsha",
    "exists",
    "get",
    "hdel",
    "hget",
    "hgetall",
    "hincrby",
    "hkeys",
    "hlen",
    "hmget",
    "hrandfield",
    "hset",
    "hsetnx",
    "incr",
    "incrby",
    "lindex",
    "llen",
    "lpop",
    "lrange",
    "persist",
    "pexpire",
    "ping",
    "pttl",
    "publish",
    "rpush",
    "sadd",
    "scan",
    "script|load",
    "set",
    "smembers",
    "srem",
    "subscribe",
    "time",
    "unlink",
    "zadd",
    "zcard",
    "zcount",
    "zmscore",
    "zpopmin",
    "zrange",
    "zrangebyscore",
    "zrank",
    "zrem",
    "zremrangebyrank",
    "zremrangebyscore",
    "zscore",
)
"""Every command strew runs, as ACL rules spell them (``+name``); docs/security.md repeats it.
Five the workload below cannot reach cheaply were added from reading the code: ``ping``
(redis-py's health check of an idle connection, and of a worker's subscription), ``pttl``
(respread_batch.lua, a catch-up after an outage), ``hrandfield`` (an earlier version's
count_functions.lua sampled with it: kept for a fleet mid-upgrade), ``zrank`` (admit.lua: a
task's place among those waiting for a concurrency slot) and ``zremrangebyrank``
(record_lateness.lua trims the punctuality series a worker's heartbeat adds to every 10 s)."""


def acl_rules(commands: tuple[str, ...] = ACL_COMMANDS) -> list[str]:
    return ["on", f">{PASSWORD}", "resetkeys", "~strew:*", "resetchannels", "&strew:*",
            "-@all", *(f"+{name}" for name in commands)]  # fmt: skip


@pytest.fixture
def server() -> Iterator[RedisServer]:
    server = RedisServer(appendonly=False)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


async def admin(server: RedisServer, *command: str) -> object:
    client = aioredis.Redis.from_url(server.url)
    try:
        return await client.execute_command(*command)  # type: ignore[no-untyped-call]
    finally:
        await client.aclose()


def user_url(server: RedisServer, user: str) -> str:
    return f"redis://{user}:{PASSWORD}@127.0.0.1:{server.port}/0"


async def double(n: int) -> int:
    return 2 * n


async def broken() -> None:
    raise ValueError("recorded as a failure")


async def reporting(progress: Progress = Progress()) -> str:
    await progress.set_total(2)
    await progress.increment()
    await progress.set_message("half way")
    await progress.increment()
    return "reported"


async def paused(n: int) -> int:
    return n


async def run_cli(*args: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREW_")}
    process = await asyncio.create_subprocess_exec(
        str(STREW),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**env, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def workload(url: str, name: str) -> None:
    """What a deployment does, in one pass: every line of it must work under the user."""
    async with Docket(name, url, execution_ttl=timedelta(minutes=5)) as docket:
        docket.register(double)
        docket.register(reporting)
        docket.register(paused)
        first = await docket.add(double, key="one")(21)
        assert first.disposition is Disposition.SCHEDULED
        again = await docket.add(double, key="one")(0)
        assert again.disposition is Disposition.ALREADY_SCHEDULED
        await docket.replace(double, key="one")(21)
        await docket.add(double, key="gone")(1)
        await docket.cancel("gone")
        report = await docket.add(reporting)()
        many = await docket.add_many([docket.call(double)(n) for n in range(5)])

        agenda = Agenda()
        for n in range(20):
            agenda.add(double)(n)
        scattered = await agenda.scatter(docket, over=timedelta(milliseconds=50))
        assert all(e.disposition is Disposition.SCHEDULED for e in scattered)

        held = await docket.add(paused, key="held")(7)
        await docket.strike(paused)
        await Worker(docket, concurrency=4).run_until_finished()
        assert (await docket.snapshot()).held  # claimed and held by the strike
        code, out = await run_cli("snapshot", "--url", url, "--docket", name)
        assert code == 0, out
        counts = await docket.count_by_function()
        assert counts is not None
        assert await docket.quarantined() == []
        assert await docket.drop_quarantined(["none"]) == 0
        assert await docket.clear_quarantine() == 0
        await docket.add(broken, key="broken")()
        await Worker(docket).run_until_finished()
        assert [f.key for f in await docket.failures()] == ["broken"]
        assert await docket.retry_failed() == {"broken": "retried"}
        await Worker(docket).run_until_finished()
        assert await docket.drop_failed(["broken"]) == 1
        assert await docket.drop_failed() == 0
        await docket.restore(paused)
        await Worker(docket).run_until_finished()

        assert await first.get_result(timeout=5) == 42
        assert await report.get_result(timeout=5) == "reported"
        assert await held.get_result(timeout=5) == 7
        assert [await e.get_result(timeout=5) for e in many] == [0, 2, 4, 6, 8]
        state = await docket.get_execution(report.key)
        assert state is not None
        assert (await docket.snapshot()).total_tasks == 0
        await docket.add(double, when=utc_now() + timedelta(hours=1))(1)
        assert await docket.clear() == 1
        assert await Agenda.cancel(docket, "no-such-scatter") == 0
        await docket.store.destroy()


async def test_strew_runs_under_an_acl_user_with_exactly_the_listed_commands(
    server: RedisServer, docket_name: str
) -> None:
    await admin(server, "ACL", "SETUSER", "strew", *acl_rules())
    await workload(user_url(server, "strew"), docket_name)
    denied = await admin(server, "ACL", "LOG")
    assert denied == [], denied


@pytest.mark.parametrize("missing", ["zadd", "evalsha", "subscribe"])
async def test_a_command_missing_from_the_list_fails_the_workload(
    server: RedisServer, docket_name: str, missing: str
) -> None:
    # The test above would catch a command strew needs that the list lacks: show it does,
    # for a command inside a script, one sent as it is, and a worker's subscription (which
    # stops the worker with the error, not a retry loop).
    without = tuple(name for name in ACL_COMMANDS if name != missing)
    await admin(server, "ACL", "SETUSER", "short", *acl_rules(without))
    with pytest.raises(StoreAuthError, match="retrying will not help"):
        await workload(user_url(server, "short"), docket_name)


def test_docs_security_lists_exactly_these_commands() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- acl-commands -->\s*```text\n(.*?)```", text, re.S)
    assert block, "docs/security.md lost its acl-commands block"
    listed = tuple(block.group(1).split())
    assert listed == tuple(f"+{name}" for name in ACL_COMMANDS)
