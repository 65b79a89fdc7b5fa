"""Redis Sentinel URLs: their shape checked without connecting, and what a store says when
no sentinel answers or none knows the service. The store contract itself runs through a
sentinel too (the ``sentinel`` mark, tests/conftest.py); a failover under a running worker
is in tests/resilience/test_sentinel_failover.py."""

from __future__ import annotations

import pytest

from strew import Docket, StoreUnavailable
from strew.stores import masked, open_store, validate_url
from strew.stores.sentinel_url import parse_sentinel_url
from strew.testing import free_port

from ..sentinels import SERVICE, RedisSentinelSet


def test_pydockets_spelling_is_taken_apart_with_the_default_sentinel_port() -> None:
    url = (
        "rediss+sentinel://app:s%40cret@10.0.0.1,10.0.0.2:26380,[::1]:5000/mymaster/3"
        "?sentinel_username=watch&sentinel_password=eye&socket_timeout=2"
    )
    parsed = parse_sentinel_url(validate_url(url), masked(url))
    assert parsed.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 5000))
    assert (parsed.service_name, parsed.db, parsed.tls) == ("mymaster", 3, True)
    assert (parsed.username, parsed.password) == ("app", "s@cret")
    assert (parsed.sentinel_username, parsed.sentinel_password) == ("watch", "eye")
    assert parsed.options == "socket_timeout=2"


def test_the_database_defaults_to_zero_and_a_password_alone_is_the_masters() -> None:
    parsed = parse_sentinel_url("redis+sentinel://:pw@h:1/svc", "shown")
    assert (parsed.db, parsed.username, parsed.password, parsed.tls) == (0, None, "pw", False)


def test_both_passwords_are_masked_in_what_strew_shows() -> None:
    shown = masked("redis+sentinel://u:master-pw@a:1,b:2/svc/0?sentinel_password=watch-pw")
    assert "master-pw" not in shown and "watch-pw" not in shown
    assert shown == "redis+sentinel://***@a:1,b:2/svc/0?sentinel_password=***"


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("redis+sentinel://127.0.0.1:26379", "service name"),
        ("redis+sentinel://127.0.0.1:26379/", "service name"),
        ("redis+sentinel:///mymaster", "no sentinel host"),
        ("redis+sentinel://,/mymaster", "no sentinel host"),
        ("redis+sentinel://127.0.0.1:port/mymaster", "malformed sentinel '127.0.0.1:port'"),
        ("redis+sentinel://a:1,b:99999/mymaster", "malformed sentinel 'b:99999'"),
        ("redis+sentinel://a:1/mymaster/zero", "/service_name/db"),
        ("redis+sentinel://a:1/mymaster/0/extra", "/service_name/db"),
        ("redis+sentinel://a:1/mymaster?db=2", "database comes from the path"),
        ("redis+sentinel://a:1/mymaster?password=pw", "goes before the @"),
        ("redis+sentinel://a:1/mymaster?nonsense=1", "unknown query argument 'nonsense'"),
        ("redis+sentinel://a:1/mymaster?ssl_ca_certs=ca.pem", "need a rediss+sentinel://"),
    ],
)
def test_a_bad_sentinel_url_is_refused_naming_it(url: str, complaint: str) -> None:
    with pytest.raises(ValueError) as raised:
        validate_url(url)
    assert complaint in str(raised.value)
    assert "redis+sentinel://" in str(raised.value)
    assert "pw" not in str(raised.value)


async def test_no_sentinel_answering_is_unavailable_naming_the_url_masked_and_the_step(
    docket_name: str,
) -> None:
    url = f"redis+sentinel://app:sekrit-pw@127.0.0.1:{free_port()}/{SERVICE}/0"
    store = open_store(url, docket_name)
    try:
        with pytest.raises(StoreUnavailable) as raised:
            await store.now()
    finally:
        await store.close()
    message = str(raised.value)
    assert "redis+sentinel://***@127.0.0.1" in message
    assert "read the server clock" in message
    assert "sekrit-pw" not in message and "app" not in message


async def test_a_service_no_sentinel_knows_is_unavailable_naming_it(
    sentinel_set: RedisSentinelSet, docket_name: str
) -> None:
    url = sentinel_set.url().replace(f"/{SERVICE}/", "/nobody-monitors-this/")
    async with Docket(docket_name, url=url) as docket:
        with pytest.raises(StoreUnavailable) as raised:
            await docket.snapshot()
    assert "nobody-monitors-this" in str(raised.value)
    assert "take a snapshot" in str(raised.value)


async def test_a_dead_sentinel_listed_first_is_passed_over(
    sentinel_set: RedisSentinelSet, docket_name: str
) -> None:
    url = sentinel_set.url().replace("://", f"://127.0.0.1:{free_port()},", 1)
    store = open_store(url, docket_name)
    try:
        assert await store.now() > 0
        await store.destroy()
    finally:
        await store.close()
