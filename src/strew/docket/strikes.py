"""Strikes: pause a task function, or only the calls whose argument matches, everywhere.

A strike is a rule kept in the store, so every producer and worker of the docket, on any
machine, sees it without a deploy. Each `Docket` keeps a copy of the rules and reads them
again when its copy is older than `REFRESH_SECONDS`: a strike takes effect everywhere within
about a second, and an add costs no extra round trip while the copy is fresh.

* Producers: a stricken ``add`` (``replace``, ``add_many``, ``Agenda.scatter``) writes
  nothing and comes back with ``Disposition.STRUCK``.
* Workers: a stricken task that was already scheduled is *held* when a worker claims it:
  moved aside in the store with its payload, until a ``restore`` puts every held task back on
  the schedule; a worker then checks the rules again when it claims it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import math
import operator as ops
import pickle
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from strew.dependencies.base import Dependency
from strew.stores.protocol import StrikeStore
from strew.stores.records import Entry, StoreError
from strew.task.execution import Disposition, Execution, TaskFunction
from strew.task.pickles import plain_loads

REFRESH_SECONDS = 0.5
"""How old a docket's copy of the rules may get before it reads them again."""

RULE_VERSION = 1

_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "==": ops.eq,
    "!=": ops.ne,
    ">": ops.gt,
    ">=": ops.ge,
    "<": ops.lt,
    "<=": ops.le,
}
OPERATORS = (*_COMPARISONS, "between")


@dataclass(frozen=True, slots=True)
class Strike:
    """One rule: calls of ``function`` (any function when None) whose argument
    ``parameter`` compares true with ``value`` (every call when ``parameter`` is None)."""

    function: str | None
    parameter: str | None
    operator: str = "=="
    value: Any = None

    def encode(self) -> bytes:
        return pickle.dumps(
            (RULE_VERSION, self.function, self.parameter, self.operator, self.value),
            protocol=pickle.HIGHEST_PROTOCOL,
        )

    @classmethod
    def decode(cls, rule: bytes, *, trusted: bool = True) -> Strike | None:
        """The rule ``rule`` encodes; None for one this version cannot read (a newer
        strew's), which then matches nothing here rather than breaking every add. Untrusted
        bytes (an unsigned docket's, read by a view) are read as plain values only: a rule
        whose value is anything else is then unreadable, and nothing it names is called."""
        try:
            body = pickle.loads(rule) if trusted else plain_loads(rule)
            version, function, parameter, operator, value = body
        except Exception:
            return None
        if version != RULE_VERSION or operator not in OPERATORS:
            return None
        return cls(function, parameter, operator, value)

    def condition(self) -> str:
        """Which calls it pauses, in words: ``every call``, ``customer_id == 42``."""
        if self.parameter is None:
            return "every call"
        if self.operator == "between":
            low, high = self.value
            return f"{low!r} <= {self.parameter} <= {high!r}"
        return f"{self.parameter} {self.operator} {self.value!r}"

    def describe(self) -> str:
        if self.parameter is None:
            return f"every call of {self.function}"
        target = self.function if self.function is not None else "every function"
        return f"{target} where {self.condition()}"

    def matches(
        self,
        function_name: str,
        function: TaskFunction,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> bool:
        if self.function is not None and self.function != function_name:
            return False
        if self.parameter is None:
            return True
        found, argument = argument_of(function, self.parameter, args, kwargs)
        if not found:
            return False  # neither passed nor defaulted: nothing to compare, no match
        return self.compares(argument)

    def compares(self, argument: Any) -> bool:
        """Whether ``argument`` compares true with the value (False when they cannot be
        compared: a strike never breaks an add)."""
        try:
            if self.operator == "between":
                low, high = self.value
                return bool(low <= argument <= high)
            return bool(_COMPARISONS[self.operator](argument, self.value))
        except (TypeError, ValueError):
            return False  # values that cannot be compared do not match


@functools.lru_cache(maxsize=1024)
def _signature(function: TaskFunction) -> inspect.Signature | None:
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):
        return None


