"""A key Redis cannot hold (a lone surrogate, which no UTF-8 encodes) is refused by every entry
point with the argument's name, before anything is written, on both stores: it used to leak
a bare UnicodeEncodeError from Redis and pass unnoticed on the memory store."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from strew import Agenda, Docket

BAD = "a\ud800"


async def noop(n: int = 0) -> None:
    pass


async def nothing_stored(docket: Docket) -> bool:
    snapshot = await docket.snapshot()
    return snapshot.total_tasks == 0 and not snapshot.future


async def test_add_refuses_an_unencodable_key(docket: Docket) -> None:
    with pytest.raises(ValueError, match=r"key must be encodable as UTF-8.*a\\ud800"):
        await docket.add(noop, key=BAD)()
    assert await nothing_stored(docket)


async def test_replace_refuses_an_unencodable_key(docket: Docket) -> None:
    with pytest.raises(ValueError, match="key must be encodable as UTF-8"):
        await docket.replace(noop, key=BAD)()
    assert await nothing_stored(docket)


async def test_cancel_refuses_an_unencodable_key(docket: Docket) -> None:
    await docket.add(noop, key="kept")()
    with pytest.raises(ValueError, match="key must be encodable as UTF-8"):
        await docket.cancel(BAD)
    assert [e.key for e in (await docket.snapshot()).future] == ["kept"]


async def test_add_many_refuses_an_unencodable_key_naming_the_call(docket: Docket) -> None:
    # As a caller building TaskCalls by hand might.
    calls = [docket.call(noop, key="fine")(1), replace(docket.call(noop)(2), key=BAD)]
    with pytest.raises(ValueError, match=r"calls\[1\]\.key must be encodable as UTF-8"):
        await docket.add_many(calls)
    assert await nothing_stored(docket)


async def test_agenda_refuses_an_unencodable_key(docket: Docket) -> None:
    agenda = Agenda()
    agenda.add(noop, key="fine")(1)
    with pytest.raises(ValueError, match="key must be encodable as UTF-8"):
        agenda.add(noop, key=BAD)(2)
    await agenda.scatter(docket, over=timedelta(seconds=1))
    assert [e.key for e in (await docket.snapshot()).future] == ["fine"]
