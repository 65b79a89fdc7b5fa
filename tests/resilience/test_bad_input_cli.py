"""The bad-input sweep of the command line, through real processes.

Every command and option, fed what people mistype: each case must exit with the usage code
2 (or 1 for a store that cannot be reached, as documented in docs/cli.md), print an error
that names the option and the value, and leave a Redis docket that already holds tasks, a
scatter and a strike exactly as it was (every key and its whole value, compared before and
after).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from strew import Agenda, Docket
from strew.testing import free_port

from ..bad_input import WHEN, greet, raw_state
from ..cli.test_cli import flat, strew

pytestmark = pytest.mark.slow

TASK_MODULE = (
    "async def visit(url: str, depth: int = 1) -> None: ...\n"
    "async def skip(url: str) -> None: ...\n"
    "tasks = [visit, skip]\n"
    "LIMIT = 5\n"
)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "sweep_tasks.py").write_text(TASK_MODULE)
    (tmp_path / "items.jsonl").write_text('["a"]\n["b"]\n["c"]\n')
    (tmp_path / "garbage.jsonl").write_text('["a"]\nnot json at all\n')
    (tmp_path / "too_many.jsonl").write_text('["a", 1, 2]\n')
    (tmp_path / "number.jsonl").write_text("5\n")
    return tmp_path


SCATTER = ("scatter", "sweep_tasks:visit", "--args-file", "items.jsonl")
WORKER = ("worker", "--tasks", "sweep_tasks:tasks")
TEN_KB = "k" * 10_240

Case = tuple[tuple[str, ...], list[str]]
"""The command's words, and the parts its error must show, in order."""

WORKER_CASES: list[Case] = [
    (("worker", "--tasks", "nosuch_module:tasks"), ["--tasks: cannot import", "nosuch_module"]),
    (("worker", "--tasks", "not a module"), ["--tasks: cannot import 'not a module'"]),
    (("worker", "--tasks", "sweep_tasks:nope"), ["'sweep_tasks:nope'", "no attribute 'nope'"]),
    (("worker", "--tasks", "sweep_tasks:LIMIT"), ["--tasks: 'sweep_tasks:LIMIT'", "int 5"]),
    ((*WORKER, "--url", "ftp://x"), ["'--url'", "url must start with", "'ftp://x'"]),
    ((*WORKER, "--docket", "a{b}"), ["'--docket'", "without braces", "'a{b}'"]),
    ((*WORKER, "--name", "a/b"), ["name must be 1 to 200 characters", "'a/b'"]),
    ((*WORKER, "--concurrency", "0"), ["'--concurrency'", "whole number of 1 or more, got '0'"]),
    ((*WORKER, "--concurrency", "lots"), ["'--concurrency'", "got 'lots'"]),
    ((*WORKER, "--shutdown-grace", "soon"), ["'--shutdown-grace'", "'soon' is not a duration"]),
    ((*WORKER, "--shutdown-grace", "-1s"), ["'--shutdown-grace'", "'-1s'", "cannot be negative"]),
    ((*WORKER, "--poll-ceiling", "0s"), ["'--poll-ceiling'", "more than zero, got '0s'"]),
    ((*WORKER, "--poll-ceiling", "5m5m"), ["'--poll-ceiling'", "'5m5m'", "largest first"]),
    ((*WORKER, "--reconnection-delay", "0"), ["'--reconnection-delay'", "got '0'"]),
    ((*WORKER, "--reconnection-delay", "999999h"), ["'--reconnection-delay'", "'999999h'"]),
    ((*WORKER, "--redelivery-timeout", "-1s"), ["'--redelivery-timeout'", "'-1s'"]),
    ((*WORKER, "--prefetch", "99999999h"), ["'--prefetch'", "'99999999h' is too long"]),
    ((*WORKER, "--healthcheck-port", "0"), ["'--healthcheck-port'", "1 to 65,535, got '0'"]),
    ((*WORKER, "--healthcheck-port", "70000"), ["'--healthcheck-port'", "got '70000'"]),
    ((*WORKER, "--healthcheck-port", "http"), ["'--healthcheck-port'", "got 'http'"]),
    ((*WORKER, "--metrics-port", "0"), ["'--metrics-port'", "1 to 65,535, got '0'"]),
    ((*WORKER, "--metrics-port", "99999"), ["'--metrics-port'", "got '99999'"]),
    ((*WORKER, "--metrics-port", "9.5"), ["'--metrics-port'", "got '9.5'"]),
    ((*WORKER, "--logging-level", "LOUD"), ["'--logging-level'", "'LOUD'", "'debug'"]),
    ((*WORKER, "--logging-format", "xml"), ["'--logging-format'", "'xml'", "'json'"]),
]

