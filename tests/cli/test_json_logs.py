"""`--logging-format json` keeps what a task logs beside its message: the ``extra=`` fields
of its records, through the worker's own task logger and through any other logger."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from strew import Docket

from ..helpers import wait_until
from .test_cli import start_worker, stop


async def audited(customer: int) -> None:  # pragma: no cover - runs in the worker process
    raise AssertionError("scheduled by name for the worker process")


async def test_json_logs_keep_the_fields_a_task_logs_with_extra(
    redis_docket: Docket, redis_url: str, tmp_path: Path
) -> None:
    module = f"strew_json_tasks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{module}.py").write_text(
        "import logging\n"
        "from strew import TaskLogger\n"
        "async def audited(customer: int, log=TaskLogger()) -> None:\n"
        "    log.info('synced', extra={'customer': customer, 'rows': 7, 'tags': ['a', 'é']})\n"
        "    logging.getLogger('app.sync').warning('slow', extra={'elapsed_ms': 12.5})\n"
        "tasks = [audited]\n"
    )
    await redis_docket.add(audited)(42)
    log = tmp_path / "worker.log"
    where = ("--url", redis_url, "--docket", redis_docket.name)
    process = await start_worker(
        "--tasks", f"{module}:tasks", *where, "--logging-format", "json", cwd=tmp_path, log=log
    )
    try:
        await wait_until(lambda: "audited finished" in log.read_text(), timeout=20, message="ran")
    finally:
        code = await stop(process)
    text = log.read_text()
    assert code == 0, text
    assert text.isascii()
    records = [json.loads(line) for line in text.splitlines()]
    [synced] = [r for r in records if r["message"].endswith("synced") or r["message"] == "synced"]
    assert (synced["customer"], synced["rows"], synced["tags"]) == (42, 7, ["a", "é"])
    assert synced["key"]  # still tagged with the task's key
    [slow] = [r for r in records if r["logger"] == "app.sync"]
    assert (slow["level"], slow["message"], slow["elapsed_ms"]) == ("WARNING", "slow", 12.5)
    assert slow["key"] == synced["key"]
