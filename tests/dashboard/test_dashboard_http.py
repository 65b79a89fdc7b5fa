"""The dashboard over real HTTP (uvicorn on a loopback port) on both stores: each page's
contents, the actions and their guards, and URLs that must give a clean 4xx."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from strew import Docket, ExecutionState
from strew.dashboard import strew_dashboard
from strew.task.clock import utc_now

from .serving import served


async def remind(text: str) -> None:
    """A task of the tests' own: only its name and arguments are shown."""


@pytest.fixture
async def client(docket: Docket) -> AsyncIterator[httpx.AsyncClient]:
    docket.register(remind)
    async with (
        served(strew_dashboard(docket)) as base,
        httpx.AsyncClient(base_url=base, follow_redirects=False) as client,
    ):
        yield client


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def test_the_load_ahead_page_draws_the_tasks_due_in_the_next_hour(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    soon = utc_now() + timedelta(minutes=5)
    for i in range(3):
        await docket.add(remind, when=soon, key=f"soon-{i}")(f"call {i}")
    await docket.add(remind, when=utc_now() + timedelta(hours=5), key="later")("later")
    page = await client.get("/load")
    assert page.status_code == 200
    assert "<b>4</b> tasks scheduled or running" in page.text
    assert "<b>3</b> due in the next hour" in page.text
    assert page.text.count('<rect class="bar"') == 1
    day = await client.get("/load?span=day")
    assert "<b>4</b> due in the next day" in day.text
    assert day.text.count('<rect class="bar"') == 2


async def test_every_page_of_the_navigation_answers_and_links_the_others(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/", "/load", "/running", "/workers", "/strikes", "/held", "/punctuality"):
        page = await client.get(path)
        assert page.status_code == 200, (path, page.text)
        for link in ("/load", "/running", "/workers", "/strikes", "/held", "/punctuality"):
            assert f'href="{link}"' in page.text
        live = page.text.split('data-live="')[1].split('"')[0]
        fragment = await client.get(live.replace("&amp;", "&"))
        assert fragment.status_code == 200 and "<html" not in fragment.text


async def test_the_task_page_shows_a_scheduled_task_and_cancelling_it_asks_first(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await docket.add(remind, when=utc_now() + timedelta(hours=1), key="a task/with ünïcode")(
        "water the plants"
    )
    page = await client.get("/tasks/a%20task%2Fwith%20%C3%BCn%C3%AFcode")
    assert page.status_code == 200
    assert "scheduled" in page.text and "remind(&#x27;water the plants&#x27;)" in page.text
    asked = await client.get("/cancel", params={"key": "a task/with ünïcode"})
    assert "Cancel task a task/with ünïcode (remind, scheduled)?" in asked.text
    execution = await docket.get_execution("a task/with ünïcode")
    assert execution is not None and execution.state is ExecutionState.SCHEDULED
    done = await client.post("/cancel", data={"key": "a task/with ünïcode", "csrf": csrf_of(asked)})
    assert done.status_code == 303
    assert done.headers["location"] == "/tasks/a%20task%2Fwith%20%C3%BCn%C3%AFcode"
    execution = await docket.get_execution("a task/with ünïcode")
    assert execution is not None and execution.state is ExecutionState.CANCELLED
    after = await client.get(done.headers["location"])
    assert "cancelled" in after.text and "Cancel this task" not in after.text


async def test_an_action_without_this_browsers_token_or_from_another_site_is_refused(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await docket.add(remind, when=utc_now() + timedelta(hours=1), key="kept")("x")
    asked = await client.get("/cancel", params={"key": "kept"})
    token = csrf_of(asked)
    no_token = await client.post("/cancel", data={"key": "kept"})
    wrong = await client.post("/cancel", data={"key": "kept", "csrf": "x" * 32})
    elsewhere = await client.post(
        "/cancel",
        data={"key": "kept", "csrf": token},
        headers={"origin": "https://evil.example"},
    )
    as_json = await client.post("/cancel", json={"key": "kept", "csrf": token})
    fresh = httpx.AsyncClient(base_url=str(client.base_url))
    async with fresh:
        no_cookie = await fresh.post("/cancel", data={"key": "kept", "csrf": token})
    assert [r.status_code for r in (no_token, wrong, elsewhere, no_cookie)] == [403] * 4
    assert as_json.status_code == 415
    execution = await docket.get_execution("kept")
    assert execution is not None and execution.state is ExecutionState.SCHEDULED


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tasks/" + "k" * 1025, 400),
        ("/tasks?key=", 400),
        ("/tasks", 400),
        ("/live/task", 400),
        ("/tasks/%E2%98%83%20unknown", 404),
        ("/tasks/..%2F..%2Fetc%2Fpasswd", 404),
        ("/tasks/../../etc/passwd", 404),
        ("/tasks/%00", 404),
        ("/tasks/%ff%fe", 404),
        ("/static/../app.py", 404),
        ("/static/..%2Fapp.py", 404),
        ("/static/dashboard.py", 404),
        ("/load?span=week", 400),
        ("/load?span=" + "x" * 5000, 400),
        ("/nowhere", 404),
        ("/cancel?key=", 400),
        ("/quarantine/drop", 400),
        ("/strikes/lift?parameter=p&operator=~&value=1", 400),
        ("/strikes/lift?parameter=p&operator=%3D%3D&value=not-json", 400),
    ],
)
async def test_a_bad_url_gets_a_clean_client_error(
    client: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await client.get(path)
    assert response.status_code == status, response.text
    assert "<html" in response.text or response.status_code == 404


async def test_strikes_are_added_and_lifted_from_their_page(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    page = await client.get("/strikes")
    assert "No strikes in force." in page.text
    added = await client.post(
        "/strikes/add",
        data={
            "function": "remind",
            "parameter": "text",
            "operator": "==",
            "value": "spam",
            "csrf": csrf_of(page),
        },
    )
    assert added.status_code == 303
    await docket.strike_book.refresh()
    assert [r.describe() for r in docket.strike_book.rules] == ["remind where text == 'spam'"]
    page = await client.get("/strikes")
    assert "text == &#x27;spam&#x27;" in page.text
    lift = re.search(r'href="(/strikes/lift\?[^"]+)"', page.text)
    assert lift
    asked = await client.get(lift.group(1).replace("&amp;", "&"))
    assert "Lift the strike on remind where text == &#x27;spam&#x27;?" in asked.text
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', asked.text))
    lifted = await client.post(
        "/strikes/lift", data={k: v.replace("&quot;", '"') for k, v in fields.items()}
    )
    assert lifted.status_code == 303
    await docket.strike_book.refresh()
    assert docket.strike_book.rules == []


async def test_a_bad_strike_is_refused_naming_what_is_wrong(client: httpx.AsyncClient) -> None:
    page = await client.get("/strikes")
    refused = await client.post(
        "/strikes/add",
        data={"parameter": "n", "operator": "between", "value": "3", "csrf": csrf_of(page)},
    )
    assert refused.status_code == 400
    assert "between" in refused.text


async def test_read_only_serves_no_action_and_draws_no_button(docket: Docket) -> None:
    await docket.add(remind, when=utc_now() + timedelta(hours=1), key="kept")("x")
    async with (
        served(strew_dashboard(docket, read_only=True)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        page = await client.get("/tasks/kept")
        assert page.status_code == 200 and "read-only" in page.text
        assert "Cancel" not in page.text
        strikes = await client.get("/strikes")
        assert '<form method="post"' not in strikes.text
        for path in ("/cancel?key=kept", "/strikes/add", "/strikes/lift", "/quarantine/drop"):
            assert (await client.get(path)).status_code in (404, 405)
            assert (await client.post(path, data={"key": "kept"})).status_code in (404, 405)
    execution = await docket.get_execution("kept")
    assert execution is not None and execution.state is ExecutionState.SCHEDULED


async def test_mounted_under_a_prefix_every_link_and_form_keeps_it(docket: Docket) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    host = Starlette(routes=[Mount("/ops/strew", strew_dashboard(docket))])
    await docket.add(remind, when=utc_now() + timedelta(hours=1), key="kept")("x")
    async with served(host) as base, httpx.AsyncClient(base_url=base) as client:
        page = await client.get("/ops/strew/tasks/kept")
        assert page.status_code == 200
        assert 'href="/ops/strew/running"' in page.text
        assert 'href="/ops/strew/static/dashboard.css"' in page.text
        assert 'href="/ops/strew/cancel?key=kept"' in page.text
        assert "Path=/ops/strew;" in page.headers["set-cookie"]
        css = await client.get("/ops/strew/static/dashboard.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        asked = await client.get("/ops/strew/cancel?key=kept")
        assert 'action="/ops/strew/cancel"' in asked.text
        done = await client.post("/ops/strew/cancel", data={"key": "kept", "csrf": csrf_of(asked)})
        assert done.headers["location"] == "/ops/strew/tasks/kept"
