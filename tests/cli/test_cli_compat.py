"""What a pydocket deployment expects of the command line, on strew: ``--version``,
``python -m strew``, pydocket's ``DOCKET_*`` variables and the options of ``docket worker``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import typer
import typer.main
from typer.core import TyperArgument, TyperGroup, TyperOption

from strew import Docket, __version__
from strew.cli import app
from strew.cli.pydocket_env import aliases
from strew.tasks import sleep, trace

from ..conftest import leftover_keys
from ..helpers import wait_until
from .test_cli import ENV, commands, flat, start_worker, stop, strew

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
    "DOCKET_WORKER_MESSAGE_BATCH": ("worker", "message_batch"),
    "DOCKET_WORKER_MINIMUM_CHECK_INTERVAL": ("worker", "minimum_check_interval"),
    "DOCKET_WORKER_SCHEDULING_RESOLUTION": ("worker", "scheduling_resolution"),
    "DOCKET_WORKER_ENABLE_INTERNAL_INSTRUMENTATION": ("worker", "enable_internal_instrumentation"),
    "DOCKET_FALLBACK_TASK": ("worker", "fallback_task"),
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


PYDOCKET_WORKER_OPTIONS = [
    "--tasks",
    "--docket",
    "--url",
    "--name",
    "--logging-level",
    "--logging-format",
    "--concurrency",
    "--message-batch",
    "--redelivery-timeout",
    "--reconnection-delay",
    "--minimum-check-interval",
    "--scheduling-resolution",
    "--schedule-automatic-tasks",
    "--enable-internal-instrumentation",
    "--no-enable-internal-instrumentation",
    "--until-finished",
    "--healthcheck-port",
    "--metrics-port",
    "--fallback-task",
]
"""Every option of pydocket's ``docket worker`` (pydocket 0.27)."""


def test_strew_worker_has_every_option_of_docket_worker() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    worker = group.commands["worker"]
    names = {name for param in worker.params for name in (*param.opts, *param.secondary_opts)}
    assert [option for option in PYDOCKET_WORKER_OPTIONS if option not in names] == []


async def test_without_tasks_a_worker_runs_the_built_in_ones_until_finished(
    redis_docket: Docket, redis_url: str
) -> None:
    redis_docket.register(trace)
    await redis_docket.add(trace)("hello from the smoke test")
    where = ("--url", redis_url, "--docket", redis_docket.name)
    result = await strew("worker", "--until-finished", *where)
    assert result.code == 0, result.err
    assert "tasks: fail, sleep, trace" in result.err
    assert "trace: hello from the smoke test" in result.err
    assert (await redis_docket.snapshot()).total_tasks == 0


async def test_pydockets_worker_options_are_accepted_and_said_to_change_nothing(
    redis_docket: Docket, redis_url: str, tmp_path: Path
) -> None:
    (tmp_path / "myapp_fallbacks.py").write_text(
        "async def fallback(*args: object, **kwargs: object) -> None: ...\n"
        "async def other(*args: object, **kwargs: object) -> None: ...\n"
    )
    options = (
        "--message-batch",
        "5",
        "--minimum-check-interval",
        "100ms",
        "--scheduling-resolution",
        "00:01",
        "--schedule-automatic-tasks",
        "--enable-internal-instrumentation",
        "--fallback-task",
        "myapp_fallbacks:fallback",
    )
    where = ("--url", redis_url, "--docket", redis_docket.name)
    result = await strew("worker", "--until-finished", *options, *where, cwd=tmp_path)
    assert result.code == 0, result.err
    assert (
        "pydocket's --message-batch 5, --minimum-check-interval 100ms, "
        "--scheduling-resolution 1s, --enable-internal-instrumentation: no effect in strew"
    ) in result.err
    assert "--fallback-task myapp_fallbacks:fallback runs the tasks this worker" in result.err
    pydocket_env = {
        "DOCKET_URL": redis_url,
        "DOCKET_NAME": redis_docket.name,
        "DOCKET_WORKER_MESSAGE_BATCH": "7",
        "DOCKET_WORKER_MINIMUM_CHECK_INTERVAL": "1",
        "DOCKET_WORKER_SCHEDULING_RESOLUTION": "250ms",
        "DOCKET_WORKER_ENABLE_INTERNAL_INSTRUMENTATION": "true",
        "DOCKET_FALLBACK_TASK": "myapp_fallbacks:other",
        "DOCKET_WORKER_CONCURRENCY": "3",
    }
    from_env = await strew("worker", "--until-finished", env=pydocket_env, cwd=tmp_path)
    assert from_env.code == 0, from_env.err
    assert "--message-batch 7, --minimum-check-interval 1s" in from_env.err
    assert "--fallback-task myapp_fallbacks:other runs" in from_env.err
    assert f"started on docket {redis_docket.name} (concurrency 3)" in from_env.err


