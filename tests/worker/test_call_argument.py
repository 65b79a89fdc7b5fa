"""`CallArgument`: the value a task is called with for a parameter — passed, made by its own
dependency (the same value the task gets), or its default — for factories to build on."""

from __future__ import annotations

from typing import Any

import pytest

from strew import CallArgument, CycleError, Depends, Docket, Execution, TaskArgument, Worker

from .test_dependencies import bad_docket


async def run(docket: Docket) -> None:
    async with Worker(docket, concurrency=1) as worker:
        await worker.run_until_finished()


async def test_it_sees_what_the_caller_passed_a_sibling_dependency_and_a_default(
    docket: Docket,
) -> None:
    made: list[str] = []
    seen: list[tuple[Any, ...]] = []

    def make_client() -> str:
        made.append("client")
        return f"client-{len(made)}"

    def describe(
        customer_id: int = CallArgument(),
        client: str = CallArgument(),
        region: str = CallArgument(),
    ) -> str:
        return f"{customer_id}@{client}/{region}"

    async def task(
        customer_id: int,
        region: str = "eu",
        client: str = Depends(make_client),
        description: str = Depends(describe),
    ) -> None:
        seen.append((client, description))

    await docket.add(task)(7)
    await run(docket)
    # The factory saw the very client the task got: made once, not twice.
    assert made == ["client"]
    assert seen == [("client-1", "7@client-1/eu")]


async def test_task_argument_sees_only_what_was_passed_call_argument_sees_more(
    docket: Docket,
) -> None:
    seen: list[tuple[Any, Any]] = []

    async def task(
        n: int,
        region: str = "eu",
        passed: str | None = TaskArgument("region", optional=True),
        called: str = CallArgument("region"),
    ) -> None:
        seen.append((passed, called))

    await docket.add(task)(1)
    await docket.add(task)(2, "us")
    await run(docket)
    assert sorted(seen, key=str) == sorted([(None, "eu"), ("us", "us")], key=str)


async def _takes_anything(*args: object, **kwargs: object) -> None: ...


async def from_a_producer(docket: Docket, name: str, *args: object) -> Execution:
    """Schedule ``name`` as a producer whose copy of the task takes any arguments would (its
    own checks pass), so the worker meets a call its task cannot fill."""
    async with Docket(docket.name, docket.url) as producer:
        producer.register(_takes_anything, names=[name])
        return await producer.add(name)(*args)


async def test_optional_and_default_stand_in_for_a_parameter_without_a_value(
    docket: Docket,
) -> None:
    seen: list[tuple[Any, Any]] = []

    def pick(
        maybe: int | None = CallArgument("limit", optional=True),
        fallback: int = CallArgument("limit", default=100),
    ) -> None:
        seen.append((maybe, fallback))

    async def task(limit: int, picked: None = Depends(pick)) -> None: ...

    docket.register(task)
    await docket.add(task)(5)
    await from_a_producer(docket, "task")  # no value for limit: add() itself would refuse it
    await run(docket)
    assert sorted(seen, key=str) == sorted([(5, 5), (None, 100)], key=str)


async def test_a_parameter_without_any_value_fails_the_run_naming_it(docket: Docket) -> None:
    def need(limit: int = CallArgument()) -> int:
        return limit

    async def task(limit: int, got: int = Depends(need)) -> None: ...

    docket.register(task)
    execution = await from_a_producer(docket, "task")
    await run(docket)
    found = await docket.get_execution(execution.key)
    assert found is not None
    with pytest.raises(TypeError, match=r"parameter 'limit' has no value \(not passed, no "):
        await found.get_result(timeout=10)


async def test_parameters_that_need_each_other_raise_cycle_error(docket: Docket) -> None:
    def first(b: str = CallArgument()) -> str:
        return "a" + b

    def second(a: str = CallArgument()) -> str:
        return "b" + a

    async def task(a: str = Depends(first), b: str = Depends(second)) -> None: ...

    async def breaks_it(a: str = Depends(first), b: str = Depends(second)) -> str:
        return a + b

    execution = await docket.add(task)()
    await run(docket)
    with pytest.raises(CycleError, match=r"parameter 'a' needs itself \(a -> b -> a\)"):
        await execution.get_result(timeout=10)
    # A caller that passes one of them breaks the cycle.
    passed = await docket.add(breaks_it)(a="x")
    await run(docket)
    assert await passed.get_result(timeout=10) == "xbx"


def test_naming_its_own_parameter_on_the_task_is_refused() -> None:
    async def bare(n: int, m: int = CallArgument()) -> None: ...

    async def named(n: int, m: int = CallArgument("m")) -> None: ...

    with pytest.raises(ValueError, match=r"'m' is CallArgument\(\) without a name, which"):
        bad_docket().register(bare)
    with pytest.raises(ValueError, match=r"'m' is CallArgument\(\) naming its own parameter"):
        bad_docket().register(named)


def test_naming_no_parameter_of_the_task_is_refused() -> None:
    def need(limit: int = CallArgument("limt")) -> int:
        return limit

    async def task(limit: int, got: int = Depends(need)) -> None: ...

    with pytest.raises(ValueError, match=r"names 'limt', which is not a parameter of the task"):
        bad_docket().register(task)


@pytest.mark.parametrize(
    ("marker", "problem"),
    [
        (lambda: CallArgument("x", optional=True, default=1), "optional=True or a default"),
        (lambda: CallArgument(3), "parameter must be a parameter name, got 3"),  # type: ignore[arg-type]
        (lambda: CallArgument(""), "parameter must be a parameter name, got ''"),
    ],
)
def test_bad_settings_are_refused_at_register_time(marker: Any, problem: str) -> None:
    bad = marker()

    async def task(x: int = 0, y: Any = bad) -> None: ...

    with pytest.raises(ValueError, match=problem):
        bad_docket().register(task)


async def test_task_argument_also_takes_pydockets_parameter_keyword(docket: Docket) -> None:
    seen: list[int] = []

    async def task(n: int, again: int = TaskArgument(parameter="n")) -> None:
        seen.append(again)

    await docket.add(task)(3)
    await run(docket)
    assert seen == [3]
    with pytest.raises(TypeError, match=r"takes name or parameter .*not both: got name='n'"):
        TaskArgument("n", parameter="m")