SCATTER_CASES: list[Case] = [
    (
        ("scatter", "nosuch:visit", "--args-file", "items.jsonl", "--over", "5m"),
        ["MODULE:FUNCTION: cannot import 'nosuch:visit'"],
    ),
    (
        ("scatter", "sweep_tasks:tasks", "--args-file", "items.jsonl", "--over", "5m"),
        ["'sweep_tasks:tasks' names 2 functions; scatter needs exactly one"],
    ),
    (
        ("scatter", "sweep_tasks:LIMIT", "--args-file", "items.jsonl", "--over", "5m"),
        ["MODULE:FUNCTION: 'sweep_tasks:LIMIT' must name a list of task functions, got int 5"],
    ),
    (
        ("scatter", "sweep_tasks:visit", "--args-file", "missing.jsonl", "--over", "5m"),
        ["--args-file: cannot read 'missing.jsonl'", "No such file"],
    ),
    (
        ("scatter", "sweep_tasks:visit", "--args-file", ".", "--over", "5m"),
        ["--args-file: cannot read '.'", "Is a directory"],
    ),
    (
        ("scatter", "sweep_tasks:visit", "--args-file", "garbage.jsonl", "--over", "5m"),
        ["garbage.jsonl line 2: not JSON", "'not json at all'"],
    ),
    (
        ("scatter", "sweep_tasks:visit", "--args-file", "too_many.jsonl", "--over", "5m"),
        ["too_many.jsonl line 1: the arguments do not fit visit(url, depth=1)"],
    ),
    (
        ("scatter", "sweep_tasks:visit", "--args-file", "number.jsonl", "--over", "5m"),
        ["number.jsonl line 1: expected a JSON array", "got int 5"],
    ),
    (("scatter", "sweep_tasks:visit", "--over", "5m"), ["Missing option '--args-file'"]),
    ((*SCATTER,), ["give exactly one of --over, --rate or --every, got none"]),
    ((*SCATTER, "--over", "5m", "--seed", ""), ["--seed must be a whole number or a word, got ''"]),
    ((*SCATTER, "--over", "5m", "--seed", "1.5"), ["--seed must be a whole number", "'1.5'"]),
    ((*SCATTER, "--over", "5m", "--url", "http://x"), ["'--url'", "'http://x'"]),
    ((*SCATTER, "--over", "5m", "--docket", "a\nb"), ["'--docket'", "'a\\nb'"]),
    ((*SCATTER, "--over", "5m", "--start", "0001-01-01T00:00:00Z"), ["--start must be between"]),
    ((*SCATTER, "--over", "5m", "--start", "9999-12-31T23:59:59Z"), ["--start must be between"]),
    ((*SCATTER, "--over", "5m", "--start", "tomorrow"), ["--start: 'tomorrow' is not an ISO"]),
    (
        (*SCATTER, "--over", "5m", "--start", "2030-01-01T09:00"),
        ["--start: '2030-01-01T09:00'", "no time zone"],
    ),
    ((*SCATTER, "--rate", "nan"), ["--rate must be a positive, finite number", "nan"]),
    ((*SCATTER, "--rate", "inf"), ["--rate must be a positive, finite number", "inf"]),
    ((*SCATTER, "--rate", "1e-300"), ["the window set by --over, --rate or --every"]),
    ((*SCATTER, "--over", "5m", "--jitter", "99999999h"), ["'--jitter'", "'99999999h'"]),
    ((*SCATTER, "--over", "5m", "--jitter", "-5s"), ["'--jitter'", "'-5s'"]),
    ((*SCATTER, "--over", "0s"), ["'--over'", "got '0s'"]),
    ((*SCATTER, "--every", "nan"), ["'--every'", "'nan'"]),
    ((*SCATTER, "--over", "5m", "--buckets", "0"), ["'--buckets'", "1 to 1,000, got '0'"]),
]

