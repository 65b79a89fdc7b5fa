"""The task functions of the stored-format fixture: the writer registers them under these
names with the strew it runs on, the test with the strew under test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from strew import Progress

ran: list[tuple[str, object]] = []


async def double(n: int) -> int:
    ran.append(("double", n))
    return n * 2


async def later(text: str, n: int = 1) -> str:
    ran.append(("later", (text, n)))
    return text * n


async def paused(n: int) -> None:
    ran.append(("paused", n))


async def scattered(n: int) -> None:
    ran.append(("scattered", n))


async def progressing(progress: Progress = Progress()) -> None:
    await progress.set_total(10)
    await progress.increment(4)
    await progress.set_message("four of ten")


TASKS: list[Callable[..., Any]] = [double, later, paused, scattered, progressing]
