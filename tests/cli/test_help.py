"""Every command's --help reads at 80 columns: nothing cut, and no text eaten as markup."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from strew.cli import app

from .test_cli import ENV

COMMANDS = [
    [],
    ["worker"],
    ["snapshot"],
    ["clear"],
    ["cancel"],
    ["scatter"],
    ["workers"],
    ["quarantine"],
    ["watch"],
    ["strike"],
    ["restore"],
    ["version"],
    ["tasks"],
    ["tasks", "trace"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "strew")
def test_help_fits_80_columns(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={**ENV, "COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    too_wide = [line for line in result.output.splitlines() if len(line) > 80]
    assert too_wide == []
    cut = [line for line in result.output.splitlines() if "…" in line]
    assert cut == []  # an option's name, variable or default cut short


def test_brackets_in_help_are_text_not_markup() -> None:
    result = CliRunner().invoke(app, ["strike", "--help"], env={**ENV, "COLUMNS": "80"})
    words = " ".join(result.output.replace("│", " ").split())
    assert "between takes [low, high])" in words
