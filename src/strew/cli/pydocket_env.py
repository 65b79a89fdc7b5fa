"""pydocket's environment variables, read by the ``strew`` command: a deployment configured
for ``docket`` keeps its environment when it switches.

Every ``STREW_X`` a command reads is also read from ``DOCKET_X``, then from pydocket's own
name for the same setting where it differs (`PYDOCKET_NAMES`). A ``STREW_*`` variable that
is set wins over all of them; a value on the command line wins over every variable. An
empty variable counts as unset, as it does for ``STREW_*``.

`PydocketEnvGroup` applies this once, to every option and argument of every command, when
Typer builds the command line: no option declares it, so no new option can forget it.
"""

from __future__ import annotations

import os
from typing import Any

from typer.core import TyperArgument, TyperGroup, TyperOption

PREFIX = "STREW_"
PYDOCKET_PREFIX = "DOCKET_"

PYDOCKET_NAMES: dict[str, tuple[str, ...]] = {
    "STREW_DOCKET": ("DOCKET_NAME",),
    # `docket watch` reads its URL from DOCKET_REDIS_URL, every other command DOCKET_URL.
    "STREW_URL": ("DOCKET_REDIS_URL",),
    "STREW_CONCURRENCY": ("DOCKET_WORKER_CONCURRENCY",),
    "STREW_REDELIVERY_TIMEOUT": ("DOCKET_WORKER_REDELIVERY_TIMEOUT",),
    "STREW_RECONNECTION_DELAY": ("DOCKET_WORKER_RECONNECTION_DELAY",),
    "STREW_HEALTHCHECK_PORT": ("DOCKET_WORKER_HEALTHCHECK_PORT",),
    "STREW_METRICS_PORT": ("DOCKET_WORKER_METRICS_PORT",),
    "STREW_MESSAGE_BATCH": ("DOCKET_WORKER_MESSAGE_BATCH",),
    "STREW_MINIMUM_CHECK_INTERVAL": ("DOCKET_WORKER_MINIMUM_CHECK_INTERVAL",),
    "STREW_SCHEDULING_RESOLUTION": ("DOCKET_WORKER_SCHEDULING_RESOLUTION",),
    "STREW_ENABLE_INTERNAL_INSTRUMENTATION": ("DOCKET_WORKER_ENABLE_INTERNAL_INSTRUMENTATION",),
}
"""pydocket's names that are not simply ``DOCKET_`` + strew's suffix (pydocket prefixes most
of the worker's with ``DOCKET_WORKER_``), keyed by the strew variable they stand for."""


def aliases(name: str) -> tuple[str, ...]:
    """The variables ``name`` (a ``STREW_*`` variable) is also read from, in the order they
    are tried: ``DOCKET_`` + its suffix, then pydocket's own names for it."""
    if not name.startswith(PREFIX):
        raise ValueError(f"name must be a {PREFIX}* variable, got {name!r}")
    return (PYDOCKET_PREFIX + name.removeprefix(PREFIX), *PYDOCKET_NAMES.get(name, ()))


def first_set(names: tuple[str, ...]) -> str | None:
    """The first of ``names`` set to something other than the empty string."""
    return next((name for name in names if os.environ.get(name)), None)


def read_aliases_too(param: TyperOption | TyperArgument) -> None:
    """Make ``param``, if a ``STREW_*`` variable feeds it, read that variable's aliases when
    it is unset. Its ``envvar`` stays the one ``STREW_*`` name, so ``--help`` stays readable
    at 80 columns; an error caused by an alias's value names the alias."""
    name = param.envvar
    if not isinstance(name, str) or not name.startswith(PREFIX):
        return
    names = aliases(name)
    own_value = param.resolve_envvar_value
    own_hint = param.get_error_hint

    def resolve_envvar_value(ctx: Any) -> str | None:
        value = own_value(ctx)
        if value is not None:
            return value
        source = first_set(names)
        return os.environ[source] if source is not None else None

    # click passes ``ctx`` to get_error_hint in some releases and not in others: take
    # whatever it passes, and hand it on.
    def get_error_hint(*args: Any, **kwargs: Any) -> str:
        source = None if os.environ.get(name) else first_set(names)
        hint = own_hint(*args, **kwargs)
        return hint if source is None else hint.replace(f"'{name}'", f"'{source}'")

    # Typer builds its parameters itself and offers no hook to choose their class, so the
    # two methods are replaced on the instance.
    param.resolve_envvar_value = resolve_envvar_value  # type: ignore[method-assign]
    param.get_error_hint = get_error_hint  # type: ignore[method-assign]


class PydocketEnvGroup(TyperGroup):
    """The ``strew`` group: its commands, and those of its sub-groups, read pydocket's
    variables as well as strew's (see the module's docstring)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        groups: list[TyperGroup] = [self]
        while groups:
            group = groups.pop()
            for command in group.commands.values():
                if isinstance(command, TyperGroup):
                    groups.append(command)
                for param in command.params:
                    if isinstance(param, TyperOption | TyperArgument):
                        read_aliases_too(param)


__all__ = ["PYDOCKET_NAMES", "PydocketEnvGroup", "aliases"]
