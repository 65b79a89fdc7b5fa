"""A scatter meets its tasks' rate limits: it says when the plan asks for more starts than a
limit lets through (or refuses), and can follow the limit instead of a window."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import pytest

from strew import Agenda, Docket, RateLimit, RateLimitWarning

from ..cli.test_cli import flat, strew


async def quota_call(n: int, rate: RateLimit = RateLimit(10, per=timedelta(seconds=1))) -> None:
    pass


async def per_customer(
    customer: Annotated[str, RateLimit(2, per=timedelta(minutes=1))], n: int
) -> None:
    pass


async def plain(n: int) -> None:
    pass


def agenda_of(count: int) -> Agenda:
    agenda = Agenda()
    for n in range(count):
        agenda.add(quota_call)(n)
    return agenda


async def test_a_plan_faster_than_the_limit_is_warned_about(docket: Docket) -> None:
    with pytest.warns(
        RateLimitWarning, match=r"within 1s for rate limit quota_call \(it allows 10\)"
    ):
        scattered = await agenda_of(100).scatter(docket, over=timedelta(seconds=2))
    assert len(scattered) == 100  # written all the same: the limit puts the excess back


async def test_a_plan_faster_than_the_limit_can_be_refused_before_anything_is_written(
    docket: Docket,
) -> None:
    with pytest.raises(ValueError, match="more starts than a rate limit lets through"):
        await agenda_of(100).scatter(docket, over=timedelta(seconds=2), over_limit="refuse")
    assert (await docket.snapshot()).total_tasks == 0


async def test_a_plan_within_the_limit_passes_quietly(docket: Docket) -> None:
    scattered = await agenda_of(20).scatter(docket, over=timedelta(seconds=3), over_limit="refuse")
    assert len(scattered) == 20


async def test_a_scatter_can_follow_the_limit_instead_of_a_window(docket: Docket) -> None:
    scattered = await agenda_of(21).scatter(docket, rate="limit", over_limit="refuse")
    times = [execution.when for execution in scattered]
    assert times[-1] - times[0] == timedelta(seconds=2)  # 20 gaps at 10 a second
    assert {b - a for a, b in itertools.pairwise(times)} == {timedelta(milliseconds=100)}


async def test_per_value_limits_are_checked_value_by_value(docket: Docket) -> None:
    agenda = Agenda()
    for n in range(30):
        agenda.add(per_customer)("acme" if n % 3 else "globex", n)
    with pytest.raises(ValueError, match=r"customer:acme \(it allows 2\).*customer:globex"):
        await agenda.scatter(docket, over=timedelta(minutes=2), over_limit="refuse")
    # Spread over ten minutes, each customer gets at most two a minute.
    spread = Agenda()
    for n in range(10):
        spread.add(per_customer)("acme" if n % 2 else "globex", n)
    await spread.scatter(docket, over=timedelta(minutes=10), over_limit="refuse")


async def test_following_a_limit_needs_a_task_that_has_one(docket: Docket) -> None:
    agenda = Agenda()
    agenda.add(plain)(1)
    with pytest.raises(ValueError, match="rate='limit' follows the RateLimit of the task"):
        await agenda.scatter(docket, rate="limit")
    with pytest.raises(ValueError, match="over_limit must be 'warn', 'refuse' or 'ignore'"):
        await agenda.scatter(docket, over=timedelta(seconds=1), over_limit="loud")  # type: ignore[arg-type]
    assert (await docket.snapshot()).total_tasks == 0


async def test_strew_scatter_draws_the_task_rate_limit_and_warns_of_a_plan_over_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "limited_tasks.py").write_text(
        "from datetime import timedelta\n"
        "from strew import RateLimit\n"
        "async def call_api(n: int, rate: RateLimit = RateLimit(5, per=timedelta(seconds=1)))"
        " -> None: ...\n"
    )
    (tmp_path / "args.jsonl").write_text("".join(f"[{n}]\n" for n in range(60)))
    where = ("--args-file", str(tmp_path / "args.jsonl"), "--buckets", "3", "--url", "memory://")
    env = {"PYTHONPATH": str(tmp_path), "COLUMNS": "200"}
    dry = await strew(
        "scatter", "limited_tasks:call_api", *where, "--over", "6s", "--dry-run", env=env
    )
    assert dry.code == 0, dry.err
    assert "│ = its rate limit (5 per 1s), 10 per slice" in dry.out
    assert "in red: the excess is put back" in dry.out
    assert dry.out.count("│") == 4  # the title's, and one on each slice's row
    real = await strew("scatter", "limited_tasks:call_api", *where, "--over", "6s", env=env)
    assert real.code == 0, real.err
    assert "Warning: this scatter plans more starts than a rate limit lets through" in flat(
        real.out
    )
    quiet = await strew("scatter", "limited_tasks:call_api", *where, "--over", "30s", env=env)
    assert quiet.code == 0 and "Warning" not in quiet.out
