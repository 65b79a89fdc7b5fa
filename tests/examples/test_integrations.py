"""The framework examples of docs/integrations.md, run through each framework's own test
client: a FastAPI app over httpx's ASGI transport (lifespan included), a Flask app and a
Django project using `SyncDocket` from their synchronous views."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from strew import Docket, Worker
from strew.stores.memory.store import _registry
from strew.sync import SyncDocket

from ..conftest import leftover_keys
from .test_examples import load


async def run_tasks(name: str, url: str, tasks: list[object]) -> None:
    async with Docket(name, url=url) as docket:
        for task in tasks:
            docket.register(task)  # type: ignore[arg-type]
        async with Worker(docket, schedule_automatic_tasks=False) as worker:
            await worker.run_until_finished()


async def test_the_fastapi_app_adds_a_welcome_from_its_endpoint_once(
    store_url: str, docket_name: str
) -> None:
    example = load("fastapi_app")
    app = example.create_app(docket_name, store_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = await client.post("/signups", params={"email": "jane@example.com"})
            again = await client.post("/signups", params={"email": "jane@example.com"})
        assert first.json() == {"key": "welcome:jane@example.com", "disposition": "SCHEDULED"}
        assert again.json()["disposition"] == "ALREADY_SCHEDULED"
        await run_tasks(docket_name, store_url, example.tasks)
        assert example.sent == ["jane@example.com"]
        await app.state.docket.store.destroy()
    if store_url.startswith("redis"):
        assert await leftover_keys(store_url, docket_name) == []
    _registry.pop((store_url, docket_name), None)


@pytest.fixture
def sync_docket(store_url: str, docket_name: str) -> Iterator[SyncDocket]:
    docket = SyncDocket(docket_name, url=store_url)
    yield docket
    docket.run(docket.docket.store.destroy())
    docket.close()
    if store_url.startswith("redis"):
        assert asyncio.run(leftover_keys(store_url, docket_name)) == []
    _registry.pop((store_url, docket_name), None)


def test_the_flask_app_adds_a_welcome_and_scatters_reminders(sync_docket: SyncDocket) -> None:
    example = load("flask_app")
    client = example.create_app(sync_docket).test_client()
    signup = client.post("/signups", data={"email": "jane@example.com"})
    assert signup.json == {"key": "welcome:jane@example.com", "disposition": "SCHEDULED"}
    reminders = client.post("/reminders", data={"email": ["a@example.com", "b@example.com"]})
    assert reminders.json == {"scattered": 2}
    # The welcome now, the reminders spread over the next hour.
    assert sync_docket.snapshot().total_tasks == 3


def test_the_django_view_adds_a_receipt_through_its_test_client(
    sync_docket: SyncDocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    import django
    from django.test import Client
    from django.urls import clear_url_caches

    example = load("django_app")
    django.setup()
    # Each load is a new module: Django must resolve the views of this one, whose `docket`
    # is replaced below (an earlier one's would write to its own docket).
    clear_url_caches()
    monkeypatch.setattr(example, "docket", sync_docket)
    response = Client().post("/checkout/", {"order_id": "7"})
    assert response.status_code == 200
    assert response.json() == {"key": "receipt:7", "disposition": "SCHEDULED"}
    name, url = sync_docket.docket.name, sync_docket.docket.url
    asyncio.run(run_tasks(name, url, example.tasks))
    assert example.sent == ["receipt for order 7"]


def test_every_python_block_of_the_integrations_page_is_copied_from_its_example() -> None:
    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "integrations.md").read_text(encoding="utf-8")
    source = ""
    checked = 0
    for part in re.split(r"(```python\n.*?```)", page, flags=re.DOTALL):
        if part.startswith("```python"):
            block = part.removeprefix("```python\n").removesuffix("```")
            assert block in source, f"not in the example it follows:\n{block}"
            checked += 1
        elif named := re.findall(r"\(\.\./(examples/\w+\.py)\)", part):
            source = (root / named[-1]).read_text(encoding="utf-8")
    assert checked >= 4
