"""`Logged`: a task's log lines show only the arguments whose parameters are marked, as in
pydocket; `strew snapshot` and `strew watch` still show every argument."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

import pytest

from strew import Docket, Execution, Logged, Worker
from strew.task.annotations import logged_parameters


class Address:
    def __init__(self, city: str) -> None:
        self.city = city


async def setup_customer(
    customer_id: Annotated[int, Logged],
    addresses: Annotated[list[Address], Logged(length_only=True)],
    password: str,
    *,
    region: Annotated[str, Logged] = "eu",
    note: str = "",
) -> None: ...


async def collect(
    first: str, *rest: Annotated[str, Logged], **options: Annotated[Any, Logged]
) -> None: ...


async def unresolvable(item: Annotated[int, Logged], other: NoSuchName) -> None:  # type: ignore[name-defined]  # noqa: F821
    ...


def execution(function: Any, *args: Any, **kwargs: Any) -> Execution:
    docket = Docket("unused", "memory://logged")
    return Execution(docket, function, function.__name__, args, kwargs, "k", datetime.now(UTC))


def test_only_logged_arguments_show_the_rest_are_dots() -> None:
    call = execution(setup_customer, 123, [Address("a"), Address("b")], "s3cret", note="vip")
    assert call.call_repr() == "setup_customer(123, [len 2], ..., note=...)"
    assert "s3cret" not in repr(call)


def test_keyword_arguments_are_shown_by_their_parameter() -> None:
    call = execution(setup_customer, customer_id=7, addresses=[], password="x", region="us")
    assert call.call_repr() == (
        "setup_customer(customer_id=7, addresses=[len 0], password=..., region='us')"
    )


@pytest.mark.parametrize(
    ("argument", "shown"),
    [
        ([1, 2, 3], "[len 3]"),
        ((1, 2), "(len 2)"),
        ({"a": 1}, "{len 1}"),
        ({1, 2, 3, 4}, "{len 4}"),
        ("abcde", "[len 5]"),
        (42, "42"),  # no length: its repr
    ],
)
def test_length_only_shows_the_length_in_the_shape_of_the_container(
    argument: object, shown: str
) -> None:
    assert Logged(length_only=True).format(argument) == shown


def test_star_args_and_star_kwargs_mark_everything_they_collect() -> None:
    call = execution(collect, "hidden", "a", "b", colour="red")
    assert call.call_repr() == "collect(..., 'a', 'b', colour='red')"


def test_a_function_without_markers_shows_no_argument() -> None:
    async def greet(name: str, greeting: str = "Hello") -> None: ...

    assert execution(greet, "Jane", greeting="Hi").call_repr() == "greet(..., greeting=...)"


def test_unresolvable_annotations_log_nothing_rather_than_fail() -> None:
    assert logged_parameters(unresolvable) == {}
    assert execution(unresolvable, 1, 2).call_repr() == "unresolvable(..., ...)"


def test_all_arguments_shows_every_argument_for_the_views_that_ask() -> None:
    call = execution(setup_customer, 123, [], "s3cret")
    assert call.call_repr(all_arguments=True) == "setup_customer(123, [], 's3cret')"


def test_a_long_argument_list_is_cut() -> None:
    call = execution(collect, "x", *(["y" * 50] * 5))
    shown = call.call_repr()
    assert len(shown) == len("collect()") + 120
    assert shown.endswith("...)")


def test_length_only_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="length_only must be True or False, got 'yes'"):
        Logged(length_only="yes")  # type: ignore[arg-type]


async def test_the_worker_log_line_hides_unlogged_arguments(
    docket: Docket, caplog: pytest.LogCaptureFixture
) -> None:
    await docket.add(setup_customer)(99, [Address("x")], "s3cret")
    with caplog.at_level(logging.INFO, logger="strew.worker"):
        async with Worker(docket) as worker:
            await worker.run_until_finished()
    started = [r.getMessage() for r in caplog.records if r.getMessage().startswith("started")]
    assert len(started) == 1
    assert started[0].startswith("started setup_customer(99, [len 1], ...) (key ")
    assert "s3cret" not in caplog.text


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no")


async def show(item: Annotated[Unprintable, Logged]) -> None: ...


def test_an_argument_whose_repr_raises_is_named_by_its_type() -> None:
    call = execution(show, Unprintable())
    assert call.call_repr() == "show(<Unprintable whose repr raised RuntimeError>)"
    assert call.call_repr(all_arguments=True) == call.call_repr()


def test_reading_a_functions_markers_does_not_keep_it_alive() -> None:
    # Workers read every task's layout; a task defined and dropped (in a test, a plugin
    # reload) must still go away.
    import gc
    import weakref

    def make() -> Any:
        async def short_lived(x: Annotated[int, Logged]) -> None: ...

        return short_lived

    function = make()
    assert execution(function, 1).call_repr() == "short_lived(1)"
    ref = weakref.ref(function)
    del function
    gc.collect()
    assert ref() is None