async def unknown_here(n: int) -> None:  # pragma: no cover - only its name is scheduled
    raise AssertionError("scheduled by name for the worker process")


unknown_here.__name__ = "not_on_this_worker"


async def test_a_fallback_task_runs_what_the_worker_does_not_know(
    redis_docket: Docket, redis_url: str, tmp_path: Path
) -> None:
    (tmp_path / "fallbacks_mod.py").write_text(
        "from strew import CurrentExecution\n"
        "async def catch_all(*args: object, execution=CurrentExecution()) -> None:\n"
        "    print(f'fallback ran {execution.function_name}{args}', flush=True)\n"
    )
    redis_docket.register(unknown_here)
    await redis_docket.add(unknown_here)(7)
    where = ("--url", redis_url, "--docket", redis_docket.name)
    result = await strew(
        "worker",
        "--until-finished",
        "--fallback-task",
        "fallbacks_mod:catch_all",
        *where,
        cwd=tmp_path,
    )
    assert result.code == 0, result.err
    assert "fallback ran not_on_this_worker(7,)" in result.out
    assert (await redis_docket.snapshot()).total_tasks == 0
    missing = await strew("worker", "--fallback-task", "fallbacks_mod:nope", *where, cwd=tmp_path)
    assert missing.code == 2 and "--fallback-task" in missing.err


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (
            ("--message-batch", "0"),
            "Invalid value for '--message-batch' (env var: 'STREW_MESSAGE_BATCH'): must be a "
            "whole number of 1 or more, got '0'",
        ),
        (
            ("--minimum-check-interval", "soon"),
            "Invalid value for '--minimum-check-interval' (env var: "
            "'STREW_MINIMUM_CHECK_INTERVAL'): 'soon' is not a duration",
        ),
        (
            ("--scheduling-resolution", "00:75"),
            "'00:75' is not a duration: minutes and seconds go up to 59",
        ),
    ],
)
async def test_a_bad_value_for_a_pydocket_option_is_a_usage_error_naming_it(
    args: tuple[str, ...], complaint: str
) -> None:
    result = await strew("worker", *args, "--url", "redis://127.0.0.1:1/0")
    assert result.code == 2, result.err
    assert complaint in flat(result.err)


async def test_until_finished_a_signal_still_stops_the_worker_cleanly(
    redis_docket: Docket, redis_url: str, tmp_path: Path
) -> None:
    redis_docket.register(sleep)
    await redis_docket.add(sleep, key="long")(60)
    log = tmp_path / "worker.log"
    where = ("--url", redis_url, "--docket", redis_docket.name)
    process = await start_worker(
        "--until-finished", "--shutdown-grace", "50ms", *where, cwd=tmp_path, log=log
    )
    try:
        await wait_until(lambda: "sleep: 60s (key long)" in log.read_text(), timeout=20)
    finally:
        code = await stop(process)
    text = log.read_text()
    assert code == 0, text
    assert "hands back task long" in text and "stopped" in text
    # Handed back, not lost: the task waits for the next worker.
    assert [e.key for e in (await redis_docket.snapshot()).future] == ["long"]
