"""Secrets and refusals of Redis access:

* a password, in the URL's user part or as ``?password=`` (which redis-py accepts), shows in
  no repr, message or CLI output;
* a wrong password or a missing permission is `StoreAuthError`, whose message says retrying
  will not help, never `StoreUnavailable` (a producer retrying on that would retry forever);
  the CLI ends with that message;
* a URL query argument redis-py would refuse on first use is refused when the Docket is made.

Tests needing a user of their own start a redis-server of their own.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from strew import Docket, StoreAuthError, StoreError, StoreUnavailable
from strew.stores.urls import masked
from strew.testing import RedisServer, free_port

SECRET = "s3cr3t-Pa55"
STREW = Path(sys.executable).parent / "strew"
ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("STREW_")},
    "COLUMNS": "200",
    "NO_COLOR": "1",
}


async def noop() -> None:
    pass


async def run_strew(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(STREW),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=ENV,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.fixture
def server() -> Iterator[RedisServer]:
    """A redis-server with a user ``app`` (password `SECRET`, every command on strew's keys)
    and a user ``weak`` (same password, allowed only PING)."""
    server = RedisServer(appendonly=False)
    server.start()
    try:
        asyncio.run(_users(server))
        yield server
    finally:
        server.cleanup()


async def acl_setuser(client: aioredis.Redis, *rules: str) -> None:
    await client.execute_command("ACL", "SETUSER", *rules)  # type: ignore[no-untyped-call]


async def _users(server: RedisServer) -> None:
    client = aioredis.Redis.from_url(server.url)
    try:
        await acl_setuser(client, "app", "on", f">{SECRET}", "~strew:*", "&strew:*", "+@all")
        await acl_setuser(client, "weak", "on", f">{SECRET}", "+ping")
    finally:
        await client.aclose()


def url_forms(port: int, user: str = "app", password: str = SECRET) -> list[str]:
    return [
        f"redis://{user}:{password}@127.0.0.1:{port}/0",
        f"redis://127.0.0.1:{port}/0?username={user}&password={password}",
        f"redis://127.0.0.1:{port}/0?username={user}&pass%77ord={password}",
    ]


# -- masking -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", url_forms(6379))
def test_masked_hides_a_password_in_either_form(url: str) -> None:
    shown = masked(url)
    assert SECRET not in shown
    assert "127.0.0.1:6379" in shown


def test_masked_hides_an_ssl_key_password_and_keeps_the_rest() -> None:
    url = f"rediss://h:6380/0?ssl_certfile=/c.pem&ssl_password={SECRET}&socket_timeout=1"
    shown = masked(url)
    assert SECRET not in shown
    assert "ssl_certfile=/c.pem" in shown and "socket_timeout=1" in shown


@pytest.mark.parametrize("url", url_forms(6379))
def test_a_dockets_repr_shows_no_password(url: str) -> None:
    assert SECRET not in repr(Docket("secrets", url))


@pytest.mark.parametrize("url", url_forms(free_port()))
async def test_an_unreachable_store_names_no_password(url: str) -> None:
    async with Docket("secrets", url) as docket:
        with pytest.raises(StoreUnavailable) as raised:
            await docket.add(noop)()
    assert SECRET not in str(raised.value)
    assert "127.0.0.1" in str(raised.value)


@pytest.mark.parametrize("form", [0, 1])
async def test_the_cli_shows_no_password(server: RedisServer, form: int) -> None:
    for url, expected in ((url_forms(server.port)[form], 0), (url_forms(free_port())[form], 1)):
        code, out = await run_strew("snapshot", "--url", url, "--docket", "secrets-cli")
        assert code == expected, out
        assert SECRET not in out
        assert "127.0.0.1" in out


# -- refused credentials and permissions ---------------------------------------------------


@pytest.mark.parametrize("form", [0, 1])
async def test_a_wrong_password_is_an_auth_error_that_says_retrying_will_not_help(
    server: RedisServer, form: int
) -> None:
    url = url_forms(server.port, password="wrong-" + SECRET)[form]
    async with Docket("secrets-auth", url) as docket:
        with pytest.raises(StoreAuthError) as raised:
            await docket.add(noop)()
    assert not isinstance(raised.value, StoreUnavailable)
    assert "retrying will not help" in str(raised.value)
    assert SECRET not in str(raised.value)


async def test_a_missing_permission_is_an_auth_error(server: RedisServer) -> None:
    async with Docket("secrets-perm", url_forms(server.port, user="weak")[0]) as docket:
        with pytest.raises(StoreAuthError, match="retrying will not help"):
            await docket.add(noop)()


async def test_a_user_without_the_key_pattern_is_an_auth_error(server: RedisServer) -> None:
    # NOPERM raised inside a Lua script reaches the client as a script error.
    client = aioredis.Redis.from_url(server.url)
    try:
        await acl_setuser(client, "nokeys", "on", f">{SECRET}", "~other:*", "+@all")
    finally:
        await client.aclose()
    async with Docket("secrets-keys", url_forms(server.port, user="nokeys")[0]) as docket:
        with pytest.raises(StoreAuthError):
            await docket.add(noop)()


async def test_the_cli_ends_a_wrong_password_with_its_own_message(server: RedisServer) -> None:
    url = url_forms(server.port, password="wrong")[0]
    code, out = await run_strew("snapshot", "--url", url, "--docket", "secrets-cli")
    assert code == 1
    assert "Error: Redis refused strew's credentials or permissions" in out
    assert "retrying will not help" in out
    assert "Traceback" not in out


# -- URL query arguments ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("redis://127.0.0.1:6379/0?bogus=1", "'bogus'"),
        ("redis://127.0.0.1:6379/0?socket_timeout=1&sockettimeout=2", "'sockettimeout'"),
        ("redis://127.0.0.1:6379/0?ssl_ca_certs=/ca.pem", "'ssl_ca_certs'"),
        ("redis://127.0.0.1:6379/0?decode_responses=true", "'decode_responses'"),
        ("unix:///tmp/redis.sock?socket_keepalive=true", "'socket_keepalive'"),
        ("redis+cluster://127.0.0.1:7000?timeout=3", "'timeout'"),
    ],
)
def test_an_unknown_url_argument_is_refused_when_the_docket_is_made(url: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Docket("secrets-query", url)


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0?socket_timeout=1&health_check_interval=5&client_name=me",
        f"redis://127.0.0.1:6379/0?username=u&password={SECRET}&db=0&protocol=2",
        "rediss://127.0.0.1:6380/0?ssl_ca_certs=/ca.pem&ssl_certfile=/c.pem&ssl_keyfile=/k.pem"
        "&ssl_cert_reqs=required&ssl_check_hostname=true",
        "unix:///tmp/redis.sock?db=1&socket_timeout=2",
        "redis+cluster://127.0.0.1:7000?socket_timeout=1",
    ],
)
def test_the_arguments_redis_py_takes_are_accepted(url: str) -> None:
    Docket("secrets-query", url)


async def test_an_accepted_argument_works(redis_url: str) -> None:
    async with Docket("secrets-query-ok", redis_url + "?socket_timeout=3&client_name=x") as d:
        assert (await d.snapshot()).total_tasks == 0


def test_a_store_error_is_not_an_auth_error() -> None:
    assert not issubclass(StoreError, StoreAuthError)
