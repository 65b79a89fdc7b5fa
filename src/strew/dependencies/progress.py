"""`Progress`: a running task says how far it has got, and anyone can read it.

::

    async def import_rows(path: str, progress: Progress = Progress()) -> None:
        rows = load(path)
        await progress.set_total(len(rows))
        for row in rows:
            save(row)
            await progress.increment()

Each call is one atomic store step (`Store.update_progress`); readers see it through
`Execution.sync` / ``execution.progress``, `Docket.get_execution` and ``strew watch``.
Progress outlives the run as long as the task's record does (see task/results.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strew.dependencies.base import Dependency, RunContext

if TYPE_CHECKING:
    from strew.stores.protocol import ResultStore
    from strew.stores.records import ProgressState


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be zero or more, got {value!r}")
    return value


class Progress(Dependency):
    """The marker, and (inside a task) the run's own progress reporter.

    ``current``, ``total`` and ``message`` hold what the store answered after the last call.
    """

    def __init__(self) -> None:
        self.current = 0
        self.total: int | None = None
        self.message: str | None = None
        self._store: ResultStore | None = None
        self._key = ""
        self._ttl = 0

    async def resolve(self, context: RunContext, parameter: str) -> Progress:
        bound = Progress()
        bound._store = context.hooks.store
        bound._key = context.execution.key
        bound._ttl = context.hooks.progress_ttl
        return bound

    async def set_total(self, total: int) -> None:
        """How many steps the task has in all."""
        await self._update(total=_count("total", total))

    async def increment(self, amount: int = 1) -> None:
        """``amount`` more steps are done."""
        await self._update(advance=_count("amount", amount))

    async def set_message(self, message: str) -> None:
        """A line saying what the task is doing now."""
        if not isinstance(message, str):
            raise TypeError(f"message must be a string, got {message!r}")
        await self._update(message=message)

    async def _update(
        self, *, total: int | None = None, advance: int = 0, message: str | None = None
    ) -> None:
        if self._store is None:
            raise RuntimeError(
                "this Progress is not bound to a running task: use it as a task parameter "
                "default (progress: Progress = Progress()) and call it inside the task"
            )
        state: ProgressState = await self._store.update_progress(
            self._key, total=total, advance=advance, message=message, ttl=self._ttl
        )
        self.current, self.total, self.message = state.current, state.total, state.message

    def __repr__(self) -> str:
        if self._store is None:
            return "Progress()"
        return f"Progress(current={self.current}, total={self.total}, message={self.message!r})"
