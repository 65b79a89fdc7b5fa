"""Registering task functions the ways pydocket programs do: ``register(fn, names=...)`` and
``register_collection("module:collection")``."""

from __future__ import annotations

import pytest

from strew import Docket, Retry, Worker
from strew.docket.registry import TaskImportError

ran: list[str] = []


async def first(word: str) -> None:
    ran.append(f"first {word}")


async def second(word: str) -> None:
    ran.append(f"second {word}")


async def badly_marked(retry: Retry = Retry(attempts=0)) -> None:
    """A task whose marker cannot work: registering it must fail."""


collection = [first, second]
broken_collection = [first, badly_marked]
not_a_collection = 42


@pytest.mark.parametrize("names", [None, []])
async def test_registering_without_names_uses_the_function_name(
    docket: Docket, names: list[str] | None
) -> None:
    docket.register(first, names=names)
    assert docket.tasks == {"first": first}


async def test_a_collection_named_by_an_import_string_is_registered_and_runs(
    docket: Docket,
) -> None:
    ran.clear()
    docket.register_collection(f"{__name__}:collection")
    assert docket.tasks == {"first": first, "second": second}
    await docket.add("first")("a")
    await docket.add("second")("b")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert sorted(ran) == ["first a", "second b"]


@pytest.mark.parametrize(
    ("path", "complaint"),
    [
        ("", "an import string is module:attribute or module, got ''"),
        ("tests.no_such_module_here:tasks", "no module named 'tests.no_such_module_here'"),
        (f"{__name__}:nothing_here", "has no attribute 'nothing_here'"),
        (f"{__name__}:not_a_collection", "must name a list of task functions, got int 42"),
        (f"{__name__}:", "is not an import string"),
    ],
)
async def test_a_collection_path_that_leads_nowhere_is_refused_by_name(
    docket: Docket, path: str, complaint: str
) -> None:
    with pytest.raises(TaskImportError, match=complaint):
        docket.register_collection(path)
    assert docket.tasks == {}


async def test_a_collection_with_one_unfit_task_registers_none_of_them(docket: Docket) -> None:
    with pytest.raises(ValueError, match="attempts must be a positive integer or None, got 0"):
        docket.register_collection(f"{__name__}:broken_collection")
    assert docket.tasks == {}


async def test_a_collection_path_that_is_not_a_string_is_refused(docket: Docket) -> None:
    with pytest.raises(TaskImportError, match="got 42"):
        docket.register_collection(42)  # type: ignore[arg-type]


async def test_the_standard_tasks_answer_to_pydockets_name(docket: Docket) -> None:
    from strew.cli.loading import import_tasks
    from strew.tasks import standard, standard_tasks

    assert standard_tasks is standard
    assert import_tasks("strew.tasks:standard_tasks") == standard
    docket.register_collection("strew.tasks:standard_tasks")
    assert sorted(docket.tasks) == ["fail", "sleep", "trace"]
    await docket.add("trace")("hello from pydocket's name")
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert worker.stats.succeeded == 1
