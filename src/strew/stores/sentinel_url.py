"""Redis Sentinel URLs, in pydocket's spelling (the ``redis-sentinel-url`` convention)::

    redis+sentinel://[user:password@]host[:port][,host[:port]...]/service_name[/db][?options]
    rediss+sentinel://...      the same, TLS to the master and to the sentinels

The hosts are the Sentinel daemons (port 26379 when none is given), ``service_name`` the
name they monitor the master under (``sentinel monitor NAME ...``). The user name and
password before the ``@`` are the master's; ``?sentinel_username=`` and
``?sentinel_password=`` authenticate to the sentinels, which often have no password or
another one. Other query options are redis-py connection options for the master (on
``rediss+sentinel`` the ``ssl_*`` ones apply to the sentinels too, so one private CA covers
both). redis-py has no URL form for Sentinel of its own (it takes ``Sentinel([(host,
port)])`` and ``master_for(name)``); this one maps onto those two calls.

Parsed here without connecting, and without importing redis-py, so `validate_url` can
refuse a bad URL with a message that names it (masked).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")
"""A master found through Redis Sentinel (``redis+sentinel://host:26379/mymaster/0``)."""
DEFAULT_SENTINEL_PORT = 26379
SENTINEL_ARGUMENTS = ("sentinel_username", "sentinel_password")
"""Query arguments for the sentinels' own authentication, not the master's."""
GOVERNED = {
    "db": "the database comes from the path (/service_name/db)",
    "username": "the master's user name goes before the @ (user:password@host)",
    "password": "the master's password goes before the @ (user:password@host); "
    "?sentinel_password= is the sentinels' password",
}
"""Query arguments a Sentinel URL spells elsewhere. pydocket drops them without a word;
strew refuses them, because a password that is silently ignored is a confusing outage."""


@dataclass(frozen=True)
class SentinelURL:
    """A ``redis+sentinel://`` URL taken apart: who to ask, for what, and how to connect."""

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int
    tls: bool
    username: str | None
    password: str | None
    sentinel_username: str | None
    sentinel_password: str | None
    options: str
    """The remaining query arguments (redis-py connection options), as a query string."""


def split_authority(url: str) -> tuple[str, str, str]:
    """``(scheme, authority, rest)`` of ``url``, the authority cut by hand: a list of hosts
    with a bracketed IPv6 address after the first is more than `urlsplit` accepts."""
    scheme, _, remainder = url.partition("://")
    end = min((i for i in (remainder.find(c) for c in "/?#") if i != -1), default=len(remainder))
    return scheme, remainder[:end], remainder[end:]


def parse_sentinel_url(url: str, shown: str) -> SentinelURL:
    """Take ``url`` apart; raise ValueError naming ``shown`` (the URL, masked) if it is not
    a Sentinel URL strew can use."""
    scheme, authority, rest = split_authority(url)
    userinfo, at, hosts = authority.rpartition("@")
    sentinels: list[tuple[str, int]] = []
    for member in hosts.split(","):
        member = member.strip()
        if not member:
            continue  # "a:1,,b:2" and a trailing comma, as pydocket reads them
        try:
            parts = urlsplit(f"//{member}")
            port = parts.port
        except ValueError:
            raise ValueError(f"url has a malformed sentinel {member!r}: {shown!r}") from None
        if not parts.hostname:
            raise ValueError(f"url has a sentinel with no host ({member!r}): {shown!r}")
        sentinels.append((parts.hostname, DEFAULT_SENTINEL_PORT if port is None else port))
    if not sentinels:
        raise ValueError(f"url names no sentinel host: {shown!r}")
    try:
        tail = urlsplit(f"{scheme}://placeholder{rest}")
    except ValueError:
        raise ValueError(f"url is malformed: {shown!r}") from None
    segments = [segment for segment in tail.path.split("/") if segment]
    if not segments:
        raise ValueError(
            "url needs the service name the sentinels monitor, as in "
            f"redis+sentinel://127.0.0.1:26379/mymaster/0, got {shown!r}"
        )
    if len(segments) > 2 or (len(segments) == 2 and not segments[1].isdigit()):
        raise ValueError(
            f"url must end in /service_name or /service_name/db (db a number), got {shown!r}"
        )
    username, password = _credentials(userinfo if at else "")
    kept: list[tuple[str, str]] = []
    sentinel_auth: dict[str, str] = {}
    for name, value in parse_qsl(tail.query, keep_blank_values=True):
        if name in GOVERNED:
            raise ValueError(f"url has a query argument {name!r}: {GOVERNED[name]}; got {shown!r}")
        if name in SENTINEL_ARGUMENTS:
            sentinel_auth[name] = value
        else:
            kept.append((name, value))
    return SentinelURL(
        sentinels=tuple(sentinels),
        service_name=unquote(segments[0]),
        db=int(segments[1]) if len(segments) == 2 else 0,
        tls=scheme == "rediss+sentinel",
        username=username,
        password=password,
        sentinel_username=sentinel_auth.get("sentinel_username") or None,
        sentinel_password=sentinel_auth.get("sentinel_password") or None,
        options=urlencode(kept),
    )


def _credentials(userinfo: str) -> tuple[str | None, str | None]:
    """User name and password of ``user:password``, ``:password`` or ``user`` (None when
    empty), percent-decoded as redis-py decodes a ``redis://`` URL's."""
    if not userinfo:
        return None, None
    user, colon, password = userinfo.partition(":")
    return unquote(user) or None, (unquote(password) or None) if colon else None
