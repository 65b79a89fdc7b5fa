"""Prometheus metrics scraped over HTTP after a known workload, and OpenTelemetry spans for
every write and every run, each run linked to the span that scheduled it."""

from __future__ import annotations

import asyncio
import socket
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from prometheus_client.parser import text_string_to_metric_families

from strew import Agenda, Disposition, Docket, Retry, Worker
from strew.agenda.catch_up import CatchUpKeeper, Decision
from strew.signals import metrics as instrumentation
from strew.signals.declared import METRICS
from strew.stores.records import Claim, Entry
from strew.task.clock import to_micros
from strew.task.envelope import dump_payload
from strew.testing import free_port

from ..cli.test_cli import start_worker, stop, strew
from ..helpers import wait_until

POLL = timedelta(milliseconds=50)


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics and parse it with prometheus_client's own parser."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(
    scraped: dict[tuple[str, tuple[tuple[str, str], ...]], float],
    name: str,
    docket: str,
    task: str | None = None,
    **extra: str,
) -> float | None:
    labels = {"docket": docket, **extra}
    if task is not None:
        labels["task"] = task
    return scraped.get((name, tuple(sorted(labels.items()))))


# -- the store reports the queue ---------------------------------------------------------------


async def test_a_claim_says_how_many_scheduled_tasks_are_already_due(docket: Docket) -> None:
    now = await docket.store.now()
    past = [Entry(f"due-{i}", now - 1_000_000 + i, b"x") for i in range(3)]
    future = [Entry(f"later-{i}", now + 3_600_000_000 + i, b"x") for i in range(2)]
    await docket.store.schedule([*past, *future], replace=False)
    result = await docket.store.claim("w", 1, 60_000_000, 0)
    assert [claim.key for claim in result.claims] == ["due-0"]
    assert (result.due_now, result.scheduled) == (2, 4)


async def test_a_claim_of_nothing_only_reports_the_counts(docket: Docket) -> None:
    now = await docket.store.now()
    await docket.store.schedule([Entry("due", now - 1, b"x")], replace=False)
    result = await docket.store.claim("w", 0, 60_000_000, 0)
    assert (result.claims, result.due_now, result.scheduled, result.running) == ([], 1, 1, 0)


# -- metrics -----------------------------------------------------------------------------------


async def test_a_known_workload_shows_up_in_the_scraped_metrics(docket: Docket) -> None:
    name = docket.name
    gate = asyncio.Event()
    flaky_runs: list[int] = []

    async def ok(n: int) -> None: ...

    async def boom() -> None:
        raise RuntimeError("boom")

    async def flaky(retry: Retry = Retry(attempts=2)) -> None:
        flaky_runs.append(retry.attempt)
        if retry.attempt == 1:
            raise ValueError("first time fails")

    async def slow() -> None:
        await gate.wait()

    async def later() -> None: ...

    server = instrumentation.serve_metrics(0, "127.0.0.1")
    try:
        for n in range(3):
            await docket.add(ok)(n)
        await docket.add(boom)()
        await docket.add(flaky)()
        await docket.add(later, when=soon(3600), key="never")()
        await docket.add(slow, key="slow")()
        worker = Worker(docket, poll_ceiling=POLL)
        running = asyncio.create_task(worker.run_forever())
        try:
            await wait_until(
                lambda: instrumentation.sample("strew_tasks_running", name, "slow") == 1,
                message="slow is running",
            )
            await docket.cancel("slow")
            await docket.cancel("never")
            await wait_until(
                lambda: (
                    instrumentation.sample("strew_tasks_succeeded_total", name, "flaky") == 1
                    and instrumentation.sample("strew_tasks_cancelled_total", name, "slow") == 1
                    and instrumentation.sample("strew_schedule_depth", name) == 0
                ),
                message="the workload finished",
            )
            scraped = await asyncio.to_thread(scrape, server.port)
        finally:
            worker.stop()
            await asyncio.wait_for(running, timeout=10)
    finally:
        server.close()

    def counts(metric: str) -> dict[str, float | None]:
        tasks = ["ok", "boom", "flaky", "slow", "later"]
        return {task: value(scraped, f"strew_tasks_{metric}_total", name, task) for task in tasks}

    assert counts("added") == {"ok": 3, "boom": 1, "flaky": 1, "slow": 1, "later": 1}
    assert counts("started") == {"ok": 3, "boom": 1, "flaky": 2, "slow": 1, "later": 0}
    assert counts("succeeded") == {"ok": 3, "boom": 0, "flaky": 1, "slow": 0, "later": 0}
    assert counts("failed") == {"ok": 0, "boom": 1, "flaky": 1, "slow": 0, "later": 0}
    assert counts("retried") == {"ok": 0, "boom": 0, "flaky": 1, "slow": 0, "later": 0}
    assert counts("cancelled") == {"ok": 0, "boom": 0, "flaky": 0, "slow": 1, "later": 0}
    assert counts("redelivered")["ok"] == 0
    # The future task was removed from the schedule by key, unread: an empty task label.
    assert value(scraped, "strew_tasks_cancelled_total", name, "") == 1
    assert value(scraped, "strew_tasks_started_total", name, "") is None
    assert flaky_runs == [1, 2]
    assert value(scraped, "strew_tasks_running", name, "slow") == 0
    assert value(scraped, "strew_task_duration_seconds_count", name, "ok") == 3
    assert value(scraped, "strew_task_duration_seconds_count", name, "flaky") == 2
    assert value(scraped, "strew_task_punctuality_seconds_count", name, "ok") == 3
    inf = value(scraped, "strew_task_punctuality_seconds_bucket", name, "ok", le="+Inf")
    assert inf == 3
    assert value(scraped, "strew_queue_depth", name) == 0
    assert value(scraped, "strew_schedule_depth", name) == 0


