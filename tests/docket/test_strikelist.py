"""`StrikeList`: pydocket's view of the strikes, as ``docket.strike_list`` and on its own."""

from __future__ import annotations

from typing import Any

import pytest

from strew import (
    Disposition,
    Docket,
    Operator,
    StoreAuthError,
    StoreUnavailable,
    Strike,
    StrikeList,
    Worker,
)
from strew.docket.strikelist import StrikeList as DocketStrikeList
from strew.stores.memory.store import _registry
from strew.strikelist import Restore

ran: list[tuple[str, Any]] = []


async def charge(customer_id: int, amount: int = 0) -> None:
    ran.append(("charge", customer_id))


@pytest.fixture(autouse=True)
def _fresh_runs() -> None:
    ran.clear()


def test_the_names_import_from_strew_as_from_docket() -> None:
    import strew.strikelist

    assert strew.strikelist.StrikeList is StrikeList is DocketStrikeList
    assert strew.strikelist.Strike is Strike
    assert strew.strikelist.Operator is Operator
    assert Operator("between") is Operator.BETWEEN
    assert isinstance(Operator.EQUAL, str) and str(Operator.GREATER_THAN_OR_EQUAL) == ">="


async def test_a_dockets_strike_list_shows_its_strikes_in_pydockets_views(docket: Docket) -> None:
    assert isinstance(docket.strike_list, StrikeList)
    await docket.wait_for_strikes_loaded()
    assert docket.strike_list.task_strikes == {}
    assert docket.strike_list.parameter_strikes == {}

    await docket.strike(charge)
    await docket.strike(charge, "amount", ">=", 1000)
    await docket.strike("refund", "customer_id", "between", [1, 9])
    await docket.strike(None, "customer_id", "==", 13)
    assert docket.strike_list.task_strikes == {
        "charge": {"amount": {(Operator.GREATER_THAN_OR_EQUAL, 1000)}},
        "refund": {"customer_id": {(Operator.BETWEEN, (1, 9))}},
    }
    assert docket.strike_list.parameter_strikes == {"customer_id": {(Operator.EQUAL, 13)}}

    await docket.restore(charge, "amount", ">=", 1000)
    assert docket.strike_list.task_strikes["charge"] == {}  # struck whole: no conditions
    for args in ((charge,), ("refund", "customer_id", "between", (1, 9))):
        await docket.restore(*args)
    await docket.restore(None, "customer_id", "==", 13)
    assert docket.strike_list.task_strikes == {}
    assert docket.strike_list.parameter_strikes == {}


async def test_a_dockets_strike_list_checks_executions_and_argument_mappings(
    docket: Docket,
) -> None:
    await docket.strike(None, "customer_id", "==", 13)
    await docket.strike(charge, "amount", ">", 100)
    free = await docket.add(charge)(1, 50)
    struck = await docket.add(charge)(2, 500)
    assert struck.disposition is Disposition.STRUCK
    assert not docket.strike_list.is_stricken(free)
    assert docket.strike_list.is_stricken(struck)
    # A mapping is checked against the strikes that name no function, as in pydocket.
    assert docket.strike_list.is_stricken({"customer_id": 13})
    assert not docket.strike_list.is_stricken({"customer_id": 12, "amount": 500})
    assert not docket.strike_list.is_stricken({})
    assert not docket.strike_list.is_stricken({"customer_id": "13"})  # == on another type
    await docket.restore(None, "customer_id", "==", 13)
    await docket.restore(charge, "amount", ">", 100)
    await docket.cancel(free.key)


async def test_wait_for_strikes_loaded_reads_strikes_made_by_another_docket(
    docket: Docket,
) -> None:
    async with Docket(docket.name, docket.url) as admin:
        await admin.strike(None, "customer_id", "==", 13)
    await docket.wait_for_strikes_loaded()
    assert docket.strike_list.is_stricken({"customer_id": 13})
    await docket.restore(None, "customer_id", "==", 13)


async def test_a_standalone_strike_list_follows_the_docket_of_its_name(docket: Docket) -> None:
    await docket.strike(None, "region", "==", "eu-west")
    async with StrikeList(url=docket.url, name=docket.name) as strikes:
        await strikes.wait_for_strikes_loaded()
        assert strikes.is_stricken({"region": "eu-west"})
        assert not strikes.is_stricken({"region": "us-east"})

        await docket.strike(charge, "customer_id", "<", 3)
        await strikes.refresh()  # what its background reads do every half second
        assert strikes.task_strikes == {"charge": {"customer_id": {(Operator.LESS_THAN, 3)}}}

        await docket.restore(None, "region", "==", "eu-west")
        await docket.restore(charge, "customer_id", "<", 3)
        await strikes.refresh()
        assert strikes.parameter_strikes == {}
        assert strikes.task_strikes == {}


async def test_a_standalone_strike_pauses_the_dockets_work_until_its_restore(
    docket: Docket,
) -> None:
    for customer in (1, 2, 3):
        await docket.add(charge, key=f"charge-{customer}")(customer)
    async with StrikeList(url=docket.url, name=docket.name) as strikes:
        await strikes.strike("charge", "customer_id", ">=", 2)
        assert strikes.task_strikes == {
            "charge": {"customer_id": {(Operator.GREATER_THAN_OR_EQUAL, 2)}}
        }
        await docket.strike_list.refresh()
        assert (await docket.add(charge)(5)).disposition is Disposition.STRUCK
        async with Worker(docket) as worker:
            await worker.run_until_finished()
        assert ran == [("charge", 1)]
        assert (await docket.snapshot()).held_total == 2

        await strikes.restore("charge", "customer_id", Operator.GREATER_THAN_OR_EQUAL, 2)
        assert strikes.task_strikes == {}
    async with Worker(docket) as worker:
        await worker.run_until_finished()
    assert sorted(ran) == [("charge", 1), ("charge", 2), ("charge", 3)]


