"""Admission controls: `ConcurrencyLimit`, `RateLimit`, `Cooldown` and `Debounce`, with
pydocket's spellings.

Each is declared either as a parameter's default (one limit for the task, whatever its
arguments) or in a parameter's ``Annotated[...]`` metadata (one limit per distinct value of
that argument)::

    async def sync_customer(
        customer_id: Annotated[int, ConcurrencyLimit(1)],          # one at a time per customer
        rate: RateLimit = RateLimit(20, per=timedelta(seconds=1)),  # 20 starts a second in all
    ) -> None: ...

A worker checks them when a claimed task is due, in one atomic step of the store
(`AdmissionStore.admit`): the task runs, waits for a concurrency slot, is put back for later
(rate limit, debounce), or is dropped (cooldown, debounce, ``RateLimit(drop=True)``). What
those steps mean exactly is in docs/admission.md.

A limit is named by its kind, then the task's name (a default) or the parameter's name and the
argument's value (an annotation), as pydocket names them: two tasks that annotate a parameter
of the same name share its per-value limits. ``scope`` puts the limit in a namespace shared by
every docket on the same store that names it.
"""

from __future__ import annotations

import hashlib
import inspect
import typing
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, overload

from strew.dependencies.base import Dependency, RunContext, check_duration, passed_arguments
from strew.stores.records import Gate, GateKind
from strew.task.clock import micros
from strew.task.signatures import PerFunction, layout_of, per_function

MAX_SCOPE = 200
MAX_SHOWN_VALUE = 200
"""An argument's text longer than this names its limit by a digest instead."""


