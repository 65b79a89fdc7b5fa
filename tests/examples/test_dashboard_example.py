"""examples/dashboard_demo.py, which docs/dashboard.md walks through: the dashboard mounted
in a Starlette app answers operators only."""

from __future__ import annotations

import httpx
import pytest

from ..dashboard.serving import served
from .test_examples import load


async def test_the_mounted_dashboard_answers_operators_and_refuses_everyone_else(
    monkeypatch: pytest.MonkeyPatch, store_url: str, docket_name: str
) -> None:
    monkeypatch.setenv("STREW_URL", store_url)
    monkeypatch.setenv("STREW_DOCKET", docket_name)
    demo = load("dashboard_demo")
    async with served(demo.app) as base, httpx.AsyncClient(base_url=base) as client:
        assert (await client.get("/")).text == "the shop"
        assert (await client.get("/strew/")).status_code == 401
        assert (await client.get("/strew/", auth=("ops", "wrong"))).status_code == 401
        assert (
            await client.get("/strew/workers", auth=("viewer", "s3cret-view"))
        ).status_code == 403
        page = await client.get("/strew/workers", auth=("ops", "s3cret-ops"))
        assert page.status_code == 200, page.text
        assert f"<title>Workers · {docket_name} · strew</title>" in page.text
        assert 'href="/strew/running"' in page.text
    await demo.docket.__aexit__(None, None, None)