STORE_CASES: list[Case] = [
    (("snapshot", "--url", "http://x"), ["'--url'", "'http://x'"]),
    (("snapshot", "--docket", "a{b}"), ["'--docket'", "'a{b}'"]),
    (("snapshot", "--limit", "-1"), ["'--limit'", "whole number of 0 or more, got '-1'"]),
    (("snapshot", "--limit", "many"), ["'--limit'", "got 'many'"]),
    (("snapshot", "--window", "0s"), ["'--window'", "got '0s'"]),
    (("snapshot", "--buckets", "5000"), ["'--buckets'", "1 to 1,000, got '5000'"]),
    (("clear", "--yes", "--url", "http://x"), ["'--url'", "'http://x'"]),
    (("clear", "--yes", "--docket", ""), ["'--docket'", "''"]),
    (("workers", "--docket", "a{b}"), ["'--docket'", "'a{b}'"]),
    (("quarantine", "--drop", ""), ["key must not be empty"]),
    (("quarantine", "--drop", TEN_KB), ["key must be at most 1024 characters, got 10240"]),
    (("quarantine", "--docket", "a{b}"), ["'--docket'", "'a{b}'"]),
    (("watch", ""), ["'KEY'", "key must not be empty, got ''"]),
    (("watch", TEN_KB), ["'KEY'", "key must be at most 1024 characters, got 10240"]),
    (("watch", "already-here", "--interval", "0s"), ["'--interval'", "got '0s'"]),
    (("watch", "already-here", "--interval", "often"), ["'--interval'", "'often'"]),
    (("watch", "already-here", "--url", "redis://"), ["'--url'", "'redis://'"]),
]

STRIKE_CASES: list[Case] = [
    (("strike", "garbage rule((("), ["FUNCTION must be a task name", "'garbage rule((('"]),
    (("strike", "amount > 100"), ["FUNCTION must be a task name", "'amount > 100'"]),
    (("strike", "a", "b"), ["expected FUNCTION, or PARAMETER OPERATOR VALUE", "2 words: 'a b'"]),
    (("strike", "f", "a", "b", "c", "d"), ["got 5 words"]),
    (("strike", "amount", "=~", "5"), ["operator must be one of", "'=~'"]),
    (("strike", "f(x)", "amount", "==", "5"), ["FUNCTION must be a task name", "'f(x)'"]),
    (("strike", "f", "1bad", "==", "5"), ["parameter must be the name of an argument", "'1bad'"]),
    (("strike", "f", "amount", "between", "5"), ["'between' needs a value of two items", "5"]),
    (("strike", "amount", "==", "NaN"), ["value must be comparable, got nan"]),
    (("strike", "f", "--url", "ftp://x"), ["'--url'", "'ftp://x'"]),
    (("restore",), ["say which strike to lift"]),
    (("restore", "garbage rule((("), ["FUNCTION must be a task name", "'garbage rule((('"]),
    (("restore", "a", "b"), ["expected FUNCTION, or PARAMETER OPERATOR VALUE", "'a b'"]),
    (("restore", "amount", "zz", "1"), ["operator must be one of", "'zz'"]),
    (("restore", "f", "--docket", "a{b}"), ["'--docket'", "'a{b}'"]),
]

TASKS_CASES: list[Case] = [
    (("tasks", "trace", "hi", "--delay", "abc"), ["'--delay'", "'abc' is not a duration"]),
    (("tasks", "trace", "hi", "--delay", "-5s"), ["'--delay'", "'-5s'", "cannot be negative"]),
    (("tasks", "fail", "hi", "--delay", "99999999h"), ["'--delay'", "'99999999h' is too long"]),
    (("tasks", "fail", "hi", "--delay", "1h1h"), ["'--delay'", "'1h1h'"]),
    (("tasks", "sleep", "1", "--delay", "later"), ["'--delay'", "'later'"]),
    (("tasks", "trace", "hi", "--url", "memory:x"), ["'--url'", "'memory:x'"]),
    (("tasks", "trace"), ["Missing argument"]),
    (("tasks", "sleep", "--", "-1"), ["'DURATION'", "'-1'", "cannot be negative"]),
    (("tasks", "sleep", "abc"), ["'DURATION'", "'abc' is not a duration"]),
    (("tasks", "sleep", "inf"), ["'DURATION'", "'inf' is not a duration"]),
]