async def test_strike_lists_of_other_names_do_not_share_strikes(docket: Docket) -> None:
    async with StrikeList(url=docket.url, name=f"{docket.name}-other") as other:
        await other.wait_for_strikes_loaded()
        await docket.strike(None, "customer_id", "==", 13)
        await other.refresh()
        assert not other.is_stricken({"customer_id": 13})
    await docket.restore(None, "customer_id", "==", 13)
    _registry.pop((docket.url, f"{docket.name}-other"), None)


async def test_a_strike_list_without_a_url_keeps_its_strikes_in_this_process() -> None:
    async with StrikeList() as strikes:
        await strikes.wait_for_strikes_loaded()  # nothing to load
        strikes.update(Strike(None, "customer_id", Operator.EQUAL, "blocked"))
        strikes.update(Strike("charge", "amount", "between", [10, 20]))
        assert strikes.is_stricken({"customer_id": "blocked"})
        assert not strikes.is_stricken({"customer_id": "allowed"})
        assert strikes.task_strikes == {"charge": {"amount": {(Operator.BETWEEN, (10, 20))}}}
        strikes.update(Restore(None, "customer_id", "==", "blocked"))
        assert not strikes.is_stricken({"customer_id": "blocked"})
        with pytest.raises(RuntimeError, match="no url"):
            await strikes.strike(None, "customer_id", "==", "blocked")
        with pytest.raises(RuntimeError, match="no url"):
            await strikes.restore(None, "customer_id", "==", "blocked")


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"url": "nope://x"}, ValueError, "nope://x"),
        ({"url": 42}, TypeError, "42"),
        ({"name": ""}, ValueError, "name"),
        ({"name": 7}, TypeError, "name must be a string, got 7"),
        ({"enable_internal_instrumentation": "yes"}, TypeError, "got 'yes'"),
        ({"allow_eviction": "no"}, TypeError, "allow_eviction must be True or False"),
        ({"signing_key": 5}, TypeError, "signing_key"),
    ],
)
def test_a_bad_strike_list_argument_is_refused_naming_it(
    arguments: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        StrikeList(**arguments)
    assert message in str(raised.value)


async def test_a_bad_strike_or_update_is_refused_and_nothing_is_written(docket: Docket) -> None:
    async with StrikeList(url=docket.url, name=docket.name) as strikes:
        with pytest.raises(ValueError, match="operator must be one of"):
            await strikes.strike("charge", "amount", "=~", 1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="between' needs a value"):
            await strikes.strike(None, "amount", "between", 5)
        with pytest.raises(ValueError, match="needs a function, a parameter, or both"):
            strikes.update(Strike(None, None))
        with pytest.raises(TypeError, match="must be a Strike or a Restore, got 'x'"):
            strikes.update("x")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="must be an Execution or a mapping, got 3"):
            strikes.is_stricken(3)  # type: ignore[arg-type]
    assert await docket.store.strikes() == (0, [])


async def test_a_store_that_refuses_us_stops_the_reads_and_wait_raises_it(
    docket: Docket, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refused() -> tuple[int, list[bytes]]:
        raise StoreAuthError("WRONGPASS invalid username-password pair")

    strikes = StrikeList(url=docket.url, name=docket.name)
    assert strikes._store is not None
    monkeypatch.setattr(strikes._store, "strikes", refused)
    async with strikes:
        with pytest.raises(StoreAuthError, match="WRONGPASS"):
            await strikes.wait_for_strikes_loaded()
        assert strikes.rules() == []


async def test_a_failed_read_is_logged_and_the_last_rules_stay(
    docket: Docket, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    await docket.strike(None, "customer_id", "==", 13)
    strikes = StrikeList(url=docket.url, name=docket.name)
    assert await strikes.poll()
    assert strikes._store is not None

    async def down() -> tuple[int, list[bytes]]:
        raise StoreUnavailable("connection refused")

    monkeypatch.setattr(strikes._store, "strikes", down)
    assert strikes._book is not None
    strikes._book.invalidate()
    assert not await strikes.poll()
    assert "could not read the strikes: connection refused" in caplog.text
    assert strikes.is_stricken({"customer_id": 13})
    monkeypatch.undo()  # the memory store is the docket's own object
    await strikes.close()
    await docket.restore(None, "customer_id", "==", 13)


async def test_a_strike_list_with_a_signing_key_reads_only_the_rules_it_signs(
    docket: Docket,
) -> None:
    key = "a-signing-key-of-32-bytes-length"
    async with Docket(docket.name, docket.url, signing_key=key) as signed:
        await signed.strike(None, "customer_id", "==", 13)
        await docket.strike(None, "customer_id", "==", 14)  # unsigned: anyone could write it
        async with (
            StrikeList(url=docket.url, name=docket.name, signing_key=key) as keyed,
            StrikeList(url=docket.url, name=docket.name, signing_key=[]) as unkeyed,
        ):
            await keyed.wait_for_strikes_loaded()
            await unkeyed.wait_for_strikes_loaded()
            assert keyed.parameter_strikes == {"customer_id": {(Operator.EQUAL, 13)}}
            assert unkeyed.parameter_strikes == {
                "customer_id": {(Operator.EQUAL, 13), (Operator.EQUAL, 14)}
            }
        await signed.restore(None, "customer_id", "==", 13)
        await docket.restore(None, "customer_id", "==", 14)
