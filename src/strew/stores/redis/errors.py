"""How the Redis store turns a redis-py failure into a store error: unreachable
(`StoreUnavailable`, worth retrying), refused credentials or permissions (`StoreAuthError`,
not worth retrying), or any other refusal (`StoreError`). Messages show the URL masked."""

from __future__ import annotations

import re

from redis.exceptions import (
    AuthenticationError,
    AuthenticationWrongNumberOfArgsError,
    ClusterDownError,
    MaxConnectionsError,
    NoPermissionError,
    RedisClusterException,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from strew.stores.records import StoreAuthError, StoreError, StoreUnavailable
from strew.stores.urls import masked

# Errors that mean "the store cannot be reached or cannot answer right now", as opposed to a
# command it refused. A Cluster adds its own: no node serves the slot, a resharding is going on.
UNAVAILABLE = (
    RedisConnectionError,
    RedisTimeoutError,
    OSError,
    ClusterDownError,
    TryAgainError,
    MaxConnectionsError,
)
# Who we are or what we may do, refused. redis-py's AuthenticationError is a ConnectionError,
# so these are told apart first: a producer retrying on StoreUnavailable would retry forever.
AUTH_ERRORS = (AuthenticationError, AuthenticationWrongNumberOfArgsError, NoPermissionError)
_AUTH_REPLY = re.compile(r"\b(NOAUTH|WRONGPASS|NOPERM)\b|user executing the script can't")
"""The same refusals as Redis words them, for a reply that reached us as another type: a
command inside a Lua script that the ACL does not allow comes back as a plain error ("The
user executing the script can't run this command or subcommand"), as does a cluster
client's wrapping of NOPERM."""


_BUSY_REPLY = re.compile(r"^BUSY\b")
"""Redis running a script or function past its busy threshold (``busy-reply-threshold``, 5 s
by default) answers every other command ``BUSY ...`` until it ends: our own old one-script
commits, another application's Lua, an operator's. redis-py reports it as a plain
ResponseError; it means "cannot answer right now", like a lost connection."""


def is_busy(error: BaseException) -> bool:
    return isinstance(error, ResponseError) and _BUSY_REPLY.match(str(error)) is not None


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the store cannot answer right now (retry later), as opposed
    to a command it refused."""
    return isinstance(error, UNAVAILABLE) or is_busy(error)


def is_auth_error(error: BaseException) -> bool:
    return isinstance(error, AUTH_ERRORS) or (
        isinstance(error, RedisError | RedisClusterException)
        and _AUTH_REPLY.search(str(error)) is not None
    )


def store_error(error: BaseException, url: str, what: str) -> StoreError:
    """The store error for ``error``, raised while trying to ``what`` at ``url``."""
    if is_auth_error(error):
        return StoreAuthError(
            f"Redis at {masked(url)} refused to {what}: {error}. This is an authentication or "
            "permission error, and retrying will not help: check the user name and password "
            "of the URL and the user's ACL (strew's commands, keys strew:* and channels "
            "strew:*; see docs/security.md)"
        )
    if unavailable(error):
        return StoreUnavailable(f"could not reach Redis at {masked(url)} to {what}: {error}")
    return StoreError(f"Redis refused to {what}: {error}")