GROUPS = {
    "worker": WORKER_CASES,
    "scatter": SCATTER_CASES,
    "snapshot-clear-watch-quarantine": STORE_CASES,
    "strike-restore": STRIKE_CASES,
    "tasks": TASKS_CASES,
}


async def seed(docket: Docket) -> None:
    """Tasks, a scatter and a strike: every kind of thing a refused command could touch."""
    await docket.add(greet, when=WHEN, key="already-here")("Ada")
    agenda = Agenda()
    for name in ("Bo", "Cy", "Di"):
        agenda.add(greet, key=f"scattered-{name}")(name)
    await agenda.scatter(docket, over=timedelta(minutes=5), start=WHEN)
    await docket.strike("greet", "name", "==", "Eve")


def shows(text: str, parts: list[str]) -> bool:
    position = 0
    for part in parts:
        found = text.find(part, position)
        if found < 0:
            return False
        position = found + len(part)
    return True


@pytest.mark.timeout(300)
@pytest.mark.parametrize("group", list(GROUPS))
async def test_bad_options_exit_2_naming_the_option_and_value_and_change_nothing(
    redis_docket: Docket, redis_url: str, workdir: Path, group: str
) -> None:
    await seed(redis_docket)
    before = await raw_state(redis_docket)
    slots = asyncio.Semaphore(3)  # a few processes at a time: the machine is small

    async def one(args: tuple[str, ...], parts: list[str]) -> tuple[tuple[str, ...], str] | None:
        where = [] if "--url" in args else ["--url", redis_url]
        where += [] if "--docket" in args else ["--docket", redis_docket.name]
        async with slots:
            result = await strew(*args, *where, cwd=workdir)
        text = flat(result.err)
        if result.code != 2 or not shows(text, parts) or "Traceback" in result.err:
            return args, f"exit {result.code}: {text[:400]} {result.out[:200]}"
        return None

    problems = [p for p in await asyncio.gather(*(one(*c) for c in GROUPS[group])) if p]
    assert problems == []
    assert await raw_state(redis_docket) == before


DOWN_COMMANDS: list[tuple[tuple[str, ...], str]] = [
    (("snapshot",), "take a snapshot"),
    # (Without --yes and without a terminal, clear refuses before it reaches Redis.)
    (("clear", "--yes"), "clear the schedule"),
    (("cancel", "some-key", "--yes"), "read a task's state"),
    (("cancel", "--scatter", "some-id", "--yes"), "cancel a batch"),
    (("workers",), ""),
    (("quarantine",), ""),
    (("quarantine", "--drop-all"), ""),
    ((*SCATTER, "--over", "5m"), ""),
    (("watch", "some-key", "--no-follow"), "read a task's state"),
    (("strike",), "read the strikes"),
    (("strike", "greet"), "add a strike"),
    (("restore", "greet"), "read the strikes"),
    (("tasks", "trace", "hello"), ""),
    (("tasks", "sleep", "1"), ""),
    ((*WORKER,), "read the server clock"),
]


async def test_every_command_on_a_redis_that_is_down_is_one_clear_line_and_exit_1(
    workdir: Path,
) -> None:
    # A closed loopback port: refused at once, like a Redis that is down.
    url = f"redis://127.0.0.1:{free_port()}/0"
    slots = asyncio.Semaphore(3)

    async def one(args: tuple[str, ...], step: str) -> tuple[tuple[str, ...], str] | None:
        async with slots:
            result = await strew(*args, "--url", url, cwd=workdir)
        text = flat(result.err)
        wanted = [f"Error: could not reach Redis at {url}", step]
        if result.code != 1 or not shows(text, wanted) or "Traceback" in result.err:
            return args, f"exit {result.code}: {text[:400]}"
        return None

    problems = [p for p in await asyncio.gather(*(one(*c) for c in DOWN_COMMANDS)) if p]
    assert problems == []
