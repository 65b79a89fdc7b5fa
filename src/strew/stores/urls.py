"""Store URLs: which schemes there are, their shape checked without connecting, and the
form safe to show in messages and logs."""

from __future__ import annotations

from urllib.parse import urlsplit

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")
"""A Redis Cluster, reached through any one of its nodes (``redis+cluster://host:port``)."""
REDIS_SCHEMES = ("redis", "rediss", "unix", *CLUSTER_SCHEMES)
SCHEMES = (*REDIS_SCHEMES, "memory")


def masked(url: str) -> str:
    """``url`` with any user name and password replaced by ``***``, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    return f"{scheme}{sep}{authority}{slash}{tail}"


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
    return url
