"""``strew scatters``: the listing, one scatter drawn, and both as JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from strew import Agenda, Docket

from .test_cli import strew


async def nap(n: int) -> None:
    """A task nobody runs here."""


async def scatter_some(docket: Docket, count: int = 8) -> str:
    agenda = Agenda()
    for n in range(count):
        agenda.add(nap)(n)
    start = datetime.now(UTC) + timedelta(hours=1)
    done = await agenda.scatter(docket, over=timedelta(minutes=8), start=start)
    assert done.scatter_id is not None
    return done.scatter_id


async def test_scatters_lists_each_with_its_task_size_and_waiting_count(
    redis_docket: Docket, redis_url: str
) -> None:
    scatter_id = await scatter_some(redis_docket)
    result = await strew("scatters", "--url", redis_url, "--docket", redis_docket.name)
    assert result.code == 0, result.err
    assert "Scatters (1)" in result.out
    row = next(line for line in result.out.splitlines() if scatter_id in line)
    assert "nap" in row and "8" in row


async def test_scatters_json_lists_every_field(redis_docket: Docket, redis_url: str) -> None:
    scatter_id = await scatter_some(redis_docket)
    result = await strew("scatters", "--url", redis_url, "--docket", redis_docket.name, "--json")
    assert result.code == 0, result.err
    [row] = json.loads(result.out)
    assert (row["id"], row["task"], row["size"], row["waiting"], row["started"]) == (
        scatter_id,
        "nap",
        8,
        8,
        0,
    )


async def test_one_scatter_is_drawn_planned_against_started(
    redis_docket: Docket, redis_url: str
) -> None:
    scatter_id = await scatter_some(redis_docket)
    args = ("--url", redis_url, "--docket", redis_docket.name, "--slices", "4")
    result = await strew("scatters", scatter_id, *args)
    assert result.code == 0, result.err
    assert "Planned" in result.out and "Started" in result.out
    assert "0 started, 8 waiting" in result.out
    shown = await strew("scatters", scatter_id, *args, "--json")
    body = json.loads(shown.out)
    assert [s["planned"] for s in body["slices"]] == [2, 2, 2, 2]
    assert body["expected_end"] is not None


async def test_an_unknown_scatter_is_said_plainly(redis_docket: Docket, redis_url: str) -> None:
    result = await strew("scatters", "nope", "--url", redis_url, "--docket", redis_docket.name)
    assert result.code == 1
    assert "No scatter 'nope'" in result.out
