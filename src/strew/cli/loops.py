"""``strew worker --loop``: which event loop the worker runs on.

uvloop (libuv's loop, the ``strew[uvloop]`` extra) runs the same worker with about a fifth
less CPU per task (bench/README.md, "Where a worker's time goes"). ``auto`` takes it when it
is installed, asyncio's own loop otherwise; ``uvloop`` insists on it; ``asyncio`` never uses
it.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
from collections.abc import Callable

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class LoopKind(enum.StrEnum):
    AUTO = "auto"
    ASYNCIO = "asyncio"
    UVLOOP = "uvloop"


def loop_factory(kind: LoopKind) -> tuple[LoopFactory | None, str]:
    """The factory of the loop ``kind`` names (None: asyncio's default) and its name for the
    log. Raises ImportError for ``uvloop`` when it is not installed."""
    if kind is LoopKind.ASYNCIO:
        return None, "asyncio"
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if kind is LoopKind.UVLOOP:
            raise
        return None, "asyncio"
    factory: LoopFactory = uvloop.new_event_loop
    return factory, f"uvloop {getattr(uvloop, '__version__', '?')}"