async def test_queue_and_schedule_depth_follow_the_latest_claim(docket: Docket) -> None:
    async def later() -> None: ...

    for i in range(3):
        await docket.add(later, when=soon(3600), key=f"later-{i}")()
    worker = Worker(docket, poll_ceiling=POLL)
    running = asyncio.create_task(worker.run_forever())
    try:
        await wait_until(
            lambda: instrumentation.sample("strew_schedule_depth", docket.name) == 3,
            message="three in the future",
        )
        assert instrumentation.sample("strew_queue_depth", docket.name) == 0
    finally:
        worker.stop()
        await asyncio.wait_for(running, timeout=10)


async def test_a_saturated_worker_still_reports_the_queue_building_up(docket: Docket) -> None:
    gate = asyncio.Event()

    async def hold() -> None:
        await gate.wait()

    async def queued(n: int) -> None: ...

    await docket.add(hold)()
    worker = Worker(docket, concurrency=1, poll_ceiling=POLL)
    running = asyncio.create_task(worker.run_forever())
    try:
        await wait_until(lambda: worker.stats.claimed == 1, message="hold claimed")
        await docket.add_many([docket.call(queued)(n) for n in range(3)])
        await wait_until(
            lambda: instrumentation.sample("strew_queue_depth", docket.name) == 3,
            message="the queue behind the busy slot is seen",
        )
        assert worker.stats.claimed == 1  # seen without claiming any of them
    finally:
        gate.set()
        worker.stop()
        await asyncio.wait_for(running, timeout=10)


async def test_a_scatter_and_add_many_count_what_they_scheduled(docket: Docket) -> None:
    async def ping(n: int) -> None: ...

    agenda = Agenda()
    for n in range(5):
        agenda.add(ping, key=f"p{n}")(n)
    await agenda.scatter(docket, over=timedelta(hours=1), start=soon(60))
    again = await agenda.scatter(docket, over=timedelta(hours=1), start=soon(60))
    assert instrumentation.sample("strew_tasks_added_total", docket.name, "ping") == 5
    assert instrumentation.sample("strew_tasks_cancelled_total", docket.name) is None
    assert again.scatter_id is not None
    assert await Agenda.cancel(docket, again.scatter_id) == 0  # the keys kept the first one
    await docket.add_many([docket.call(ping, when=soon(60))(n) for n in range(4)])
    assert instrumentation.sample("strew_tasks_added_total", docket.name, "ping") == 9
    await docket.clear()


