"""Small pieces every part of the Redis store shares: loading scripts, reading replies."""

from __future__ import annotations

import asyncio
from importlib import resources
from typing import Any


def _load_lua(name: str) -> str:
    """The script ``lua/NAME.lua``, with each line ``--#include OTHER`` replaced by
    ``lua/OTHER.lua`` (Lua functions that several scripts share, written once)."""
    text = resources.files("strew.stores.redis").joinpath("lua", f"{name}.lua").read_text("utf-8")
    lines = [
        _load_lua(line.removeprefix("--#include ").strip())
        if line.startswith("--#include ")
        else line
        for line in text.splitlines()
    ]
    return "\n".join(lines) + "\n"


def _cancelling() -> bool:
    # redis-py can swallow a cancellation mid-command; never loop on after one was asked for.
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _raise(error: BaseException) -> Any:
    raise error


def _millis(micros: int) -> int:
    """A TTL in whole milliseconds, rounded up and at least 1 (PEXPIRE rejects 0)."""
    return max(1, -(-micros // 1000))


def _flags(reply: bytes) -> list[bool]:
    """The scripts answer one '1' or '0' per item, as one string."""
    return [flag == 0x31 for flag in reply]


def _text(value: Any) -> str:
    # A key that is not UTF-8 (written by hand) must not crash a snapshot or a worker; the
    # client encodes with the same error handler, so such a key round-trips exactly.
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else str(value)


def _optional_int(value: bytes | str) -> int | None:
    return int(value) if value not in (b"", "") else None
