"""``strew scatter``: a file of arguments spread over a window, through a real process."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from strew import CatchUp, Docket
from strew.agenda.catch_up import META_KEY
from strew.cli.args_file import ArgsFileError, parse_args_lines
from strew.cli.render import count_into_slices
from strew.cli.scatter import catch_up_text, parse_catch_up

from .test_cli import flat, strew

TASKS = """
async def visit(url: str, depth: int = 1) -> None: ...
"""


@pytest.fixture
def workdir(tmp_path: Path) -> tuple[Path, str]:
    """A directory holding a task module (by a unique name) and nothing else."""
    name = f"strew_cli_scatter_tasks_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(TASKS)
    return tmp_path, f"{name}:visit"


def write_lines(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps([f"https://example.test/{i}"]) + "\n" for i in range(count)))
    return path


# -- the arguments file, in-process ------------------------------------------------------------


async def visit(url: str, depth: int = 1) -> None: ...


def test_each_line_is_an_array_of_arguments_or_an_object_with_args_kwargs_and_key() -> None:
    lines = parse_args_lines(
        [
            '["a"]\n',
            "\n",
            '{"args": ["b"], "kwargs": {"depth": 2}, "key": "b-2"}\n',
            '{"kwargs": {"url": "c"}}\n',
        ],
        "items.jsonl",
        visit,
    )
    assert [(line.args, line.kwargs, line.key) for line in lines] == [
        (("a",), {}, None),
        (("b",), {"depth": 2}, "b-2"),
        ((), {"url": "c"}, None),
    ]


@pytest.mark.parametrize(
    ("bad", "complaint"),
    [
        ("[oops", "not JSON"),
        ('"just a string"', "expected a JSON array of arguments or an object"),
        ('{"arguments": []}', "unknown field(s) 'arguments'"),
        ('{"args": "a"}', '"args" must be a JSON array'),
        ('{"args": ["a"], "kwargs": []}', '"kwargs" must be a JSON object'),
        ('{"args": ["a"], "key": 5}', '"key" must be a non-empty string'),
        ("[]", "the arguments do not fit visit(url, depth=1): missing a required argument"),
        ('["a", 1, 2]', "too many positional arguments"),
    ],
)
def test_a_bad_line_is_an_error_naming_the_file_and_line_number(bad: str, complaint: str) -> None:
    with pytest.raises(ArgsFileError) as caught:
        parse_args_lines(['["fine"]\n', "\n", bad + "\n"], "items.jsonl", visit)
    assert str(caught.value).startswith("items.jsonl line 3: ")
    assert complaint in str(caught.value)


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("run-late", CatchUp.run_late()),
        ("respread", CatchUp.respread()),
        ("respread:1.5", CatchUp.respread(speed=1.5)),
        (" Respread:2x ", CatchUp.respread(speed=2.0)),
        ("skip:5m", CatchUp.skip(older_than=timedelta(minutes=5))),
        ("skip:1h30m", CatchUp.skip(older_than=timedelta(minutes=90))),
    ],
)
def test_a_catch_up_policy_is_spelled_as_a_name_and_a_figure(text: str, policy: CatchUp) -> None:
    assert parse_catch_up(text) == policy
    assert parse_catch_up(catch_up_text(policy)) == policy


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("later", "'later' is not a catch-up policy: use run-late, respread, respread:SPEED"),
        ("respread:", "'respread:' is not a catch-up policy"),
        ("respread:fast", "('fast' is not a speed)"),
        ("respread:0", "'respread:0': speed must be a positive, finite number, got 0.0"),
        ("respread:1e300", "'respread:1e300': speed must be at most 1000"),
        ("skip", "'skip' is not a catch-up policy"),
        ("skip:0s", "'skip:0s': older_than must be a positive duration"),
        ("skip:5 mins", "'5 mins' is not a duration"),
        ("run-late:1", "'run-late:1' is not a catch-up policy"),
    ],
)
def test_a_bad_catch_up_policy_is_an_error_naming_it(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        parse_catch_up(text)


def test_planned_times_are_counted_into_slices_with_the_end_included() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    end = start + timedelta(minutes=10)
    moments = [start + timedelta(minutes=m) for m in (0, 1, 4.99, 5, 10)]
    assert count_into_slices(moments, start, end, 2) == [3, 2]
    assert count_into_slices([start - timedelta(1), end + timedelta(1)], start, end, 2) == [0, 0]
    assert count_into_slices([start, start], start, start, 3) == [2, 0, 0]


# -- through the command -----------------------------------------------------------------------


async def test_a_dry_run_plans_and_draws_without_writing(
    redis_docket: Docket, redis_url: str, workdir: tuple[Path, str]
) -> None:
    directory, task = workdir
    items = write_lines(directory / "items.jsonl", 120)
    result = await strew(
        "scatter",
        task,
        "--over",
        "1h",
        "--jitter",
        "5s",
        "--seed",
        "7",
        "--buckets",
        "6",
        "--start",
        "2030-01-01T09:00:00Z",
        "--args-file",
        str(items),
        "--dry-run",
        "--url",
        redis_url,
        "--docket",
        redis_docket.name,
        cwd=directory,
    )
    assert result.code == 0, result.err
    assert "Planned (dry run, nothing written) load: 120 tasks over 1h" in result.out
    assert "from 2030-01-01 09:00:00.000Z, 6 slices of 10m" in result.out
    rows = [line.split() for line in result.out.splitlines() if line.strip().startswith("+")]
    assert [row[0] for row in rows] == ["+0s", "+10m", "+20m", "+30m", "+40m", "+50m"]
    assert sum(int(row[-1]) for row in rows) == 120
    assert (await redis_docket.snapshot()).total_tasks == 0


async def test_a_levelled_dry_run_plans_around_what_is_already_scheduled(
    redis_docket: Docket, redis_url: str, workdir: tuple[Path, str]
) -> None:
    directory, task = workdir
    items = write_lines(directory / "items.jsonl", 600)
    start = datetime(2030, 1, 1, 9, tzinfo=UTC)
    redis_docket.register(visit)
    for i in range(60):  # a burst in the first five minutes of the hour
        await redis_docket.add(visit, when=start + timedelta(seconds=5 * i))(f"burst-{i}")
    args = ("scatter", task, "--over", "1h", "--buckets", "6", "--start", start.isoformat())
    where = ("--args-file", str(items), "--url", redis_url, "--docket", redis_docket.name)

    def slices(out: str) -> list[int]:
        return [int(line.split()[-1]) for line in out.splitlines() if line.strip().startswith("+")]

    plain = await strew(*args, *where, "--dry-run", cwd=directory)
    assert plain.code == 0, plain.err
    assert "already scheduled" not in plain.out
    assert slices(plain.out) == [100] * 6  # the batch alone, blind to the burst

    result = await strew(*args, *where, "--dry-run", "--level", cwd=directory)
    assert result.code == 0, result.err
    assert "levelled around 60 already scheduled (shown added up)" in flat(result.out)
    counts = slices(result.out)
    # Burst and batch together are flat: the batch leaves room where the burst is.
    assert sum(counts) == 660 and max(counts) <= 1.1 * 660 / 6, counts
    assert (await redis_docket.snapshot()).total_tasks == 60


async def test_a_scatter_writes_every_line_over_the_window(
    redis_docket: Docket, redis_url: str, workdir: tuple[Path, str]
) -> None:
    directory, task = workdir
    items = write_lines(directory / "items.jsonl", 99)
    with items.open("a") as file:
        file.write(json.dumps({"args": ["keyed"], "kwargs": {"depth": 3}, "key": "the-key"}))
    start = datetime(2030, 1, 1, 9, tzinfo=UTC)
    env = {"STREW_URL": redis_url, "STREW_DOCKET": redis_docket.name, "STREW_OVER": "10m"}
    args = ("scatter", task, "--args-file", str(items), "--start", start.isoformat())
    result = await strew(*args, "--buckets", "4", env=env, cwd=directory)
    assert result.code == 0, result.err
    assert f"Scattered 100 tasks of visit on docket {redis_docket.name}" in result.out
    assert "100 scheduled, 0 already scheduled" in result.out
    assert "Planned load: 100 tasks over 10m from 2030-01-01 09:00:00.000Z" in result.out
    snapshot = await redis_docket.snapshot(limit=1000)
    assert snapshot.total_tasks == 100
    times = sorted(execution.when for execution in snapshot.future)
    assert (times[0], times[-1]) == (start, start + timedelta(minutes=10))
    keyed = [e for e in snapshot.future if e.key == "the-key"]
    assert [(e.function_name, e.args, e.kwargs) for e in keyed] == [
        ("visit", ("keyed",), {"depth": 3})
    ]
    assert all(e.scatter_id for e in snapshot.future)

    again = await strew(*args, env=env, cwd=directory)
    assert again.code == 0, again.err
    assert "99 scheduled, 1 already scheduled (kept)" in again.out
    # The picture shows what this scatter wrote, not the key that kept its earlier time.
    assert "Planned load: 99 tasks over 10m" in again.out


async def test_a_bad_line_names_its_number_and_nothing_is_written(
    redis_docket: Docket, redis_url: str, workdir: tuple[Path, str]
) -> None:
    directory, task = workdir
    items = write_lines(directory / "items.jsonl", 10)
    with items.open("a") as file:
        file.write('{"args": ["x"], "kwargs": {"depht": 2}}\n')
    result = await strew(
        "scatter",
        task,
        "--rate",
        "20",
        "--args-file",
        str(items),
        "--url",
        redis_url,
        "--docket",
        redis_docket.name,
        cwd=directory,
    )
    assert result.code == 2
    assert f"Error: {items} line 11: the arguments do not fit visit(" in result.err
    assert "unexpected keyword argument 'depht'" in result.err
    assert (await redis_docket.snapshot()).total_tasks == 0


async def test_scatter_refuses_unclear_windows_and_times(workdir: tuple[Path, str]) -> None:
    directory, task = workdir
    items = write_lines(directory / "items.jsonl", 3)
    base = ("scatter", task, "--args-file", str(items), "--dry-run")
    neither = await strew(*base, cwd=directory)
    assert neither.code == 2
    assert "give exactly one of --over, --rate or --every, got none" in neither.err
    both = await strew(*base, "--over", "5m", "--rate", "2", cwd=directory)
    assert both.code == 2 and "got over, rate" in both.err
    naive = await strew(*base, "--over", "5m", "--start", "2030-01-01T09:00", cwd=directory)
    assert naive.code == 2 and "--start: '2030-01-01T09:00' has no time zone" in naive.err
    duration = await strew(*base, "--over", "5 mins", cwd=directory)
    assert duration.code == 2
    assert "Invalid value for '--over'" in flat(duration.err)
    missing = await strew(
        "scatter", task, "--over", "5m", "--args-file", "nope.jsonl", cwd=directory
    )
    assert missing.code == 2 and "--args-file: cannot read 'nope.jsonl'" in missing.err
    function = await strew(*base[:1], "nope_module_xyz:visit", *base[2:], "--over", "1m")
    assert function.code == 2 and "no module named 'nope_module_xyz'" in function.err


async def test_catch_up_travels_with_every_task_and_a_bad_one_writes_nothing(
    redis_docket: Docket, redis_url: str, workdir: tuple[Path, str]
) -> None:
    directory, task = workdir
    items = write_lines(directory / "items.jsonl", 11)
    env = {"STREW_URL": redis_url, "STREW_DOCKET": redis_docket.name, "STREW_OVER": "10s"}
    base = ("scatter", task, "--args-file", str(items), "--start", "2030-01-01T09:00:00Z")
    bad = await strew(*base, "--catch-up", "respread:fast", env=env, cwd=directory)
    assert bad.code == 2
    assert "Invalid value for '--catch-up'" in flat(bad.err)
    assert "'respread:fast' is not a catch-up policy" in flat(bad.err)
    assert (await redis_docket.snapshot()).total_tasks == 0

    result = await strew(*base, "--catch-up", "respread:1.5", env=env, cwd=directory)
    assert result.code == 0, result.err
    assert "Catch-up after an outage: respread:1.5." in result.out
    # 11 tasks over 10 s are planned 1 s apart; at 1.5x a re-spread spaces them 2/3 s apart.
    snapshot = await redis_docket.snapshot(limit=100)
    assert {e.meta[META_KEY] for e in snapshot.future} == {("respread", 1_000_000, 666_667)}

    skipping = await strew(
        *base, "--dry-run", env={**env, "STREW_CATCH_UP": "skip:5m"}, cwd=directory
    )
    assert skipping.code == 0, skipping.err
    assert "Catch-up after an outage: skip:5m." in skipping.out
