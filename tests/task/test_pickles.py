"""`plain_loads` reads plain values and refuses, without calling it, anything else a pickle
names."""

from __future__ import annotations

import os
import pickle
import uuid
from collections import OrderedDict
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

import cloudpickle
import pytest

from strew.task.pickles import plain_loads

PLAIN: list[Any] = [
    None,
    True,
    42,
    2**100,
    1.5,
    complex(1, 2),
    "text with ünïcode",
    b"bytes",
    bytearray(b"mutable"),
    (1, "two"),
    [1, [2, [3]]],
    {"a": {1, 2}, "b": frozenset({3})},
    OrderedDict(a=1),
    datetime(2026, 12, 7, 15, 0, tzinfo=UTC),
    datetime(2026, 12, 7, 15, 0, tzinfo=timezone(timedelta(hours=2))),
    date(2026, 12, 7),
    time(15, 0),
    timedelta(seconds=90),
    Decimal("1.10"),
    Fraction(1, 3),
    uuid.UUID(int=7),
    range(3),
    slice(1, 2),
]


@pytest.mark.parametrize("value", PLAIN, ids=lambda value: type(value).__name__)
@pytest.mark.parametrize("protocol", [2, 4, pickle.HIGHEST_PROTOCOL])
def test_plain_values_read_back_equal(value: Any, protocol: int) -> None:
    assert plain_loads(pickle.dumps(value, protocol=protocol)) == value


class Planted:
    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (os.system, ("echo planted",))


class Mine:
    pass


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (pickle.dumps(Planted()), "posix.system"),
        (pickle.dumps(Mine()), "Mine"),
        (cloudpickle.dumps(lambda: 1), "cloudpickle"),
        (pickle.dumps(print), "builtins.print"),
        (pickle.dumps(datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Paris"))), "getattr"),
    ],
    ids=["os.system", "a class of the caller's", "a lambda", "a builtin function", "getattr"],
)
def test_anything_else_is_refused_naming_it_before_it_is_called(
    payload: bytes, named: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(pickle.UnpicklingError, match="refused to load") as raised:
        plain_loads(payload)
    assert named in str(raised.value)
    assert "planted" not in capfd.readouterr().out


def test_a_persistent_id_is_refused() -> None:
    # Protocol 0 PERSID opcode: "P<id>\n" then STOP.
    with pytest.raises(pickle.UnpicklingError, match="persistent id"):
        plain_loads(b"Pabc\n.")


def test_a_malformed_pickle_raises_instead_of_returning() -> None:
    with pytest.raises(Exception):  # noqa: B017 - whatever pickle raises for garbage
        plain_loads(b"\x80\x05not a pickle")