def _check_count(name: str, value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return f"{name} must be a whole number of at least 1, got {value!r}"
    return None


def _check_scope(scope: object) -> str | None:
    if scope is None:
        return None
    if not isinstance(scope, str) or not scope or len(scope) > MAX_SCOPE:
        return f"scope must be a name of 1 to {MAX_SCOPE} characters, got {scope!r}"
    if any(c in scope for c in "{}\r\n"):
        return f"scope must not contain braces or line breaks, got {scope!r}"
    return None


class AdmissionControl(Dependency):
    """What the four controls share: the value a task parameter gets is the control itself."""

    kind: GateKind

    async def resolve(self, context: RunContext, parameter: str) -> Any:
        return self

    def gate(self, name: str) -> Gate:
        raise NotImplementedError


class ConcurrencyLimit(AdmissionControl):
    """At most ``max_concurrent`` runs at once: of the task (a default), or per value of an
    argument (``Annotated[int, ConcurrencyLimit(1)]``, or pydocket's older
    ``ConcurrencyLimit("customer_id", max_concurrent=1)`` as a default). A task that finds no
    free slot waits, in order, and starts within milliseconds of one freeing. A slot lives as
    long as its run's lease: a worker killed mid-run frees it when that lease lapses."""

    kind = "concurrency"
    single = True

    @overload
    def __init__(self, max_concurrent: int, /, *, scope: str | None = None) -> None: ...
    @overload
    def __init__(
        self, argument_name: str, max_concurrent: int = 1, scope: str | None = None
    ) -> None: ...
    @overload
    def __init__(self, *, max_concurrent: int = 1, scope: str | None = None) -> None: ...

    def __init__(
        self,
        argument_name: str | int | None = None,
        max_concurrent: int = 1,
        scope: str | None = None,
    ) -> None:
        if isinstance(argument_name, int) and not isinstance(argument_name, bool):
            self.argument_name: str | None = None
            self.max_concurrent: int = argument_name
        else:
            self.argument_name = argument_name  # type: ignore[assignment]
            self.max_concurrent = max_concurrent
        self.scope = scope

    def __repr__(self) -> str:
        named = f"{self.argument_name!r}, " if self.argument_name is not None else ""
        scoped = f", scope={self.scope!r}" if self.scope is not None else ""
        return f"ConcurrencyLimit({named}max_concurrent={self.max_concurrent!r}{scoped})"

    def problem(self) -> str | None:
        if self.argument_name is not None and (
            not isinstance(self.argument_name, str) or not self.argument_name
        ):
            return f"argument_name must be a parameter's name, got {self.argument_name!r}"
        return _check_count("max_concurrent", self.max_concurrent) or _check_scope(self.scope)

    def gate(self, name: str) -> Gate:
        return Gate("concurrency", name, limit=self.max_concurrent, scope=self.scope)


class RateLimit(AdmissionControl):
    """At most ``limit`` starts in any window of ``per``, of the task or per argument value.
    An over-limit task is put back to the moment a start leaves the window, or with ``drop``
    dropped (logged at INFO)."""

    kind = "rate"

    def __init__(
        self, limit: int, *, per: timedelta, drop: bool = False, scope: str | None = None
    ) -> None:
        self.limit = limit
        self.per = per
        self.drop = drop
        self.scope = scope

    def __repr__(self) -> str:
        dropping = f", drop={self.drop!r}" if self.drop is not False else ""
        scoped = f", scope={self.scope!r}" if self.scope is not None else ""
        return f"RateLimit({self.limit!r}, per={self.per!r}{dropping}{scoped})"

    def problem(self) -> str | None:
        drop: object = self.drop  # callers without a type checker pass anything
        if not isinstance(drop, bool):
            return f"drop must be True or False, got {drop!r}"
        return (
            _check_count("limit", self.limit)
            or check_duration("per", self.per, zero_ok=False)
            or _check_scope(self.scope)
        )

    @property
    def rate(self) -> float:
        """Starts per second this limit allows."""
        return self.limit / self.per.total_seconds()

    def gate(self, name: str) -> Gate:
        return Gate(
            "rate",
            name,
            limit=self.limit,
            window=micros(self.per),
            drop=self.drop,
            scope=self.scope,
        )


class Cooldown(AdmissionControl):
    """The first task runs; others of the task (or of the argument value) within ``window``
    of its start are dropped (logged at INFO). Several cooldowns on one task must all pass."""

    kind = "cooldown"

    def __init__(self, window: timedelta, *, scope: str | None = None) -> None:
        self.window = window
        self.scope = scope

    def __repr__(self) -> str:
        scoped = f", scope={self.scope!r}" if self.scope is not None else ""
        return f"Cooldown({self.window!r}{scoped})"

    def problem(self) -> str | None:
        return check_duration("window", self.window, zero_ok=False) or _check_scope(self.scope)

    def gate(self, name: str) -> Gate:
        return Gate("cooldown", name, window=micros(self.window), scope=self.scope)


class Debounce(AdmissionControl):
    """Trailing edge: a burst of tasks (of the task, or of the argument value) becomes one
    run, of the first of them, once ``window`` has passed with no other arriving; the others
    are dropped (logged at INFO). One per task."""

    kind = "debounce"
    single = True

    def __init__(self, window: timedelta, *, scope: str | None = None) -> None:
        self.window = window
        self.scope = scope

    def __repr__(self) -> str:
        scoped = f", scope={self.scope!r}" if self.scope is not None else ""
        return f"Debounce({self.window!r}{scoped})"

    def problem(self) -> str | None:
        return check_duration("window", self.window, zero_ok=False) or _check_scope(self.scope)

    def gate(self, name: str) -> Gate:
        return Gate("debounce", name, window=micros(self.window), scope=self.scope)


@dataclass(frozen=True, slots=True)
class Control:
    """One admission control of a task: per value of ``parameter``, or of the task (None)."""

    parameter: str | None
    control: AdmissionControl


_controls: PerFunction[tuple[Control, ...]] = weakref.WeakKeyDictionary()


def _annotated(function: Callable[..., Any]) -> dict[str, list[AdmissionControl]]:
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception:  # annotations that cannot be resolved carry no controls we can read
        hints = {}
    found: dict[str, list[AdmissionControl]] = {}
    for parameter in layout_of(function).parameters:
        annotation = hints.get(parameter.name, parameter.annotation)
        for item in getattr(annotation, "__metadata__", ()):
            if isinstance(item, AdmissionControl):
                found.setdefault(parameter.name, []).append(item)
    return found


def controls_of(function: Callable[..., Any]) -> tuple[Control, ...]:
    """The admission controls of ``function``, in signature order (read once per function)."""

    def read() -> tuple[Control, ...]:
        controls: list[Control] = []
        annotated = _annotated(function)
        for parameter in layout_of(function).parameters:
            for control in annotated.get(parameter.name, []):
                if isinstance(control, ConcurrencyLimit) and control.argument_name is not None:
                    controls.append(Control(control.argument_name, control))
                else:
                    controls.append(Control(parameter.name, control))
            default = parameter.default
            if isinstance(default, AdmissionControl):
                name = default.argument_name if isinstance(default, ConcurrencyLimit) else None
                controls.append(Control(name, default))
        return tuple(controls)

    return per_function(_controls, function, read)


def check_admission(function: Callable[..., Any], label: str) -> None:
    """Raise ValueError, naming the function, the parameter and the value, for controls that
    cannot work: bad settings, two Debounce or two ConcurrencyLimit, a control on ``*args`` or
    ``**kwargs``, a ConcurrencyLimit naming no parameter."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return
    parameters = signature.parameters
    annotated = _annotated(function)
    seen: dict[type, str] = {}
    for name, controls in annotated.items():
        kind = parameters[name].kind
        for control in controls:
            shown = f"task {label}: parameter {name!r} ({control!r})"
            problem = control.problem()
            if problem:
                raise ValueError(f"{shown}: {problem}")
            if kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                raise ValueError(
                    f"{shown}: a per-value limit needs one argument, not *{name} or **{name}"
                )
    for control_parameter, control in ((c.parameter, c.control) for c in controls_of(function)):
        if control.single:
            kind_name = type(control).__name__
            where = control_parameter or "the task"
            if type(control) in seen:
                raise ValueError(
                    f"task {label}: only one {kind_name} per task ({control!r} on {where}; "
                    f"{seen[type(control)]} already has one)"
                )
            seen[type(control)] = where
        if (
            isinstance(control, ConcurrencyLimit)
            and control.argument_name is not None
            and control.argument_name not in parameters
        ):
            raise ValueError(
                f"task {label}: {control!r} names {control.argument_name!r}, which is not a "
                f"parameter of the task (parameters: {', '.join(parameters)})"
            )


def _value_text(value: Any) -> str:
    """How an argument names its per-value limit: its ``str`` (as pydocket names them), or,
    for a value whose ``str`` raises, its type and ``repr``, then its type alone: an argument
    must never be what stops a worker."""
    try:
        text = str(value)
    except Exception:
        try:
            text = f"<{type(value).__name__}> {value!r}"
        except Exception:
            text = f"<{type(value).__name__}>"
    if len(text) > MAX_SHOWN_VALUE or "\n" in text:
        return "#" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return text


def gates_for(
    function: Callable[..., Any],
    function_name: str,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
) -> list[Gate]:
    """The gates one call of ``function`` must pass. A per-value control whose argument the
    call lacks (and has no default) is left out: the call itself then fails, naming it."""
    controls = controls_of(function)
    if not controls:
        return []
    passed: dict[str, Any] | None = None
    gates: list[Gate] = []
    for control in controls:
        if control.parameter is None:
            gates.append(control.control.gate(function_name))
            continue
        if passed is None:
            passed = passed_arguments(function, args, dict(kwargs))
        if control.parameter in passed:
            value = passed[control.parameter]
        else:
            default = next(
                (p.default for p in layout_of(function).parameters if p.name == control.parameter),
                inspect.Parameter.empty,
            )
            if default is inspect.Parameter.empty or isinstance(default, Dependency):
                continue
            value = default
        gates.append(control.control.gate(f"{control.parameter}:{_value_text(value)}"))
    return gates
