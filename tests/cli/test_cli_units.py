"""The CLI's pure parts: the duration grammar, the histogram drawing, import strings."""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from rich.console import Console

from strew.cli.durations import (
    duration,
    format_duration,
    parse_duration,
    positive_duration,
)
from strew.cli.loading import TaskImportError, import_tasks
from strew.cli.render import bar, due_text, histogram, offset_labels, relative

# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250ms", timedelta(milliseconds=250)),
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("2d", timedelta(days=2)),
        ("1m30s500ms", timedelta(minutes=1, seconds=30, milliseconds=500)),
        ("750us", timedelta(microseconds=750)),
        ("1.5h", timedelta(hours=1, minutes=30)),
        (".5s", timedelta(milliseconds=500)),
        ("2.5", timedelta(seconds=2.5)),
        ("30", timedelta(seconds=30)),
        ("0", timedelta(0)),
        ("0s", timedelta(0)),
        ("  5M ", timedelta(minutes=5)),
        ("0.1", timedelta(milliseconds=100)),
    ],
)
def test_durations_read_as_people_write_them(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "is not a duration"),
        ("   ", "is not a duration"),
        ("5x", "is not a duration"),
        ("five minutes", "is not a duration"),
        ("ms", "is not a duration"),
        ("1h30", "is not a duration"),
        ("1e3", "is not a duration"),
        ("inf", "is not a duration"),
        ("nan", "is not a duration"),
        ("-5s", "cannot be negative"),
        ("-1", "cannot be negative"),
        ("30m1h", "largest first"),
        ("5m5m", "largest first"),
        ("99999999d", "too long"),
    ],
)
def test_a_bad_duration_is_an_error_that_quotes_it(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint) as caught:
        parse_duration(text)
    assert repr(text) in str(caught.value)


def test_a_duration_that_is_not_a_string_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="must be a string"):
        parse_duration(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(microseconds=250), "250us"),
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(seconds=2.5), "2.5s"),
        (timedelta(seconds=30), "30s"),
        (timedelta(minutes=2, seconds=5), "2m5s"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(days=1, hours=2), "1d2h"),
        (timedelta(seconds=-3), "-3s"),
    ],
)
def test_durations_print_in_the_same_grammar(value: timedelta, text: str) -> None:
    assert format_duration(value) == text
    if value >= timedelta(0):
        assert parse_duration(text) == value


def test_the_option_parsers_pass_defaults_through_and_turn_errors_into_usage_errors() -> None:
    assert duration(timedelta(seconds=3)) == timedelta(seconds=3)
    assert duration("0") == timedelta(0)
    assert positive_duration("5m") == timedelta(minutes=5)
    with pytest.raises(typer.BadParameter, match="'soon' is not a duration"):
        duration("soon")
    with pytest.raises(typer.BadParameter, match="must be more than zero, got '0s'"):
        positive_duration("0s")


# -- drawing -----------------------------------------------------------------------------------


def test_bars_are_scaled_to_the_peak_in_eighths_of_a_cell() -> None:
    assert bar(10, 10, 4) == "████"
    assert bar(5, 10, 4) == "██"
    assert bar(1, 16, 4) == "▏" * 0 + "▎"  # 1/16 of 4 cells is 2 eighths
    assert bar(0, 10, 4) == ""
    assert bar(3, 0, 4) == ""


def test_a_single_task_never_draws_as_an_empty_bar() -> None:
    assert bar(1, 1_000_000, 10) == "▏"


