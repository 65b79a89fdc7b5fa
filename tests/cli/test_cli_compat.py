"""What a pydocket deployment expects of the command line, on strew: ``--version``,
``python -m strew``, pydocket's ``DOCKET_*`` variables and the options of ``docket worker``."""

from __future__ import annotations

import asyncio
import sys

import pytest
import typer
import typer.main
from typer.core import TyperArgument, TyperGroup, TyperOption

from strew import Docket, __version__
from strew.cli import app
from strew.cli.pydocket_env import aliases

from ..conftest import leftover_keys
from .test_cli import ENV, commands, flat, strew

PYDOCKET_VARIABLES = {
    # pydocket's name: the command that reads it, and strew's option for it.
    "DOCKET_URL": ("snapshot", "url"),
    "DOCKET_REDIS_URL": ("watch", "url"),
    "DOCKET_NAME": ("snapshot", "docket"),
    "DOCKET_TASKS": ("worker", "tasks"),
    "DOCKET_WORKER_NAME": ("worker", "name"),
    "DOCKET_LOGGING_LEVEL": ("worker", "logging_level"),
    "DOCKET_LOGGING_FORMAT": ("worker", "logging_format"),
    "DOCKET_WORKER_CONCURRENCY": ("worker", "concurrency"),
    "DOCKET_WORKER_REDELIVERY_TIMEOUT": ("worker", "redelivery_timeout"),
    "DOCKET_WORKER_RECONNECTION_DELAY": ("worker", "reconnection_delay"),
    "DOCKET_WORKER_HEALTHCHECK_PORT": ("worker", "healthcheck_port"),
    "DOCKET_WORKER_METRICS_PORT": ("worker", "metrics_port"),
}
"""Every variable pydocket's ``docket`` command reads (pydocket 0.27), where strew has the
option it sets."""


def parameters() -> dict[tuple[str, str], TyperOption | TyperArgument]:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    return {
        (path, param.name or ""): param
        for path, command in commands(group)
        for param in command.params
        if isinstance(param, TyperOption | TyperArgument)
    }


def read(param: TyperOption | TyperArgument) -> str | None:
    return param.resolve_envvar_value(typer.Context(typer.main.get_command(app)))


async def test_the_version_flag_prints_the_version_and_exits_0() -> None:
    result = await strew("--version")
    assert (result.code, result.out.strip(), result.err) == (0, f"strew {__version__}", "")


async def test_python_dash_m_strew_runs_the_same_command() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "strew",
        "version",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=ENV,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    assert (process.returncode, out.decode().strip()) == (0, f"strew {__version__}"), err
    usage = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "strew",
        "worker",
        "--concurrency",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=ENV,
    )
    _, complaint = await asyncio.wait_for(usage.communicate(), timeout=30)
    assert usage.returncode == 2
    assert "Usage: strew worker" in complaint.decode()
    assert "Invalid value for '--concurrency'" in flat(complaint.decode())


@pytest.mark.parametrize("variable", sorted(PYDOCKET_VARIABLES))
def test_each_variable_pydocket_reads_sets_the_same_option_of_strew(
    variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    param = parameters()[PYDOCKET_VARIABLES[variable]]
    monkeypatch.setenv(variable, "from-pydocket")
    assert read(param) == "from-pydocket"
    assert isinstance(param.envvar, str)
    monkeypatch.setenv(param.envvar, "from-strew")
    assert read(param) == "from-strew"


def test_every_strew_variable_is_also_read_as_docket_and_strew_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked = 0
    for (path, name), param in parameters().items():
        strew_name = param.envvar
        assert isinstance(strew_name, str), f"{path} {name}"
        with monkeypatch.context() as env:
            env.setenv(strew_name.replace("STREW_", "DOCKET_", 1), "docket")
            assert read(param) == "docket", f"{path} {name}"
            env.setenv(strew_name, "strew")
            for alias in aliases(strew_name):
                env.setenv(alias, "docket")
            assert read(param) == "strew", f"{path} {name}"
            env.setenv(strew_name, "")  # empty is unset, as it is for STREW_* alone
            assert read(param) == "docket", f"{path} {name}"
        checked += 1
    assert checked > 40


def test_the_aliases_of_a_variable_are_tried_in_order() -> None:
    assert aliases("STREW_URL") == ("DOCKET_URL", "DOCKET_REDIS_URL")
    assert aliases("STREW_DOCKET") == ("DOCKET_DOCKET", "DOCKET_NAME")
    assert aliases("STREW_SHUTDOWN_GRACE") == ("DOCKET_SHUTDOWN_GRACE",)
    with pytest.raises(ValueError, match="name must be a STREW_\\* variable, got 'URL'"):
        aliases("URL")


async def test_a_pydocket_environment_picks_the_docket_and_strew_variables_win(
    redis_docket: Docket, redis_url: str
) -> None:
    pydocket = {"DOCKET_URL": redis_url, "DOCKET_NAME": redis_docket.name}
    result = await strew("snapshot", env=pydocket)
    assert result.code == 0, result.err
    assert f"Docket {redis_docket.name} at {redis_url}" in result.out
    other = f"{redis_docket.name}-other"
    overridden = await strew("snapshot", env={**pydocket, "STREW_DOCKET": other})
    assert overridden.code == 0, overridden.err
    assert f"Docket {other} at {redis_url}" in overridden.out
    assert await leftover_keys(redis_url, other) == []


async def test_a_bad_value_from_a_pydocket_variable_names_that_variable() -> None:
    result = await strew("snapshot", env={"DOCKET_URL": "http://localhost:6379"})
    assert result.code == 2
    assert "Invalid value for '--url' (env var: 'DOCKET_URL')" in flat(result.err)
    assert "got 'http://localhost:6379'" in flat(result.err)
    worker = await strew("worker", "--tasks", "x", env={"DOCKET_WORKER_CONCURRENCY": "0"})
    assert worker.code == 2
    assert "'--concurrency' (env var: 'DOCKET_WORKER_CONCURRENCY')" in flat(worker.err)
    assert "got '0'" in flat(worker.err)