async def test_two_workers_in_one_process_add_up_in_the_same_series(docket: Docket) -> None:
    async def ok(n: int) -> None:
        await asyncio.sleep(0.001)

    await docket.add_many([docket.call(ok)(n) for n in range(40)])
    first, second = Worker(docket, concurrency=2), Worker(docket, concurrency=2)
    await asyncio.gather(first.run_until_finished(), second.run_until_finished())
    assert first.stats.succeeded + second.stats.succeeded == 40
    assert instrumentation.sample("strew_tasks_succeeded_total", docket.name, "ok") == 40
    assert instrumentation.sample("strew_tasks_started_total", docket.name, "ok") == 40
    assert instrumentation.sample("strew_tasks_running", docket.name, "ok") == 0


async def test_a_redelivered_run_is_counted_but_not_judged_for_punctuality(
    docket: Docket,
) -> None:
    async def once() -> None: ...

    await docket.add(once, key="orphan")()
    # A worker that claimed it and died: its lease (1 microsecond) is over at once.
    dead = await docket.store.claim("dead-worker", 1, 1, 0)
    assert [claim.key for claim in dead.claims] == ["orphan"]
    async with Worker(docket, poll_ceiling=POLL) as worker:
        await worker.run_until_finished()
    assert worker.stats.redelivered == 1
    assert instrumentation.sample("strew_tasks_redelivered_total", docket.name, "once") == 1
    assert instrumentation.sample("strew_tasks_succeeded_total", docket.name, "once") == 1
    punctual = instrumentation.sample("strew_task_punctuality_seconds_count", docket.name, "once")
    assert punctual == 0


async def test_calls_a_strike_blocks_are_counted_from_producer_and_worker_alike(
    docket: Docket,
) -> None:
    async def send(n: int) -> None: ...

    before = await docket.add(send, key="before")(1)  # scheduled before the strike
    await docket.strike(send)
    blocked = await docket.add(send, key="after")(2)  # the producer meets the strike
    assert (before.disposition, blocked.disposition) == (Disposition.SCHEDULED, Disposition.STRUCK)
    server = instrumentation.serve_metrics(0, "127.0.0.1")
    try:
        worker = Worker(docket, poll_ceiling=POLL)
        running = asyncio.create_task(worker.run_forever())
        try:
            # The worker claims the call scheduled before the strike, and holds it unrun.
            await wait_until(
                lambda: (
                    instrumentation.sample("strew_tasks_stricken_total", docket.name, "send") == 2
                ),
                message="the worker met the stricken call",
            )
            scraped = await asyncio.to_thread(scrape, server.port)
        finally:
            worker.stop()
            await asyncio.wait_for(running, timeout=10)
    finally:
        server.close()
    assert value(scraped, "strew_tasks_stricken_total", docket.name, "send") == 2
    assert value(scraped, "strew_tasks_added_total", docket.name, "send") == 1
    assert value(scraped, "strew_tasks_started_total", docket.name, "send") == 0
    assert (await docket.snapshot()).held_total == 1
    await docket.restore(send)
    await docket.clear()


class GatedCatchUp(CatchUpKeeper):
    """The real catch-up check, entered and then held until the test opens the gate: a
    cancel that lands while a worker is deciding whether a task still runs."""

    def __init__(self, worker: Worker) -> None:
        super().__init__(worker.docket.store, worker.name, worker.catch_up._clock)
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def decide(self, claim: Claim, meta: Mapping[str, Any], now: int) -> Decision:
        self.entered.set()
        await self.gate.wait()
        return await super().decide(claim, meta, now)


async def test_a_cancel_during_the_catch_up_check_is_counted_as_cancelled(
    docket: Docket,
) -> None:
    runs: list[int] = []

    async def late(n: int) -> None:
        runs.append(n)

    await docket.add(late, key="doomed")(1)
    worker = Worker(docket, poll_ceiling=POLL)
    gated = worker.catch_up = GatedCatchUp(worker)
    running = asyncio.create_task(worker.run_forever())
    try:
        await asyncio.wait_for(gated.entered.wait(), timeout=10)
        await docket.cancel("doomed")
        await wait_until(lambda: worker.stats.cancelled == 1, message="cancelled")
    finally:
        worker.stop()
        await asyncio.wait_for(running, timeout=10)
    assert runs == []
    assert instrumentation.sample("strew_tasks_cancelled_total", docket.name, "late") == 1
    assert instrumentation.sample("strew_tasks_started_total", docket.name, "late") == 0
    state = await docket.store.task_state("doomed")
    assert state.running is None and state.scheduled is None
    assert state.record is not None  # what `strew watch` reads: cancelled, not lost


