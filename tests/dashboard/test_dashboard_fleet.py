"""The pages about the workers, over real HTTP on both stores: what each worker reports, start
lateness over the last hour, and the line "Load ahead" draws of what the workers started."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from strew import Docket, Worker
from strew.dashboard import strew_dashboard
from strew.dashboard.fleet import started_peak
from strew.docket.workers import PunctualityPoint
from strew.stores.views import LatenessSummary
from strew.task.clock import from_micros, utc_now
from strew.worker.upkeep import PUNCTUALITY_INTERVAL

from .serving import served


async def ping(n: int) -> None:
    """A task of the tests' own."""


@pytest.fixture
async def client(docket: Docket) -> AsyncIterator[httpx.AsyncClient]:
    docket.register(ping)
    async with (
        served(strew_dashboard(docket)) as base,
        httpx.AsyncClient(base_url=base, follow_redirects=False) as client,
    ):
        yield client


async def record(docket: Docket, *counts: int) -> None:
    """Summaries of one worker for the last ``len(counts)`` intervals, as its heartbeat
    sends them: 20 ms median, 90 ms p99, 150 ms max."""
    now = await docket.store.now()
    last = now - now % PUNCTUALITY_INTERVAL - PUNCTUALITY_INTERVAL
    summaries = [
        LatenessSummary(last - i * PUNCTUALITY_INTERVAL, "w", count, 20_000, 90_000, 150_000)
        for i, count in enumerate(reversed(counts))
    ]
    await docket.store.record_lateness(summaries, 86_400_000_000)  # kept a day


async def test_the_punctuality_page_says_why_it_is_empty_before_any_report(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/punctuality")
    assert page.status_code == 200
    assert "No worker has reported starting a task in the last hour" in page.text
    assert "<svg" not in page.text


async def test_the_punctuality_page_draws_p50_p99_and_max_with_the_counts(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await record(docket, 4, 6)
    page = await client.get("/punctuality")
    assert "<b>10</b> tasks started in the last hour, over <b>2</b> 10-second" in page.text
    for line in ("p50", "p99", "max"):
        assert f'<polyline class="line {line}"' in page.text
    assert page.text.count('<circle class="dot max"') == 2
    assert "<td>20ms</td><td>90ms</td><td>150ms</td>" in page.text
    assert "no task started more than <b>150ms</b> late" in page.text


async def test_the_workers_page_shows_what_each_worker_reports(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await docket.add(ping)(1)
    async with Worker(docket, name="reporter", concurrency=3) as worker:
        await worker.run_until_finished()
        await worker.upkeep.beat()
        page = await client.get("/workers")
    row = page.text.split("<td>reporter</td>")[1].split("</tr>")[0]
    assert f"<td>{os.getpid()}</td><td>3</td><td>0</td><td>1</td><td>0</td>" in row
    assert "able to run <b>3</b> tasks at once" in page.text


async def test_load_ahead_draws_the_most_the_workers_started_in_a_bar(
    docket: Docket, client: httpx.AsyncClient
) -> None:
    await docket.add(ping, when=utc_now() + timedelta(minutes=5))(1)
    await record(docket, 4, 6, 5, 7, 1, 2, 9)
    page = await client.get("/load")
    assert '<line class="capacity"' in page.text
    assert "over the last hour, <b>" in page.text


async def test_load_ahead_says_there_is_no_line_before_any_report(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/load")
    assert '<line class="capacity"' not in page.text
    assert "No line: no worker reported starting a task in the last hour" in page.text


def test_the_peak_adds_up_the_intervals_of_each_bar() -> None:
    def at(seconds: int, count: int) -> PunctualityPoint:
        zero = timedelta(0)
        return PunctualityPoint(from_micros(seconds * 1_000_000), count, zero, zero, zero, 1)

    minute = timedelta(minutes=1)
    # 60 s from the epoch's minute: intervals at 0..50 s of one minute, then the next.
    points = [at(60 * 10**6 + s, 3) for s in range(0, 60, 10)] + [at(60 * 10**6 + 60, 20)]
    assert started_peak(points, minute) == 20
    assert started_peak(points[:6], minute) == 18
    assert started_peak([], minute) is None
