"""Store URLs: which schemes there are, their shape and query arguments checked without
connecting, and the form safe to show in messages and logs."""

from __future__ import annotations

import inspect
from functools import cache
from urllib.parse import parse_qsl, unquote, urlsplit

from strew.stores.sentinel_url import SENTINEL_ARGUMENTS, SENTINEL_SCHEMES, parse_sentinel_url

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
"""A Redis Cluster, reached through any one of its nodes (``redis+cluster://host:port``)."""
REDIS_SCHEMES = ("redis", "rediss", "unix", *CLUSTER_SCHEMES, *SENTINEL_SCHEMES)
SCHEMES = (*REDIS_SCHEMES, "memory")


SECRET_ARGUMENTS = frozenset({"password", "ssl_password", "sentinel_password"})
"""Query arguments whose value is a secret (redis-py takes ``?password=`` as the password;
a Sentinel URL's ``?sentinel_password=`` is the sentinels')."""


def masked(url: str) -> str:
    """``url`` with any user name and password replaced by ``***``, and the value of any
    ``password``, ``ssl_password`` or ``sentinel_password`` query argument too, for
    messages and logs."""
    scheme, sep, rest = url.partition("://")
    rest, hash_, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    pairs = []
    for pair in query.split("&") if query else []:
        name, equals, _value = pair.partition("=")
        # redis-py decodes the name before it looks at it (pass%77ord is password).
        secret = unquote(name.replace("+", " ")).strip().lower() in SECRET_ARGUMENTS
        pairs.append(f"{name}=***" if secret and equals else pair)
    fragment = "***" if fragment else ""
    return f"{scheme}{sep}{authority}{slash}{tail}{question}{'&'.join(pairs)}{hash_}{fragment}"


# Query arguments a user may give in a Redis URL: redis-py passes every one on to the
# connection (or to the cluster client), and one it does not know fails only on first use,
# with "TypeError: ... unexpected keyword argument". Kept to the ones whose value is text;
# those strew sets itself (decode_responses, encoding, encoding_errors: strew reads bytes)
# are refused. Intersected below with what the installed redis-py takes.
_COMMON_ARGUMENTS = (
    "db",
    "username",
    "password",
    "client_name",
    "lib_name",
    "lib_version",
    "socket_timeout",
    "socket_connect_timeout",
    "socket_read_size",
    "retry_on_timeout",
    "retry_on_error",
    "health_check_interval",
    "max_connections",
    "protocol",
    "timeout",
)
_TCP_ARGUMENTS = ("socket_keepalive",)
TLS_ARGUMENTS = (
    "ssl_ca_certs",
    "ssl_ca_path",
    "ssl_ca_data",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_password",
    "ssl_cert_reqs",
    "ssl_check_hostname",
    "ssl_min_version",
    "ssl_ciphers",
    "ssl_include_verify_flags",
    "ssl_exclude_verify_flags",
)
_SET_BY_STREW = ("decode_responses", "encoding", "encoding_errors")


def _parameters(*classes: type) -> set[str]:
    names: set[str] = set()
    for cls in classes:
        for klass in cls.__mro__:
            init = vars(klass).get("__init__")
            if init is not None:
                names.update(inspect.signature(init).parameters)
    return names


@cache
def query_arguments(scheme: str) -> frozenset[str]:
    """The query arguments a URL of ``scheme`` may carry: those strew lets a user set that
    the installed redis-py takes for that kind of connection."""
    from redis.asyncio.cluster import RedisCluster
    from redis.asyncio.connection import (
        BlockingConnectionPool,
        Connection,
        SSLConnection,
        UnixDomainSocketConnection,
    )

    tls = scheme.startswith("rediss")
    wanted = set(_COMMON_ARGUMENTS) | (set(TLS_ARGUMENTS) if tls else set())
    if scheme in SENTINEL_SCHEMES:
        # The master's connections, from a pool that asks the sentinels where the master is;
        # the database and the master's credentials are spelled elsewhere in the URL.
        connection = SSLConnection if tls else Connection
        taken = _parameters(connection, BlockingConnectionPool) - {"db", "username", "password"}
        wanted |= set(_TCP_ARGUMENTS) | set(SENTINEL_ARGUMENTS)
        taken |= set(SENTINEL_ARGUMENTS)
    elif scheme in CLUSTER_SCHEMES:
        taken = _parameters(RedisCluster) | {"db"}  # only 0, checked apart
        wanted |= set(_TCP_ARGUMENTS)
    elif scheme == "unix":
        taken = _parameters(UnixDomainSocketConnection, BlockingConnectionPool)
    else:
        connection = SSLConnection if tls else Connection
        taken = _parameters(connection, BlockingConnectionPool)
        wanted |= set(_TCP_ARGUMENTS)
    return frozenset(wanted & taken)


def _check_query(scheme: str, query: str, shown: str) -> None:
    known = query_arguments(scheme)
    for raw, _value in parse_qsl(query, keep_blank_values=True):
        name = raw
        if name in known:
            continue
        if name in _SET_BY_STREW:
            why = "strew sets it itself (it reads replies as bytes)"
        elif name in TLS_ARGUMENTS:
            tls_scheme = "rediss+sentinel" if scheme in SENTINEL_SCHEMES else "rediss"
            why = f"TLS arguments need a {tls_scheme}:// URL"
        else:
            why = "redis-py would refuse it on first use"
        raise ValueError(
            f"url has an unknown query argument {name!r}: {why}. Known for {scheme}://: "
            f"{', '.join(sorted(known))}; got {shown!r}"
        )


def validate_url(url: object) -> str:
    """Check a store URL's shape without connecting; raise naming it if it is wrong.

    Messages show the URL with any password masked.
    """
    if not isinstance(url, str):
        raise TypeError(f"url must be a string such as 'redis://localhost:6379/0', got {url!r}")
    shown = masked(url)
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in SCHEMES:
        raise ValueError(
            f"url must start with one of {', '.join(s + '://' for s in SCHEMES)}, got {shown!r}"
        )
    if scheme in SENTINEL_SCHEMES:
        sentinel = parse_sentinel_url(url, shown)
        if sentinel.options:
            _check_query(scheme, sentinel.options, shown)
        return url
    try:
        parts = urlsplit(url)
        if scheme in ("redis", "rediss", *CLUSTER_SCHEMES):
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as error:
        raise ValueError(f"url is malformed: {shown!r} ({masked(str(error))})") from None
    if scheme in ("redis", "rediss", *CLUSTER_SCHEMES):
        if not parts.hostname:
            raise ValueError(f"url has no host: {shown!r}")
        if parts.path not in ("", "/") and not parts.path.lstrip("/").isdigit():
            raise ValueError(f"url must end in a database number such as /0, got {shown!r}")
    if scheme in CLUSTER_SCHEMES and parts.path.lstrip("/") not in ("", "0"):
        raise ValueError(f"url: a Redis Cluster has only database 0, got {shown!r}")
    if scheme == "unix" and not parts.path:
        raise ValueError(f"url has no socket path: {shown!r}")
    if scheme in REDIS_SCHEMES and parts.query:
        _check_query(scheme, parts.query, shown)
    return url