def test_stricken_calls_are_counted_for_the_strike_feature_to_call() -> None:
    instrumentation.record_stricken("metrics-strike-docket", "send", 2)
    instrumentation.record_stricken("metrics-strike-docket", "send")
    assert (
        instrumentation.sample("strew_tasks_stricken_total", "metrics-strike-docket", "send") == 3
    )


def test_serving_metrics_on_a_bad_port_names_the_port() -> None:
    with pytest.raises(ValueError, match="port must be an integer from 0 to 65535, got -1"):
        instrumentation.serve_metrics(-1)
    with pytest.raises(ValueError, match="got True"):
        instrumentation.serve_metrics(True)


def test_every_metric_is_explained_in_the_production_docs() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "production.md").read_text()
    missing = [info.name for info in METRICS if f"`{info.name}`" not in page]
    assert missing == []


@pytest.mark.slow
async def test_strew_worker_serves_metrics_on_its_metrics_port(
    redis_docket: Docket, redis_url: str, tmp_path: Path
) -> None:
    where = ("--url", redis_url, "--docket", redis_docket.name)
    for text in ("one", "two"):
        scheduled = await strew("tasks", "trace", text, *where)
        assert scheduled.code == 0, scheduled.err
    module = "strew_metrics_tasks"
    (tmp_path / f"{module}.py").write_text("async def noop() -> None: ...\ntasks = [noop]\n")
    port = free_port()
    log = tmp_path / "worker.log"
    process = await start_worker(
        "--tasks", module, *where, cwd=tmp_path, log=log, env={"STREW_METRICS_PORT": str(port)}
    )

    def traced_twice() -> bool:
        try:
            scraped = scrape(port)
        except OSError:
            return False
        return value(scraped, "strew_tasks_succeeded_total", redis_docket.name, "trace") == 2

    try:
        await wait_until(
            lambda: asyncio.to_thread(traced_twice), timeout=20, interval=0.1, message="scraped"
        )
        scraped = await asyncio.to_thread(scrape, port)
    finally:
        code = await stop(process)
    assert code == 0, log.read_text()
    assert value(scraped, "strew_tasks_started_total", redis_docket.name, "trace") == 2
    assert value(scraped, "strew_tasks_failed_total", redis_docket.name, "trace") == 0
    assert value(scraped, "strew_queue_depth", redis_docket.name) == 0
    assert f"metrics on http://0.0.0.0:{port}/metrics" in log.read_text()


async def _builtin_tasks_worker(
    docket: Docket,
    url: str,
    cwd: Path,
    log: Path,
    *options: str,
    env: dict[str, str] | None = None,
) -> asyncio.subprocess.Process:
    """A `strew worker` process running strew's built-in tasks on ``docket``."""
    where = ("--url", url, "--docket", docket.name)
    return await start_worker(
        "--tasks", "strew.tasks:standard", *where, *options, cwd=cwd, log=log, env=env
    )


async def test_strew_worker_reads_its_metrics_address_from_strew_variables(
    redis_docket: Docket, redis_url: str, tmp_path: Path
) -> None:
    port = free_port()
    log = tmp_path / "worker.log"
    env = {"STREW_METRICS_PORT": str(port), "STREW_METRICS_HOST": "127.0.0.1"}
    process = await _builtin_tasks_worker(redis_docket, redis_url, tmp_path, log, env=env)

    def scraped() -> bool:
        try:
            scrape(port)
        except OSError:
            return False
        return True

    try:
        await wait_until(
            lambda: asyncio.to_thread(scraped), timeout=20, interval=0.1, message="serving"
        )
    finally:
        code = await stop(process)
    text = log.read_text()
    assert code == 0, text
    assert f"metrics on http://127.0.0.1:{port}/metrics" in text


async def test_a_worker_stopped_while_it_is_still_starting_exits_cleanly(
    redis_docket: Docket, redis_url: str, tmp_path: Path
) -> None:
    # The metrics endpoint answers before the worker's loop has installed its signal
    # handlers; a supervisor may stop the worker in that moment (CI once did, exit -15).
    port = free_port()
    log = tmp_path / "worker.log"
    process = await _builtin_tasks_worker(
        redis_docket,
        redis_url,
        tmp_path,
        log,
        "--metrics-port",
        str(port),
        "--metrics-host",
        "127.0.0.1",
    )
    try:
        await wait_until(
            lambda: "metrics on" in log.read_text(), timeout=20, message="metrics line"
        )
    finally:
        code = await stop(process)
    text = log.read_text()
    assert code == 0, text
    assert "got SIGTERM while starting" in text or "got SIGTERM: finishing" in text, text


