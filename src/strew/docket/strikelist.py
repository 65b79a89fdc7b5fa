"""`StrikeList`: pydocket's view of the strikes, for a docket or on its own.

pydocket keeps strikes in a Redis stream that each `StrikeList` follows; strew keeps them as
a versioned set of rules in the docket's store (see strikes.py), which every `Docket` reads
again when its copy is older than half a second. A `StrikeList` is a copy of those rules:

* ``docket.strike_list`` shares its docket's copy (the rules its adds are checked against);
* ``StrikeList(url, name)`` opens the store of the docket called ``name`` at ``url`` and,
  while connected, reads its rules again every `REFRESH_SECONDS`. Strikes it makes are that
  docket's strikes: its producers and workers obey them, and a ``restore`` puts the tasks
  they held back on the schedule. Several dockets (in several processes) of that name, and
  several lists, share one set of rules; no store operation beyond the docket's own is used.
* ``StrikeList()`` (no URL) keeps rules given to `StrikeList.update` in this process only.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

from strew.docket.settings import check_flag, check_name
from strew.docket.strikes import REFRESH_SECONDS, Strike, StrikeBook, check_strike
from strew.stores import FATAL_STORE_ERRORS, StoreError, open_store
from strew.stores.protocol import Store
from strew.stores.signing import SignedStore, Signer, signing_keys
from strew.stores.urls import masked, validate_url
from strew.task.execution import Execution, TaskFunction

logger = logging.getLogger("strew.strikes")


class Operator(enum.StrEnum):
    """pydocket's names for the comparisons a strike may make."""

    EQUAL = "=="
    NOT_EQUAL = "!="
    GREATER_THAN = ">"
    GREATER_THAN_OR_EQUAL = ">="
    LESS_THAN = "<"
    LESS_THAN_OR_EQUAL = "<="
    BETWEEN = "between"


LiteralOperator = Literal["==", "!=", ">", ">=", "<", "<=", "between"]

MinimalStrike = tuple[Operator, Hashable]
ParameterStrikes = dict[str, set[MinimalStrike]]
TaskStrikes = dict[str, ParameterStrikes]


@dataclass(frozen=True, slots=True)
class Restore:
    """pydocket's instruction lifting the `Strike` with the same fields (for `update`)."""

    function: str | None
    parameter: str | None
    operator: str = "=="
    value: Any = None


