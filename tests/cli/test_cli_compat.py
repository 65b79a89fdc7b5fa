"""What a pydocket deployment expects of the command line, on strew: ``--version``,
``python -m strew``, pydocket's ``DOCKET_*`` variables and the options of ``docket worker``."""

from __future__ import annotations

import asyncio
import sys

from strew import __version__

from .test_cli import ENV, flat, strew


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