def argument_of(
    function: TaskFunction, parameter: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[bool, Any]:
    """``(True, value)`` of the argument ``parameter`` in this call: the value passed, or,
    when the call leaves it out, the parameter's default (what the task will see).
    ``(False, None)`` when it has neither, when its default is a dependency marker (the
    worker fills that in, so no value is known here), or when the call does not fit the
    signature."""
    signature = _signature(function)
    if signature is None:
        return (True, kwargs[parameter]) if parameter in kwargs else (False, None)
    try:
        bound = signature.bind_partial(*args, **kwargs)
    except TypeError:
        return False, None
    if parameter in bound.arguments:
        return True, bound.arguments[parameter]
    for name, spec in signature.parameters.items():
        # An argument caught by **kwargs still counts under its own name.
        if spec.kind is inspect.Parameter.VAR_KEYWORD and name in bound.arguments:
            extra = bound.arguments[name]
            if parameter in extra:
                return True, extra[parameter]
    named = signature.parameters.get(parameter)
    if (
        named is not None
        and named.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and named.default is not inspect.Parameter.empty
        and not isinstance(named.default, Dependency)
    ):
        # "Pause the calls whose amount is 0" includes charge(5) when amount defaults to 0:
        # the task runs with that value just as if it had been passed.
        return True, named.default
    return False, None


def check_strike(
    tasks: Mapping[str, TaskFunction],
    function: TaskFunction | str | None,
    parameter: object,
    operator: object,
    value: object,
) -> Strike:
    """The rule a ``strike``/``restore`` call describes; raises naming the bad argument.

    A function given by name need not be one of ``tasks`` (the docket's registry, by name):
    as in pydocket, a producer may strike a task only the workers know. When it is one, its
    signature checks ``parameter``.
    """
    name: str | None
    resolved: TaskFunction | None = None
    if function is None:
        name = None
    elif isinstance(function, str):
        if not function:
            raise ValueError("function must be a task function or a non-empty name, got ''")
        name = function
        resolved = tasks.get(function)
    elif callable(function):
        resolved = function
        found = [n for n, registered in tasks.items() if registered is function]
        name = found[0] if found else getattr(function, "__name__", None)
        if not isinstance(name, str) or name == "<lambda>":
            raise ValueError(f"function {function!r} has no usable name; pass its task name")
    else:
        raise TypeError(f"function must be a task function, a task name or None, got {function!r}")

    if not isinstance(operator, str) or operator not in OPERATORS:
        raise ValueError(f"operator must be one of {', '.join(OPERATORS)}, got {operator!r}")
    operator = OPERATORS[OPERATORS.index(operator)]  # a str subclass (an enum) becomes plain
    if parameter is None:
        if name is None:
            raise ValueError(
                "strike needs a function, a parameter, or both; got function=None and "
                "parameter=None (striking every call of every task is not allowed)"
            )
        if operator != "==" or value is not None:
            raise ValueError(
                f"operator {operator!r} and value {value!r} need a parameter to compare, "
                "got parameter=None"
            )
        return Strike(name, None, "==", None)
    if not isinstance(parameter, str) or not parameter.isidentifier():
        raise ValueError(f"parameter must be the name of an argument, got {parameter!r}")
    if resolved is not None:
        _check_parameter(resolved, name, parameter)
    if operator == "between":
        if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
            raise ValueError(
                f"operator 'between' needs a value of two items (low, high), got {value!r}"
            )
        value = (value[0], value[1])
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f"value must be comparable, got {value!r}")
    try:
        pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        raise TypeError(f"value must be picklable, got {value!r} ({error})") from error
    return Strike(name, parameter, operator, value)


def _check_parameter(function: TaskFunction, name: str | None, parameter: str) -> None:
    signature = _signature(function)
    if signature is None:
        return
    kinds = {spec.kind for spec in signature.parameters.values()}
    if parameter not in signature.parameters and inspect.Parameter.VAR_KEYWORD not in kinds:
        names = ", ".join(signature.parameters) or "none"
        raise ValueError(
            f"parameter {parameter!r} is not a parameter of task {name!r} (it takes: {names})"
        )