def render(renderable: object, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_histogram_has_one_row_per_slice_with_label_bar_and_count() -> None:
    text = render(histogram([0, 4, 8, 2], ["+0s", "+15s", "+30s", "+45s"], width=8, title="Load"))
    lines = text.splitlines()
    assert lines[0] == "Load"
    assert [line.split()[0] for line in lines[1:]] == ["+0s", "+15s", "+30s", "+45s"]
    assert lines[3].split()[1:] == ["████████", "8"]
    assert lines[2].split()[1:] == ["████", "4"]
    assert lines[1].split()[1:] == ["0"]
    assert lines[4].split()[-1] == "2"


def test_an_all_zero_histogram_still_draws_every_slice() -> None:
    text = render(histogram([0, 0, 0], ["a", "b", "c"]))
    assert [line.split() for line in text.splitlines()] == [["a", "0"], ["b", "0"], ["c", "0"]]


def test_large_counts_print_with_thousands_separators() -> None:
    assert "12,345" in render(histogram([12_345], ["x"]))


def test_the_histogram_refuses_counts_and_labels_of_different_lengths() -> None:
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        histogram([1, 2], ["a"])
    with pytest.raises(ValueError, match="width must be at least 1, got 0"):
        histogram([1], ["a"], width=0)


def test_slice_labels_are_offsets_from_the_start() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    assert offset_labels(start, start + timedelta(hours=1), 4) == ["+0s", "+15m", "+30m", "+45m"]
    assert offset_labels(start, start + timedelta(minutes=50), 24)[1] == "+2m5s"


def test_relative_times_read_naturally() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert relative(now + timedelta(seconds=5), now) == "in 5s"
    assert relative(now - timedelta(minutes=2), now) == "2m ago"
    assert relative(now, now) == "now"
    assert due_text(now + timedelta(seconds=1), now).plain == "in 1s"
    assert due_text(now - timedelta(seconds=3), now).plain == "overdue by 3s"


# -- import strings ----------------------------------------------------------------------------


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A current directory to write task modules into; sys.path and sys.modules are put back
    afterwards."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    return tmp_path


def write_module(directory: Path, source: str) -> str:
    name = f"strew_cli_tasks_{uuid.uuid4().hex[:8]}"
    (directory / f"{name}.py").write_text(source)
    return name


TASKS = """
async def one() -> None: ...
def two() -> None: ...
tasks = [one, two]
more = (f for f in [one])
class Registry:
    tasks = [two]
registry = Registry()
not_a_list = 42
with_a_number = [one, 3]
"""


def test_a_bare_module_means_its_tasks_attribute(module_dir: Path) -> None:
    name = write_module(module_dir, TASKS)
    assert [f.__name__ for f in import_tasks(name)] == ["one", "two"]


def test_module_colon_attribute_names_any_iterable_or_one_function(module_dir: Path) -> None:
    name = write_module(module_dir, TASKS)
    assert [f.__name__ for f in import_tasks(f"{name}:tasks")] == ["one", "two"]
    assert [f.__name__ for f in import_tasks(f"{name}:more")] == ["one"]
    assert [f.__name__ for f in import_tasks(f"{name}:two")] == ["two"]
    assert [f.__name__ for f in import_tasks(f"{name}:registry.tasks")] == ["two"]


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("", "an import string is module:attribute or module"),
        (":tasks", "is not an import string"),
        ("{module}:", "is not an import string"),
        ("no_such_module_for_strew:tasks", "no module named 'no_such_module_for_strew'"),
        ("{module}:missing", "has no attribute 'missing'"),
        ("{module}:not_a_list", "must name a list of task functions, got int 42"),
        ("{module}:with_a_number", "item 1 is not a function, got int 3"),
    ],
)
def test_a_bad_import_string_is_an_error_that_names_it(
    module_dir: Path, spec: str, complaint: str
) -> None:
    spec = spec.format(module=write_module(module_dir, TASKS))
    with pytest.raises(TaskImportError, match=complaint) as caught:
        import_tasks(spec)
    assert repr(spec) in str(caught.value)


def test_a_module_that_fails_to_import_says_why(module_dir: Path) -> None:
    broken = write_module(module_dir, "raise RuntimeError('database not configured')\n")
    with pytest.raises(TaskImportError, match="RuntimeError: database not configured"):
        import_tasks(broken)
    missing_dependency = write_module(module_dir, "import no_such_dependency_for_strew\n")
    with pytest.raises(TaskImportError, match="no_such_dependency_for_strew") as caught:
        import_tasks(missing_dependency)
    assert f"importing {missing_dependency!r} raised" in str(caught.value)


def test_a_bare_module_without_tasks_hints_at_the_convention(module_dir: Path) -> None:
    name = write_module(module_dir, "x = 1\n")
    with pytest.raises(TaskImportError, match=r"a bare module name means module:tasks"):
        import_tasks(name)


# -- counts per function in `strew snapshot` ---------------------------------------------------


def test_estimated_counts_are_marked_and_explained_and_exact_ones_are_not() -> None:
    from strew.cli.snapshot import _functions_table
    from strew.stores.records import FunctionCounts, FunctionTally

    counts = FunctionCounts(
        scheduled=FunctionTally(250_000, {"send": 200_000, "": 50_000}, exact=False),
        running=FunctionTally(3, {"send": 3}, exact=True),
        held=FunctionTally(2, {"sync": 2}, exact=True),
    )
    console = Console(width=200, record=True)
    console.print(_functions_table(counts))
    text = console.export_text()
    assert "Scheduled ≈" in text and "Running ≈" not in text and "Held" in text
    rows = {line.split("│")[1].strip(): line.split("│")[2:5] for line in text.splitlines()[4:7]}
    assert [cell.strip() for cell in rows["send"]] == ["≈200,000", "3", "0"]
    assert [cell.strip() for cell in rows["<unreadable>"]] == ["≈50,000", "0", "0"]
    assert [cell.strip() for cell in rows["sync"]] == ["≈0", "0", "2"]
    assert "≈ estimated from a random sample of 5,000 tasks each, of 250,000 scheduled" in text
    assert "counted exactly up to 100,000" in text

    exact = FunctionCounts(
        *(FunctionTally(1, {"send": 1}, exact=True),) * 2, FunctionTally(0, {}, True)
    )
    console = Console(width=200, record=True)
    console.print(_functions_table(exact))
    plain = console.export_text()
    assert "≈" not in plain and "Held" not in plain
