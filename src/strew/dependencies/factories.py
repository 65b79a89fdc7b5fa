"""Depends and Shared: values made by factories, per run or per worker, cleaned up after."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    asynccontextmanager,
    contextmanager,
)
from typing import Any, TypeVar, overload

from strew.dependencies.base import Dependency, RunContext, markers_of

R = TypeVar("R")

Factory = Callable[..., Any]


async def _enter(value: Any, stack: AsyncExitStack) -> Any:
    """The value a factory's result stands for: awaited, or entered as a context manager
    whose exit ``stack`` runs later."""
    if inspect.isawaitable(value):
        value = await value
    if isinstance(value, AbstractAsyncContextManager):
        return await stack.enter_async_context(value)
    if isinstance(value, AbstractContextManager):
        return stack.enter_context(value)
    return value


def _call_form(factory: Factory) -> Factory:
    """Generator factories become context managers: code after ``yield`` is the cleanup."""
    if inspect.isasyncgenfunction(factory):
        return asynccontextmanager(factory)
    if inspect.isgeneratorfunction(factory):
        return contextmanager(factory)
    return factory


class FactoryMarker(Dependency):
    def __init__(self, factory: Factory) -> None:
        self.factory = factory
        self._form = _call_form(factory)

    def problem(self) -> str | None:
        factory: object = self.factory
        if not callable(factory):
            return f"the factory must be callable, got {factory!r}"
        return None

    def nested(self) -> list[tuple[str, Dependency]]:
        return markers_of(self.factory)

    async def make(self, context: RunContext, stack: AsyncExitStack) -> Any:
        kwargs = {
            name: await marker.resolve(context, name) for name, marker in markers_of(self.factory)
        }
        return await _enter(self._form(**kwargs), stack)


class _Depends(FactoryMarker):
    async def resolve(self, context: RunContext, parameter: str) -> Any:
        # Once per run: two parameters (or two factories) asking for one factory share it.
        slot = id(self.factory)
        if slot not in context.cache:
            context.cache[slot] = await self.make(context, context.stack)
        return context.cache[slot]

    def __repr__(self) -> str:
        return f"Depends({getattr(self.factory, '__qualname__', self.factory)!r})"


class SharedMarker(FactoryMarker):
    worker_wide = True

    async def resolve(self, context: RunContext, parameter: str) -> Any:
        shared = context.shared
        return await shared.get(self.factory, lambda: self.make(context, shared.stack))

    def __repr__(self) -> str:
        return f"Shared({getattr(self.factory, '__qualname__', self.factory)!r})"


@overload
def Depends(factory: Callable[..., AsyncIterator[R]]) -> R: ...
@overload
def Depends(factory: Callable[..., Iterator[R]]) -> R: ...
@overload
def Depends(factory: Callable[..., AbstractAsyncContextManager[R]]) -> R: ...
@overload
def Depends(factory: Callable[..., AbstractContextManager[R]]) -> R: ...
@overload
def Depends(factory: Callable[..., Awaitable[R]]) -> R: ...
@overload
def Depends(factory: Callable[..., R]) -> R: ...
def Depends(factory: Factory) -> Any:
    """A value made by ``factory`` for each run. The factory may be a plain or async function,
    a (async) generator function (the code after ``yield`` cleans up after the task, whatever
    its outcome) or return a (async) context manager (entered, and exited after the task).
    Its own parameters may be markers too; within one run each factory is called once."""
    return _Depends(factory)


@overload
def Shared(factory: Callable[..., AsyncIterator[R]]) -> R: ...
@overload
def Shared(factory: Callable[..., Iterator[R]]) -> R: ...
@overload
def Shared(factory: Callable[..., AbstractAsyncContextManager[R]]) -> R: ...
@overload
def Shared(factory: Callable[..., AbstractContextManager[R]]) -> R: ...
@overload
def Shared(factory: Callable[..., Awaitable[R]]) -> R: ...
@overload
def Shared(factory: Callable[..., R]) -> R: ...
def Shared(factory: Factory) -> Any:
    """Like `Depends`, but one value for the worker's lifetime: made on first use, cleaned up
    when the worker stops. Its factory sees the run that first needed it."""
    return SharedMarker(factory)