async def test_strew_worker_says_so_when_its_metrics_port_is_taken(
    redis_url: str, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await strew(
            "worker",
            "--tasks",
            "strew.tasks:standard",
            "--url",
            redis_url,
            "--metrics-host",
            "127.0.0.1",
            "--metrics-port",
            str(port),
            cwd=tmp_path,
        )
    assert result.code == 1
    assert f"--metrics-port: cannot listen on 127.0.0.1:{port}" in result.err


async def test_strew_worker_refuses_a_metrics_port_out_of_range(redis_url: str) -> None:
    result = await strew("worker", "--tasks", "strew.tasks:standard", "--metrics-port", "0")
    assert result.code == 2
    assert "--metrics-port" in result.err


# -- tracing -----------------------------------------------------------------------------------


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """A real SDK provider for strew's spans only (the global provider stays untouched, so
    other tests run with tracing off)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentation.use_tracer_provider(provider)
    try:
        yield exporter
    finally:
        instrumentation.use_tracer_provider(None)
        provider.shutdown()


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


async def test_a_run_is_linked_to_the_add_that_scheduled_it(
    docket: Docket, spans: InMemorySpanExporter
) -> None:
    async def greet(name: str) -> None: ...

    execution = await docket.add(greet, key="hello")("Jane")
    assert "traceparent" in execution.meta
    async with Worker(docket, poll_ceiling=POLL) as worker:
        await worker.run_until_finished()
    [add] = named(spans, "strew.add")
    [run] = named(spans, "strew.run")
    assert add.attributes is not None and run.attributes is not None
    assert dict(add.attributes) == {
        "strew.docket": docket.name,
        "strew.task": "greet",
        "strew.key": "hello",
        "strew.disposition": "scheduled",
    }
    assert dict(run.attributes) == {
        "strew.docket": docket.name,
        "strew.task": "greet",
        "strew.key": "hello",
        "strew.attempt": 1,
        "strew.redelivered": False,
    }
    assert add.context is not None and run.context is not None
    [link] = run.links
    assert (link.context.trace_id, link.context.span_id) == (
        add.context.trace_id,
        add.context.span_id,
    )
    assert run.parent is None  # a root of its own: the run may come long after the add
    assert run.status.status_code is StatusCode.UNSET


async def test_a_task_scheduled_hours_ahead_is_linked_through_its_payload(
    redis_docket: Docket, redis_url: str, spans: InMemorySpanExporter
) -> None:
    async def remind() -> None: ...

    await redis_docket.replace(remind, when=soon(3 * 3600), key="remind")()
    # Brought forward in the store itself, its payload's bytes untouched: all a run three
    # hours from now would have to go on.
    state = await redis_docket.store.task_state("remind")
    assert state.scheduled is not None and state.scheduled.due > to_micros(soon(3600))
    payload = state.scheduled.payload
    now = await redis_docket.store.now()
    assert await redis_docket.store.schedule([Entry("remind", now, payload)], replace=True) == [
        True
    ]
    # Another Docket object, as another process would have: only the payload carries the link.
    async with Docket(redis_docket.name, redis_url) as elsewhere:
        elsewhere.register(remind)
        async with Worker(elsewhere, poll_ceiling=POLL) as worker:
            await worker.run_until_finished()
    assert worker.stats.succeeded == 1
    [replace] = named(spans, "strew.replace")
    [run] = named(spans, "strew.run")
    assert replace.context is not None and run.context is not None
    assert [link.context.span_id for link in run.links] == [replace.context.span_id]
    assert run.context.trace_id != replace.context.trace_id  # linked, not a child


async def test_a_failed_run_has_an_error_status_and_the_exception(
    docket: Docket, spans: InMemorySpanExporter
) -> None:
    async def explode() -> None:
        raise KeyError("no such thing")

    await docket.add(explode)()
    async with Worker(docket, poll_ceiling=POLL) as worker:
        await worker.run_until_finished()
    [run] = named(spans, "strew.run")
    assert run.status.status_code is StatusCode.ERROR
    assert run.status.description is not None and "KeyError" in run.status.description
    assert [event.name for event in run.events] == ["exception"]


async def test_a_scatter_is_one_span_and_every_run_links_to_it(
    docket: Docket, spans: InMemorySpanExporter
) -> None:
    async def ping(n: int) -> None: ...

    agenda = Agenda()
    for n in range(4):
        agenda.add(ping)(n)
    scattered = await agenda.scatter(docket, over=timedelta(milliseconds=100))
    assert len({id(execution.meta) for execution in scattered}) == 4  # each its own dict
    async with Worker(docket, poll_ceiling=POLL) as worker:
        await worker.run_until_finished()
    [scatter] = named(spans, "strew.scatter")
    assert scatter.attributes is not None and scatter.context is not None
    assert scatter.attributes["strew.count"] == 4
    assert scatter.attributes["strew.scheduled"] == 4
    assert scatter.attributes["strew.task"] == "ping"
    assert scatter.attributes["strew.scatter_id"] == scattered.scatter_id
    runs = named(spans, "strew.run")
    assert len(runs) == 4
    assert {link.context.span_id for run in runs for link in run.links} == {scatter.context.span_id}


async def test_cancel_and_add_many_have_spans_of_their_own(
    docket: Docket, spans: InMemorySpanExporter
) -> None:
    async def ping(n: int) -> None: ...

    executions = await docket.add_many([docket.call(ping, when=soon(60))(n) for n in range(3)])
    assert len({id(execution.meta) for execution in executions}) == 3
    await docket.cancel(executions[0].key)
    [many] = named(spans, "strew.add_many")
    [cancel] = named(spans, "strew.cancel")
    assert many.attributes is not None and cancel.attributes is not None
    assert (many.attributes["strew.count"], many.attributes["strew.scheduled"]) == (3, 3)
    assert cancel.attributes["strew.key"] == executions[0].key
    assert cancel.attributes["strew.removed"] == 1
    await docket.clear()


async def test_cancelling_a_scatter_has_a_span_naming_it_and_what_it_removed(
    docket: Docket, spans: InMemorySpanExporter
) -> None:
    async def ping(n: int) -> None: ...

    agenda = Agenda()
    for n in range(3):
        agenda.add(ping)(n)
    scattered = await agenda.scatter(docket, over=timedelta(hours=1), start=soon(60))
    assert scattered.scatter_id is not None
    assert await Agenda.cancel(docket, scattered.scatter_id) == 3
    [cancel] = named(spans, "strew.cancel")
    assert cancel.attributes is not None
    assert dict(cancel.attributes) == {
        "strew.docket": docket.name,
        "strew.scatter_id": scattered.scatter_id,
        "strew.removed": 3,
    }
    [scatter] = named(spans, "strew.scatter")
    assert cancel.context is not None and scatter.context is not None
    assert cancel.context.span_id != scatter.context.span_id


async def test_without_a_recording_span_the_payload_carries_nothing_extra(
    docket: Docket,
) -> None:
    async def greet(name: str) -> None: ...

    execution = await docket.add(greet, when=soon(60))("Jane")
    assert execution.meta == {}
    plain = dump_payload("greet", ("Jane",), {}, to_micros(execution.when), 1)
    assert execution.payload() == plain
    await docket.clear()


GLOBAL_PROVIDER = """
import asyncio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from strew import Docket, Worker

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

async def hello() -> None: ...

async def main() -> None:
    async with Docket("global-provider", "memory://global-provider") as docket:
        await docket.add(hello)()
        await Worker(docket).run_until_finished()

asyncio.run(main())
spans = {span.name: span for span in exporter.get_finished_spans()}
links = [link.context.span_id for link in spans["strew.run"].links]
print(sorted(spans), links == [spans["strew.add"].context.span_id])
"""


async def test_the_global_tracer_provider_of_an_application_gets_strews_spans() -> None:
    # In a process of its own: a global provider can be set only once per process, and
    # the other tests run with tracing off.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        GLOBAL_PROVIDER,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, err.decode()
    assert out.decode().split("\n")[0] == "['strew.add', 'strew.run'] True"
