"""`docket.add(fn)(...)`, `docket.call(fn)(...)` and `replace` check the call against ``fn``'s
signature before writing: a misspelt keyword is refused at once, not when a worker runs it."""

from __future__ import annotations

import pytest

from strew import Agenda, Docket, Retry, TaskKey
from strew.task.signatures import call_problem


async def send_email(
    to: str,
    subject: str = "hello",
    *,
    urgent: bool = False,
    key: str = TaskKey(),
    retry: Retry = Retry(attempts=2),
) -> None: ...


def positional_only(a: int, /, b: int) -> None: ...


def anything(*args: object, **kwargs: object) -> None: ...


@pytest.mark.parametrize(
    ("function", "args", "kwargs", "problem"),
    [
        (send_email, (), {}, "missing 1 required argument: 'to'"),
        (send_email, ("a@b.c",), {"subjct": "x"}, "got an unexpected keyword argument 'subjct'"),
        (send_email, ("a@b.c", "s", True), {}, "takes 2 positional arguments but 3 were given"),
        (send_email, ("a@b.c",), {"to": "x"}, "got multiple values for argument 'to'"),
        (positional_only, (), {"a": 1, "b": 2}, "got an unexpected keyword argument 'a'"),
        (send_email, ("a@b.c",), {"urgent": True}, None),
        (send_email, (), {"to": "a@b.c", "key": "mine"}, None),  # a marker may be passed
        (positional_only, (1, 2), {}, None),
        (anything, (1, 2, 3), {"x": 1}, None),
    ],
)
def test_a_call_is_checked_as_python_would(
    function: object, args: tuple[object, ...], kwargs: dict[str, object], problem: str | None
) -> None:
    assert call_problem(function, args, kwargs) == problem  # type: ignore[arg-type]


async def test_a_bad_call_is_refused_before_anything_is_written(docket: Docket) -> None:
    with pytest.raises(
        TypeError,
        match=r"task 'send_email': send_email\(\) got an unexpected keyword argument 'subjct'",
    ):
        await docket.add(send_email)("a@b.c", subjct="typo")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing 1 required argument: 'to'"):
        await docket.replace(send_email, key="k")()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="takes 2 positional arguments but 3 were given"):
        docket.call(send_email)("a@b.c", "s", True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'subjct'"):
        await docket.add("send_email", when=None)(to="a@b.c", subjct="x")
    assert (await docket.snapshot()).total_tasks == 0
    good = await docket.add(send_email, key="ok")("a@b.c", urgent=True)
    assert good.key == "ok" and (await docket.snapshot()).total_tasks == 1
    await docket.cancel("ok")


def test_an_agenda_refuses_a_bad_call_when_it_is_recorded() -> None:
    agenda = Agenda()
    with pytest.raises(TypeError, match="unexpected keyword argument 'subjct'"):
        agenda.add(send_email)("a@b.c", subjct="typo")  # type: ignore[call-arg]
    assert len(agenda) == 0