class StrikeBook:
    """One docket's copy of the strike rules, read again when older than `max_age`, and the
    way its rules are added and lifted. ``tasks`` is the docket's registry (by name)."""

    def __init__(
        self,
        store: StrikeStore,
        tasks: Mapping[str, TaskFunction],
        max_age: float = REFRESH_SECONDS,
        *,
        trusted: bool = True,
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.trusted = trusted
        """Whether the rules' bytes may be unpickled in full (see `Strike.decode`)."""
        self.max_age = max_age
        self.version = -1
        self.rules: list[Strike] = []
        self._read_at = -math.inf
        self._reading: asyncio.Future[None] | None = None
        # Reads are numbered as they start. A read in flight is shared only if it started
        # after the last `invalidate` (one begun before a change may miss it), and a read
        # lands only if no later-started one has landed (an overtaken read is stale).
        self._tickets = 0
        self._reading_ticket = 0
        self._fresh_from = 0
        self._landed = 0

    def invalidate(self) -> None:
        self._read_at = -math.inf
        self._fresh_from = self._tickets + 1

    async def current(self) -> list[Strike]:
        """The rules, read again if our copy is stale (concurrent callers share one read)."""
        if time.monotonic() - self._read_at <= self.max_age:
            return self.rules
        await self.refresh()
        return self.rules

    async def refresh(self) -> None:
        reading = self._reading
        if (
            reading is None
            or reading.done()
            or reading.get_loop() is not _loop()
            or self._reading_ticket < self._fresh_from
        ):
            self._tickets += 1
            self._reading_ticket = self._tickets
            reading = self._reading = asyncio.ensure_future(self._read(self._tickets))
        await asyncio.shield(reading)

    async def _read(self, ticket: int) -> None:
        started = time.monotonic()
        version, encoded = await self.store.strikes()
        if ticket < self._landed:
            return
        self._landed = ticket
        decoded = [Strike.decode(rule, trusted=self.trusted) for rule in encoded]
        self.rules = [rule for rule in decoded if rule is not None]
        self.version = version
        self._read_at = started

    def blocking(
        self,
        rules: Sequence[Strike],
        function_name: str,
        function: TaskFunction,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Strike | None:
        """The first of ``rules`` that this call matches, None if it is free to run."""
        for rule in rules:
            if rule.matches(function_name, function, args, kwargs):
                return rule
        return None

    async def sift(
        self, executions: list[Execution], entries: list[Entry]
    ) -> tuple[list[Execution], list[Entry]]:
        """Mark stricken executions ``STRUCK``; return the others, with their entries."""
        rules = await self.current()
        if not rules:
            return executions, entries
        kept: list[Execution] = []
        kept_entries: list[Entry] = []
        for execution, entry in zip(executions, entries, strict=True):
            if self.blocking(
                rules, execution.function_name, execution.function, execution.args, execution.kwargs
            ):
                execution.disposition = Disposition.STRUCK
            else:
                kept.append(execution)
                kept_entries.append(entry)
        return kept, kept_entries

    async def struck(self, execution: Execution) -> bool:
        """True (and the execution marked ``STRUCK``) when a rule blocks this one add."""
        rules = await self.current()
        if rules and self.blocking(
            rules, execution.function_name, execution.function, execution.args, execution.kwargs
        ):
            execution.disposition = Disposition.STRUCK
            return True
        return False

    async def add(
        self,
        function: TaskFunction | str | None,
        parameter: str | None,
        operator: str,
        value: Any,
    ) -> Strike:
        """Store the rule; this copy sees it at once, every other within about
        `REFRESH_SECONDS`."""
        rule = check_strike(self.tasks, function, parameter, operator, value)
        await self.store.add_strike(rule.encode())
        await self._reread()
        return rule

    async def lift(
        self,
        function: TaskFunction | str | None,
        parameter: str | None,
        operator: str,
        value: Any,
    ) -> tuple[int, int]:
        """Remove every stored rule equal to the one described, and put every held task back
        on the schedule (workers check them against the rules that remain), even when no rule
        was equal. Returns how many rules were lifted and how many held tasks went back."""
        rule = check_strike(self.tasks, function, parameter, operator, value)
        _, stored = await self.store.strikes()
        # Rules are compared decoded, not as bytes: the same rule may pickle differently in
        # another Python (or with 1 against 1.0).
        matching = [
            encoded for encoded in stored if Strike.decode(encoded, trusted=self.trusted) == rule
        ]
        restored = 0
        for encoded in matching or [rule.encode()]:
            _, count = await self.store.remove_strike(encoded)
            restored += count
        await self._reread()
        return len(matching), restored

    async def _reread(self) -> None:
        """After a change: read the rules now, so this copy (and the `StrikeList` views
        sharing it) shows it at once; if the read fails, the next check reads again."""
        self.invalidate()
        with contextlib.suppress(StoreError):
            await self.refresh()


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()
