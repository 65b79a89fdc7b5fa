"""`Docket.strike`, `Docket.restore` and `Docket.wait_for_strikes_loaded`, bound on `Docket`
as methods (the rules and their checks live in strikes.py, the pydocket-style list in
strikelist.py)."""

from __future__ import annotations

from typing import Any, Protocol

from strew.docket.strikelist import StrikeList
from strew.docket.strikes import StrikeBook
from strew.task.execution import TaskFunction


class StrikeHost(Protocol):
    """What these need of a `Docket`."""

    strike_book: StrikeBook
    strike_list: StrikeList


async def strike(
    self: StrikeHost,
    function: TaskFunction | str | None = None,
    parameter: str | None = None,
    operator: str = "==",
    value: Any = None,
) -> None:
    """Pause ``function`` (a task function or name; None for every function), or only its
    calls whose argument ``parameter`` compares true with ``value`` (``operator`` is one
    of ``== != > >= < <= between``; ``between`` takes ``(low, high)``, both included).

    Every producer and worker of this docket sees the strike within about a second:
    stricken adds come back ``STRUCK`` and write nothing; stricken tasks already
    scheduled are held when a worker claims them, until `restore`. See docs/strikes.md.
    """
    await self.strike_book.add(function, parameter, operator, value)


async def restore(
    self: StrikeHost,
    function: TaskFunction | str | None = None,
    parameter: str | None = None,
    operator: str = "==",
    value: Any = None,
) -> None:
    """Lift the strike made with the same arguments, and put every held task back on the
    schedule at once (workers check each against the strikes that remain)."""
    await self.strike_book.lift(function, parameter, operator, value)


async def wait_for_strikes_loaded(self: StrikeHost) -> None:
    """Return once ``strike_list`` holds the strikes in force (reads them if never read)."""
    await self.strike_list.wait_for_strikes_loaded()
