"""The "Failed and retrying" page over real HTTP, on both stores, with failures a real
worker recorded: what it lists, retrying and dropping one, some or all (each confirmed
first), paging and filtering, the task page's failure record, hostile error messages, and
read-only mode."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape

import httpx
import pytest

from strew import Docket, ExecutionState
from strew.dashboard import strew_dashboard

from .failing import HOSTILE, fail
from .serving import served


@pytest.fixture
async def client(docket: Docket) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        served(strew_dashboard(docket)) as base,
        httpx.AsyncClient(base_url=base, follow_redirects=False) as client,
    ):
        yield client


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def hidden(page: httpx.Response, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page.text)
    assert found, page.text
    return unescape(found.group(1))


def link(page: httpx.Response, rel: str) -> str:
    return unescape(page.text.split(f'rel="{rel}"')[0].rsplit('href="', 1)[1].split('"')[0])


def keys_in(page: httpx.Response) -> int:
    return page.text.count('<a class="key"')


def listed(page: httpx.Response) -> list[str]:
    return re.findall(r'<a class="key" href="/tasks/([^"]+)"', page.text)


async def recorded(docket: Docket) -> set[str]:
    return {failure.key for failure in await docket.failures(1000)}


async def test_the_page_lists_final_and_retrying_failures_newest_first(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await fail(docket, charges=2, syncs=1)
    page = await client.get("/failed")
    assert page.status_code == 200
    listed = re.findall(r'<a class="key" href="/tasks/([^"]+)"', page.text)
    newest_first = [failure.key for failure in await docket.failures()]
    assert listed == newest_first and set(listed) == {"charge-0", "charge-1", "crm-0"}
    row = page.text.split('href="/tasks/crm-0"')[1].split("</tr>")[0]
    assert "ConnectionError" in row and "CRM unreachable for account 0" in row
    assert "<time" in row.split("</td>")[-3]  # retrying at: an hour from now
    assert 'href="/cancel?key=crm-0"' in row  # a retrying task can be cancelled
    final = page.text.split('href="/tasks/charge-0"')[1].split("</tr>")[0]
    assert "KeyError" in final and "/cancel?" not in final
    assert 'href="/failed"' in page.text  # in the navigation
    live = page.text.split('data-live="')[1].split('"')[0]
    fragment = await client.get(unescape(live))
    assert fragment.status_code == 200 and "charge-0" in fragment.text
    assert "<html" not in fragment.text


async def test_retrying_one_asks_first_then_schedules_it_and_forgets_its_failure(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await fail(docket, charges=2, syncs=0)
    asked = await client.get("/failed/retry", params={"key": "charge-0"})
    assert "Run 1 failed task again now (charge-0)?" in asked.text
    assert await recorded(docket) == {"charge-0", "charge-1"}
    keys = hidden(asked, "keys")
    done = await client.post("/failed/retry", data={"keys": keys, "csrf": csrf_of(asked)})
    assert done.status_code == 303 and done.headers["location"].startswith("/failed?did=")
    assert await recorded(docket) == {"charge-1"}
    execution = await docket.get_execution("charge-0")
    assert execution is not None and execution.attempt == 1
    assert execution.state in (ExecutionState.SCHEDULED, ExecutionState.QUEUED)  # due now
    after = await client.get(done.headers["location"])
    assert "charge-1" in after.text and 'href="/tasks/charge-0"' not in after.text
    assert (
        "Done: 1 retried; 0 already retrying, brought forward to now; 0 running or held, left "
        "alone; 0 no longer recorded." in after.text
    )


async def test_dropping_the_selected_ones_forgets_those_and_only_those(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await fail(docket, charges=3, syncs=1)
    asked = await client.get("/failed/drop", params=[("key", "charge-0"), ("key", "crm-0")])
    assert "Forget the failures of 2 failed tasks (charge-0, crm-0)?" in asked.text
    assert json.loads(hidden(asked, "keys")) == ["charge-0", "crm-0"]
    data = {"keys": hidden(asked, "keys"), "csrf": csrf_of(asked)}
    done = await client.post("/failed/drop", data=data)
    assert done.status_code == 303
    assert "Done: 2 forgotten." in (await client.get(done.headers["location"])).text
    assert await recorded(docket) == {"charge-1", "charge-2"}
    # Forgetting a failure runs nothing and leaves the retry on its way.
    retry = await docket.get_execution("crm-0")
    assert retry is not None and retry.state is ExecutionState.SCHEDULED


async def test_retry_all_and_drop_all_say_how_many_first(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await fail(docket, charges=2, syncs=1)
    asked = await client.get("/failed/retry", params={"all": "yes"})
    assert "Run every failed task (3 recorded) again now?" in asked.text
    data = {"all": "yes", "csrf": csrf_of(asked)}
    done = await client.post("/failed/retry", data=data)
    said = (await client.get(done.headers["location"])).text
    assert "Done: 2 retried; 1 already retrying, brought forward to now;" in said
    # The two final failures are retried; the one retrying already is brought forward and
    # keeps its failure until that run ends.
    assert await recorded(docket) == {"crm-0"}
    asked = await client.get("/failed/drop", params={"all": "yes"})
    assert "Forget the failures of every failed task (1 recorded)?" in asked.text
    assert (await client.post("/failed/drop", data=data)).status_code == 303
    assert await recorded(docket) == set()
    assert "No failures recorded." in (await client.get("/failed")).text


async def test_an_action_on_failures_needs_a_selection_a_token_and_sound_keys(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await fail(docket, charges=1, syncs=0)
    nothing = await client.get("/failed/retry")
    assert nothing.status_code == 400 and "no task was selected" in nothing.text
    asked = await client.get("/failed/drop", params={"key": "charge-0"})
    token = csrf_of(asked)
    refused = await client.post("/failed/drop", data={"keys": '["charge-0"]'})
    not_json = await client.post("/failed/drop", data={"keys": "charge-0", "csrf": token})
    not_list = await client.post("/failed/drop", data={"keys": '"charge-0"', "csrf": token})
    too_long = await client.get("/failed/drop", params={"key": "k" * 2000})
    assert [r.status_code for r in (refused, not_json, not_list, too_long)] == [403, 400, 400, 400]
    assert await recorded(docket) == {"charge-0"}


async def test_hostile_error_messages_are_escaped_cut_and_never_break_a_page(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await fail(docket, charges=0, syncs=0, hostile=True)
    page = await client.get("/failed")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page.text
    assert "caf\\udce9" in page.text and "<b>end</b>" not in page.text
    assert len(page.text) < 100_000  # the huge message is cut in the list
    for kind in HOSTILE:
        task = await client.get(f"/tasks/hostile-{kind}")
        assert task.status_code == 200 and "Latest failure" in task.text
        assert "<script>" not in task.text and "<img" not in task.text
    full = await client.get("/tasks/hostile-script")
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;" in full.text


async def test_the_task_page_shows_the_failure_of_its_key(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await fail(docket, charges=0, syncs=1)
    page = await client.get("/tasks/crm-0")
    assert page.status_code == 200
    record = page.text.split("<h2>Latest failure</h2>")[1]
    assert "ConnectionError" in record and "CRM unreachable for account 0" in record
    assert "Traceback" in record and "sync_crm" in record
    assert 'href="/failed/retry?key=crm-0"' in record


async def test_the_task_page_finds_a_failure_older_than_the_failed_pages_first_page(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await fail(docket, charges=60, syncs=1)
    oldest = (await docket.failures(1000))[-1]
    assert oldest.key not in [failure.key for failure in await docket.failures(50)]
    page = await client.get(f"/tasks/{oldest.key}")
    assert page.status_code == 200
    assert oldest.message in unescape(page.text.split("<h2>Latest failure</h2>")[1])


async def test_pages_go_back_in_time_and_a_filter_keeps_one_task(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await fail(docket, charges=102, syncs=3)
    first = await client.get("/failed")
    second = await client.get(link(first, "next"))
    third = await client.get(link(second, "next"))
    assert [keys_in(page) for page in (first, second, third)] == [50, 50, 5]
    assert 'rel="next"' not in third.text and 'rel="prev"' not in first.text
    shown = re.findall(
        r'<a class="key" href="/tasks/([^"]+)"', first.text + second.text + third.text
    )
    assert shown == [failure.key for failure in await docket.failures(1000)]
    # "newer" goes back the way it came: the second page, then the first.
    back = await client.get(link(third, "prev"))
    assert listed(back) == listed(second)
    assert listed(await client.get(link(back, "prev"))) == listed(first)
    assert 'href="/failed">newest</a>' in third.text
    only = await client.get("/failed", params={"task": "sync_crm"})
    assert set(re.findall(r'<a class="key" href="/tasks/([^"]+)"', only.text)) == {
        "crm-0",
        "crm-1",
        "crm-2",
    }
    for bad in (
        {"before": "yesterday"},
        {"before": "2026-01-01T00:00:00"},
        {"task": "x" * 300},
        {"did": "<script>:1"},
        {"trail": "0,yesterday"},
        {"trail": ",".join(["0"] * 51)},
    ):
        refused = await client.get("/failed", params=bad)
        assert refused.status_code == 400, bad


async def test_read_only_lists_failures_without_a_button_or_an_action_route(
    docket: Docket,
) -> None:
    await fail(docket, charges=1, syncs=1)
    async with (
        served(strew_dashboard(docket, read_only=True)) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        page = await client.get("/failed")
        assert "charge-0" in page.text and "crm-0" in page.text
        assert "<button" not in page.text.split("<main>")[1].replace(
            '<button type="submit">Filter</button>', ""
        )
        assert 'type="checkbox"' not in page.text and "/failed/retry" not in page.text
        task = await client.get("/tasks/crm-0")
        assert "Latest failure" in task.text and "/failed/" not in task.text
        for path in ("/failed/retry", "/failed/drop"):
            assert (await client.get(path, params={"key": "crm-0"})).status_code in (404, 405)
            assert (await client.post(path, data={"keys": '["crm-0"]'})).status_code in (404, 405)
    assert await recorded(docket) == {"charge-0", "crm-0"}