class StrikeList:
    """The strikes in force on the docket called ``name`` at ``url``, as pydocket's
    ``StrikeList`` shows them: `is_stricken`, the `task_strikes` and `parameter_strikes`
    views, `strike`, `restore`, `wait_for_strikes_loaded`.

    Nothing connects until `connect` (or ``async with``); while connected the rules are read
    again every `REFRESH_SECONDS` in the background, so the synchronous checks are at most
    about a second behind every other process. ``enable_internal_instrumentation`` is
    pydocket's, checked and kept (strew has no internal spans to switch on);
    ``signing_key`` (default ``$STREW_SIGNING_KEY``) must be the docket's when it signs.
    """

    def __init__(
        self,
        url: str | None = None,
        name: str = "strikelist",
        enable_internal_instrumentation: bool = False,
        *,
        signing_key: str | bytes | Sequence[str | bytes] | None = None,
        allow_eviction: bool | None = None,
    ) -> None:
        self.url = None if url is None else validate_url(url)
        self.name = check_name(name)
        self.enable_internal_instrumentation = check_flag(
            enable_internal_instrumentation, "enable_internal_instrumentation"
        )
        keys = signing_keys(signing_key)
        if allow_eviction is not None:
            check_flag(allow_eviction, "allow_eviction")
        self._book: StrikeBook | None = None
        self._store: Store | None = None
        """The store this list opened (and closes); None for a docket's own list."""
        if self.url is not None:
            store = open_store(self.url, self.name, allow_eviction=allow_eviction)
            self._store = SignedStore(store, Signer(keys)) if keys else store
            self._book = StrikeBook(self._store, {})
        self._local: list[Strike] = []
        self._monitor: asyncio.Task[None] | None = None
        self._strikes_loaded: asyncio.Event | None = None
        self._failure: StoreError | None = None
        """What stopped the background reads, raised by `wait_for_strikes_loaded`."""

    @classmethod
    def sharing(cls, book: StrikeBook, name: str, url: str) -> StrikeList:
        """The list a `Docket` shows as ``strike_list``: its own copy of the rules (no
        background reads; the docket reads them again as it adds, and on `refresh`)."""
        shared = cls(None, name)
        shared.url, shared._book = url, book
        return shared

    def __repr__(self) -> str:
        url = None if self.url is None else masked(self.url)
        return f"StrikeList(url={url!r}, name={self.name!r})"

    # -- lifecycle ---------------------------------------------------------------------------

    async def connect(self) -> None:
        """Start reading the rules in the background (nothing to do without a URL, or for a
        docket's own list, or when already connected)."""
        if self._book is None or self._store is None or self._monitor is not None:
            return
        self._strikes_loaded = asyncio.Event()
        self._failure = None
        self._monitor = asyncio.create_task(self._follow(), name=f"strew.strikelist.{self.name}")

    async def close(self) -> None:
        """Stop reading the rules and let go of the store; safe to call more than once."""
        monitor, self._monitor = self._monitor, None
        self._strikes_loaded = None
        if monitor is not None:
            monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await monitor
        if self._store is not None:
            await self._store.close()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def poll(self) -> bool:
        """One read of the rules; True when it succeeded (a failure is logged and the last
        rules read stay in force). The first success marks the rules loaded. Raises the
        errors no retry can mend (`FATAL_STORE_ERRORS`: credentials, eviction policy)."""
        assert self._book is not None
        try:
            await self._book.refresh()
        except FATAL_STORE_ERRORS:
            raise
        except StoreError as error:
            logger.warning("strike list %s could not read the strikes: %s", self.name, error)
            return False
        if self._strikes_loaded is not None:
            self._strikes_loaded.set()
        return True

    async def _follow(self) -> None:
        assert self._book is not None
        try:
            while True:
                await self.poll()
                await asyncio.sleep(self._book.max_age)
        except FATAL_STORE_ERRORS as error:
            # Reading again would fail the same way every half second: stop, and let
            # `wait_for_strikes_loaded` raise it rather than wait for ever.
            logger.error("strike list %s stopped reading the strikes: %s", self.name, error)
            self._failure = error
            if self._strikes_loaded is not None:
                self._strikes_loaded.set()

    async def wait_for_strikes_loaded(self) -> None:
        """Return once the rules in force have been read: at once without a URL; for a
        connected list, after its first successful read; otherwise after reading them now
        if they were never read."""
        if self._book is None:
            return
        if self._strikes_loaded is not None:
            await self._strikes_loaded.wait()
            if self._failure is not None:
                raise self._failure
        elif self._book.version < 0:
            await self._book.refresh()

    async def refresh(self) -> None:
        """Read the rules now (raises `StoreError` when the store cannot answer)."""
        if self._book is not None:
            await self._book.refresh()

    # -- striking ------------------------------------------------------------------------------

    async def strike(
        self,
        function: TaskFunction | str | None = None,
        parameter: str | None = None,
        operator: Operator | LiteralOperator = "==",
        value: Hashable | None = None,
    ) -> None:
        """Strike on the docket this list follows (arguments as `Docket.strike`); this list
        shows it at once, every other process within about a second."""
        await self._connected("strike").add(function, parameter, operator, value)

    async def restore(
        self,
        function: TaskFunction | str | None = None,
        parameter: str | None = None,
        operator: Operator | LiteralOperator = "==",
        value: Hashable | None = None,
    ) -> None:
        """Lift a strike on the docket this list follows (as `Docket.restore`: the tasks it
        held go back on the schedule)."""
        await self._connected("restore").lift(function, parameter, operator, value)

    def _connected(self, verb: str) -> StrikeBook:
        if self._book is None:
            raise RuntimeError(
                f"cannot {verb}: this StrikeList has no url, so it keeps its strikes in this "
                "process only; use update(Strike(...)) or give it the docket's url"
            )
        return self._book

    def update(self, instruction: Strike | Restore) -> None:
        """Add (a `Strike`) or lift (a `Restore`) a rule in this process only, as pydocket's
        local-only mode does; nothing is written to a store. Raises as `Docket.strike` does
        for a rule it would refuse."""
        if not isinstance(instruction, Strike | Restore):
            raise TypeError(f"instruction must be a Strike or a Restore, got {instruction!r}")
        rule = check_strike(
            {},
            instruction.function,
            instruction.parameter,
            instruction.operator,
            instruction.value,
        )
        if isinstance(instruction, Strike):
            if rule not in self._local:
                self._local.append(rule)
        else:
            self._local = [kept for kept in self._local if kept != rule]

    # -- reading -------------------------------------------------------------------------------

    def rules(self) -> list[Strike]:
        """Every rule in force as last read, and the local ones."""
        stored = self._book.rules if self._book is not None else []
        return [*stored, *self._local]

    def is_stricken(self, target: Execution | Mapping[str, Any]) -> bool:
        """Whether a strike pauses ``target``: an `Execution` (any rule, matched as the
        docket matches an add), or a mapping of argument names to values (the rules naming
        no function, pydocket's standalone check). Uses the rules as last read."""
        rules = self.rules()
        if isinstance(target, Mapping):
            return any(
                rule.function is None
                and rule.parameter is not None
                and rule.parameter in target
                and rule.compares(target[rule.parameter])
                for rule in rules
            )
        if not isinstance(target, Execution):
            raise TypeError(f"target must be an Execution or a mapping, got {target!r}")
        return any(
            rule.matches(target.function_name, target.function, target.args, target.kwargs)
            for rule in rules
        )

    @property
    def task_strikes(self) -> TaskStrikes:
        """pydocket's view of the rules naming a function: ``{function: {parameter:
        {(operator, value)}}}``; ``{function: {}}`` for a function struck whole. A fresh
        dict on each read; a value that cannot be hashed is in force but not shown."""
        shown: TaskStrikes = {}
        for rule in self.rules():
            if rule.function is None:
                continue
            by_parameter = shown.setdefault(rule.function, {})
            if rule.parameter is not None and _hashable(rule.value):
                by_parameter.setdefault(rule.parameter, set()).add(
                    (Operator(rule.operator), rule.value)
                )
        return shown

    @property
    def parameter_strikes(self) -> ParameterStrikes:
        """pydocket's view of the rules naming no function: ``{parameter: {(operator,
        value)}}``, as `task_strikes`."""
        shown: ParameterStrikes = {}
        for rule in self.rules():
            if rule.function is None and rule.parameter is not None and _hashable(rule.value):
                shown.setdefault(rule.parameter, set()).add((Operator(rule.operator), rule.value))
        return shown


def _hashable(value: object) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


__all__ = [
    "REFRESH_SECONDS",
    "LiteralOperator",
    "Operator",
    "ParameterStrikes",
    "Restore",
    "Strike",
    "StrikeList",
    "TaskStrikes",
]
