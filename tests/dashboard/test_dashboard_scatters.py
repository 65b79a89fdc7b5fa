"""The scatters front page, a scatter's page and its cancel action, over real HTTP (uvicorn
on a loopback port) on both stores; and ids in URLs that must give a clean 4xx."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from strew import Agenda, Docket
from strew.dashboard import strew_dashboard

from .serving import served


async def ping(n: int) -> None:
    """A task of the tests' own: only scattered here."""


@pytest.fixture
async def client(docket: Docket) -> AsyncIterator[httpx.AsyncClient]:
    docket.register(ping)
    async with (
        served(strew_dashboard(docket)) as base,
        httpx.AsyncClient(base_url=base, follow_redirects=False) as client,
    ):
        yield client


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def scatter(docket: Docket, count: int, start: datetime) -> str:
    agenda = Agenda()
    for n in range(count):
        agenda.add(ping, key=f"ping-{n}")(n)
    done = await agenda.scatter(docket, over=timedelta(minutes=10), start=start)
    assert done.scatter_id is not None
    return done.scatter_id


async def test_the_front_page_says_so_when_no_scatter_is_kept(
    client: httpx.AsyncClient,
) -> None:
    empty = await client.get("/")
    assert empty.status_code == 200 and "No scatter is kept" in empty.text


async def test_the_front_page_lists_each_scatter_with_its_counts(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    scatter_id = await scatter(docket, 6, datetime.now(UTC) + timedelta(hours=1))
    page = await client.get("/")
    assert "<title>Scatters" in page.text
    row = page.text.split(f'href="/scatters/{scatter_id}"')[1].split("</tr>")[0]
    cells = re.findall(r"<td>(.*?)</td>", row.split("</td>", 1)[1])
    assert cells[0] == "ping" and cells[1] == "6" and cells[4] == "atomic"
    assert (cells[5], cells[6]) == ("6", "0")  # six waiting, none started


async def test_a_scatter_page_draws_planned_against_started_and_cancels_after_asking(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    scatter_id = await scatter(docket, 6, datetime.now(UTC) + timedelta(hours=1))
    page = await client.get(f"/scatters/{scatter_id}")
    assert page.status_code == 200
    assert page.text.count('<rect class="planned"') == 6
    assert '<rect class="started"' not in page.text
    assert "<dt>Waiting</dt><dd>6</dd>" in page.text
    asked = await client.get(f"/cancel-scatter?id={scatter_id}")
    assert f"Cancel scatter {scatter_id} (ping)? This removes its 6 waiting tasks" in asked.text
    assert (await docket.store.task_state("ping-0")).scheduled is not None
    done = await client.post("/cancel-scatter", data={"id": scatter_id, "csrf": csrf_of(asked)})
    assert done.status_code == 303 and done.headers["location"] == f"/scatters/{scatter_id}"
    for n in range(6):
        assert (await docket.store.task_state(f"ping-{n}")).scheduled is None
    after = await client.get(f"/scatters/{scatter_id}")
    assert '<span class="state cancelled">' in after.text and "Cancel scatter" not in after.text
    listed = await client.get("/")
    assert "cancelled" in listed.text


async def test_a_cancel_without_this_browsers_token_cancels_nothing(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    scatter_id = await scatter(docket, 2, datetime.now(UTC) + timedelta(hours=1))
    refused = await client.post("/cancel-scatter", data={"id": scatter_id, "csrf": "x" * 32})
    assert refused.status_code == 403
    assert (await docket.store.task_state("ping-1")).scheduled is not None


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/scatters/no-such-scatter", 404),
        ("/scatters/%00", 400),
        ("/scatters/a%0Ab", 404),  # no route matches a line break
        ("/scatters/%7B%7D", 400),
        ("/scatters/" + "x" * 201, 400),
        ("/scatters/%FF%FE", 404),
        ("/scatters/..%2F..%2Fetc%2Fpasswd", 404),
        ("/live/scatter", 400),
        ("/live/scatter?id=", 400),
        ("/cancel-scatter", 400),
        ("/cancel-scatter?id=no-such-scatter", 404),
        ("/cancel-scatter?id=*", 400),
    ],
)
async def test_a_bad_scatter_id_gets_a_clean_client_error(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path)
    assert response.status_code == status, response.text
    assert "<html" in response.text


async def test_read_only_draws_no_cancel_and_serves_no_cancel_route(docket: Docket) -> None:
    scatter_id = await scatter(docket, 3, datetime.now(UTC) + timedelta(hours=1))
    async with (
        served(strew_dashboard(docket, read_only=True)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        page = await client.get(f"/scatters/{scatter_id}")
        assert page.status_code == 200 and "Cancel scatter" not in page.text
        assert (await client.get(f"/cancel-scatter?id={scatter_id}")).status_code in (404, 405)
        posted = await client.post("/cancel-scatter", data={"id": scatter_id})
        assert posted.status_code in (404, 405)
    assert (await docket.store.task_state("ping-2")).scheduled is not None
