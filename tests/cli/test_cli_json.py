"""``--json`` on the commands that read (snapshot, workers, watch, scatter): one JSON object
per line with the keys docs/cli.md promises, parsed here as a script would; tables that do
not wrap at 80 columns when piped; shell completion. In process, on the memory store."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from strew import Docket, Worker
from strew.cli import app
from strew.stores.memory.store import _registry

ENV = {
    name: value for name, value in os.environ.items() if not name.startswith(("STREW_", "DOCKET_"))
}
ENV.pop("COLUMNS", None)


async def double(n: int) -> int:
    return n * 2


@pytest.fixture
def memory(docket_name: str) -> Iterator[tuple[str, str]]:
    url = f"memory://{docket_name}"
    yield url, docket_name
    _registry.pop((url, docket_name), None)


def strew(*args: str) -> tuple[int, list[dict[str, Any]]]:
    result = CliRunner().invoke(app, list(args), env=ENV)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines


def fill(url: str, name: str, *, run: bool = False) -> None:
    async def go() -> None:
        async with Docket(name, url) as docket:
            docket.register(double)
            await docket.add(double, key="now")(21)
            if run:
                async with Worker(docket, schedule_automatic_tasks=False) as worker:
                    await worker.run_until_finished()
            later = datetime.now(UTC) + timedelta(hours=1)
            await docket.add(double, when=later, key="later-" + "x" * 150)(1)

    asyncio.run(go())


def test_snapshot_json_lists_tasks_counts_and_load_under_stable_keys(
    memory: tuple[str, str],
) -> None:
    url, name = memory
    fill(url, name)
    code, [document] = strew("snapshot", "--url", url, "--docket", name, "--json", "--buckets", "4")
    assert code == 0
    assert {
        "docket", "url", "taken", "total_tasks", "scheduled_total", "due_total", "held_total",
        "quarantined_total", "running", "scheduled", "workers", "limits", "by_function", "load",
    } <= set(document)  # fmt: skip
    assert document["docket"] == name and document["total_tasks"] == 2
    assert [task["key"] for task in document["scheduled"]] == ["now", "later-" + "x" * 150]
    assert set(document["scheduled"][0]) == {"key", "function", "call", "when", "attempt"}
    assert document["by_function"]["scheduled"]["counts"] == {"double": 2}
    assert len(document["load"]["counts"]) == 4 and sum(document["load"]["counts"]) == 1
    assert document["load"]["slice_seconds"] == 900


def test_workers_json_is_one_object_with_the_workers_list(memory: tuple[str, str]) -> None:
    url, name = memory
    code, [document] = strew("workers", "--url", url, "--docket", name, "--json")
    assert code == 0
    assert document["workers"] == [] and document["docket"] == name


def test_watch_json_prints_a_finished_task_with_its_result_and_exits_0(
    memory: tuple[str, str],
) -> None:
    url, name = memory
    fill(url, name, run=True)
    code, lines = strew("watch", "now", "--url", url, "--docket", name, "--json")
    assert code == 0
    [document] = lines
    assert document["state"] == "completed" and document["result"] == "42"
    assert document["function"] == "double" and document["error"] is None


def test_watch_json_without_following_prints_one_line_for_a_scheduled_task(
    memory: tuple[str, str],
) -> None:
    url, name = memory
    fill(url, name)
    key = "later-" + "x" * 150
    code, [document] = strew("watch", key, "--url", url, "--docket", name, "--json", "--no-follow")
    assert code == 0
    assert document["state"] == "scheduled" and document["call"] == "double(1)"


def test_scatter_json_gives_the_scatter_id_and_every_planned_time(
    memory: tuple[str, str], tmp_path: Path
) -> None:
    url, name = memory
    args = tmp_path / "args.jsonl"
    args.write_text('[1]\n[2]\n{"args": [3], "key": "third"}\n', encoding="utf-8")
    code, [document] = strew(
        "scatter", "tests.cli.test_cli_json:double", "--args-file", str(args),
        "--over", "10m", "--url", url, "--docket", name, "--json",
    )  # fmt: skip
    assert code == 0
    assert isinstance(document["scatter_id"], str) and document["scatter_id"]
    assert document["tasks"] == 3 and document["scheduled"] == 3
    assert document["function"] == "double" and document["dry_run"] is False
    assert [task["disposition"] for task in document["planned"]] == ["SCHEDULED"] * 3
    assert document["planned"][2]["key"] == "third"
    start, end = (datetime.fromisoformat(document[k]) for k in ("start", "end"))
    assert end - start == timedelta(minutes=10)


def test_scatter_json_of_a_dry_run_has_no_scatter_id(
    memory: tuple[str, str], tmp_path: Path
) -> None:
    url, name = memory
    args = tmp_path / "args.jsonl"
    args.write_text("[1]\n[2]\n", encoding="utf-8")
    code, [document] = strew(
        "scatter", "tests.cli.test_cli_json:double", "--args-file", str(args),
        "--over", "1m", "--dry-run", "--url", url, "--docket", name, "--json",
    )  # fmt: skip
    assert code == 0
    assert document["scatter_id"] is None and document["dry_run"] is True
    assert [task["disposition"] for task in document["planned"]] == [None, None]


def test_piped_tables_are_not_wrapped_at_80_columns(memory: tuple[str, str]) -> None:
    url, name = memory
    fill(url, name)
    result = CliRunner().invoke(app, ["snapshot", "--url", url, "--docket", name], env=ENV)
    assert result.exit_code == 0
    # The 156-character key stays whole on one line (folded, it would be cut into pieces).
    assert any("later-" + "x" * 150 in line for line in result.stdout.splitlines())


def test_shell_completion_completes_commands_and_options() -> None:
    shown = CliRunner().invoke(app, ["--show-completion", "bash"], env=ENV)
    assert shown.exit_code == 0 and "_STREW_COMPLETE=complete_bash" in shown.stdout
    completing = {**ENV, "_STREW_COMPLETE": "complete_bash", "COMP_CWORD": "2"}
    options = CliRunner().invoke(
        app, [], env={**completing, "COMP_WORDS": "strew snapshot --js"}, prog_name="strew"
    )
    assert options.stdout.split() == ["--json"]


async def pause() -> None:
    await asyncio.sleep(0.2)


def test_watch_json_follows_a_task_with_one_line_per_change_until_it_ends(
    memory: tuple[str, str],
) -> None:
    url, name = memory

    async def schedule() -> None:
        async with Docket(name, url) as docket:
            await docket.add(pause, when=datetime.now(UTC) + timedelta(seconds=1), key="p")()

    async def work() -> None:
        async with Docket(name, url) as docket:
            docket.register(pause)
            async with Worker(docket, schedule_automatic_tasks=False) as worker:
                await worker.run_until_finished()

    asyncio.run(schedule())
    worker = threading.Thread(target=asyncio.run, args=(work(),))
    worker.start()
    try:
        code, lines = strew(
            "watch", "p", "--url", url, "--docket", name, "--json", "--interval", "20ms"
        )
    finally:
        worker.join()
    assert code == 0
    states = [line["state"] for line in lines]
    assert states[0] == "scheduled" and states[-1] == "completed"
    # A line only when something changed: no two neighbours alike but for the time.
    for before, after in itertools.pairwise(lines):
        assert {**before, "time": None} != {**after, "time": None}
