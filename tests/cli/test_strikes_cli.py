"""``strew strike`` and ``strew restore``, run as users run them: in a real process, on Redis."""

from __future__ import annotations

from datetime import timedelta

import pytest

from strew import Disposition, Docket, Worker
from strew.cli.strikes import parse_rule, parse_value

from ..examples.test_examples import load
from ..helpers import wait_until
from .test_cli import flat, strew

ran: list[int] = []


async def charge(customer_id: int, amount: float = 0.0) -> None:
    ran.append(customer_id)


@pytest.fixture(autouse=True)
def _fresh_runs() -> None:
    ran.clear()


async def test_a_strike_from_the_command_line_pauses_producers_and_restore_runs_the_held(
    redis_docket: Docket, redis_url: str
) -> None:
    where = ("--url", redis_url, "--docket", redis_docket.name)
    redis_docket.register(charge)
    await redis_docket.add(charge, key="before-the-strike")(7)

    struck = await strew("strike", "charge", "customer_id", "ge", "5", *where)
    assert struck.code == 0, struck.err
    assert "Struck charge where customer_id >= 5" in struck.out
    assert "Held tasks: 0" in struck.out

    async def refused() -> bool:
        # Until this producer re-reads the rules (within a second) the probe is scheduled like
        # any add; take it back so only the task added before the strike is held below.
        probe = await redis_docket.add(charge, key="probe")(9)
        if probe.disposition is Disposition.STRUCK:
            return True
        await redis_docket.cancel("probe")
        return False

    await wait_until(refused, timeout=5, interval=0.05, message="the producer to see it")
    assert (await redis_docket.add(charge)(4)).disposition is Disposition.SCHEDULED

    async with Worker(redis_docket, poll_ceiling=timedelta(milliseconds=50)) as worker:
        await worker.run_until_finished()
    assert ran == [4]

    snapshot = await strew("snapshot", *where)
    assert snapshot.code == 0, snapshot.err
    assert "Held by strikes: 1 task (charge)" in snapshot.out

    listed = await strew("strike", *where)
    assert listed.code == 0, listed.err
    assert "customer_id >= 5" in listed.out and "Held tasks: 1" in listed.out

    lifted = await strew("restore", "charge", "customer_id", ">=", "5", *where)
    assert lifted.code == 0, lifted.err
    assert "1 held task went back on the schedule" in lifted.out
    assert "No strikes in force" in lifted.out
    async with Worker(redis_docket, poll_ceiling=timedelta(milliseconds=50)) as worker:
        await worker.run_until_finished()
    assert ran == [4, 7]


async def test_the_rule_can_come_from_strew_strike(redis_docket: Docket, redis_url: str) -> None:
    env = {"STREW_URL": redis_url, "STREW_DOCKET": redis_docket.name, "STREW_STRIKE": "charge"}
    result = await strew("strike", env=env)
    assert result.code == 0, result.err
    assert "Struck every call of charge" in result.out
    assert (await redis_docket.store.strikes())[0] == 1


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["charge", "customer_id"], "got 2 words"),
        (["charge", "customer_id", "=~", "1"], "operator must be one of"),
        (["customer_id", "between", "5"], "operator 'between' needs a value of two items"),
        (["charge", "customer id", "==", "1"], "parameter must be the name of an argument"),
    ],
)
async def test_a_bad_rule_is_a_usage_error_and_writes_nothing(
    redis_docket: Docket, redis_url: str, words: list[str], message: str
) -> None:
    result = await strew("strike", *words, "--url", redis_url, "--docket", redis_docket.name)
    assert result.code == 2
    assert message in flat(result.err)
    assert await redis_docket.store.strikes() == (0, [])


async def test_restore_needs_to_be_told_which_strike(redis_docket: Docket, redis_url: str) -> None:
    result = await strew("restore", "--url", redis_url, "--docket", redis_docket.name)
    assert result.code == 2
    assert "say which strike to lift" in flat(result.err)


def test_values_are_json_when_they_parse_and_strings_otherwise() -> None:
    assert parse_value("42") == 42
    assert parse_value('"42"') == "42"
    assert parse_value("[1, 10]") == [1, 10]
    assert parse_value("null") is None
    assert parse_value("eu-west") == "eu-west"
    assert parse_rule(["charge"]) == ("charge", None, "==", None)
    assert parse_rule(["region", "ne", "eu"]) == (None, "region", "!=", "eu")
    assert parse_rule(["charge", "amount", "lt", "9.5"]) == ("charge", "amount", "<", 9.5)


# -- the example the docs point to ---------------------------------------------------------------


@pytest.mark.parametrize("store_kind", ["memory", "redis"])
async def test_the_strikes_demo_holds_customer_13_then_runs_their_orders_after_restore(
    store_kind: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store_kind == "redis":
        monkeypatch.setenv("STREW_URL", redis_url)
    else:
        monkeypatch.delenv("STREW_URL", raising=False)
    demo = load("strikes_demo")
    lines = await demo.main()
    assert lines[:3] == [
        "a new order for customer 13 came back STRUCK",
        "processed B-1 for customer 7",
        "held while struck: 2",
    ]
    assert sorted(lines[3:]) == ["processed A-1 for customer 13", "processed A-2 for customer 13"]


async def test_restoring_a_strike_that_is_not_in_force_says_so(
    redis_docket: Docket, redis_url: str
) -> None:
    where = ("--url", redis_url, "--docket", redis_docket.name)
    await strew("strike", "charge", "customer_id", "==", "1", *where)
    result = await strew("restore", "charge", "customer_id", "==", '"1"', *where)
    assert result.code == 0, result.err
    assert "No strike on charge where customer_id == '1' was in force" in result.out
    assert "customer_id == 1" in result.out  # still listed
