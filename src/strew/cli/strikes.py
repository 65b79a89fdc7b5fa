"""``strew strike`` and ``strew restore``: pause tasks everywhere without a deploy.

``strew strike [FUNCTION] [PARAMETER OPERATOR VALUE]``: one word strikes a whole function,
three strike a parameter's matching calls of every function, four both. VALUE is read as
JSON when it parses (``42``, ``"42"``, ``[1, 10]``, ``null``), as a plain string otherwise.
Without any word, ``strew strike`` lists the strikes in force.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from strew.cli.common import (
    DEFAULT_DOCKET,
    EXIT_USAGE,
    DocketOption,
    LoadArgumentsOption,
    UrlOption,
    fail,
    run,
    safe_url,
)
from strew.docket.docket import Docket
from strew.docket.settings import DEFAULT_URL
from strew.docket.snapshots import DocketSnapshot
from strew.docket.strikes import Strike, check_strike

# Words for the operators that a shell would otherwise take for redirections.
ALIASES = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}

RuleArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="[FUNCTION] [PARAMETER OPERATOR VALUE]",
        envvar="STREW_STRIKE",
        show_default=False,
        help="A task name; and/or a parameter, an operator (== != > >= < <= between, or "
        "eq ne gt ge lt le) and a value (JSON if it parses, else a string; between takes "
        "\\[low, high]). Quote > and < from the shell.",
    ),
]


def parse_value(text: str) -> Any:
    """JSON when ``text`` parses as JSON, the text itself otherwise."""
    try:
        return json.loads(text)
    except ValueError:
        return text


TASK_NAME = re.compile(r"[\w.:-]+")
"""What the command takes for a task name: letters, digits and ``_ . : -`` (a function's
``__name__``, or a dotted or dashed name it was registered under). Anything else is far more
likely a rule typed as one quoted word (``"amount > 100"``) than a task's name, and striking
a function nobody has would silently pause nothing."""


def parse_rule(words: list[str]) -> tuple[str | None, str | None, str, Any]:
    """``(function, parameter, operator, value)`` from the command's words; raises
    ValueError naming what is wrong."""
    if len(words) not in (1, 3, 4):
        raise ValueError(
            f"expected FUNCTION, or PARAMETER OPERATOR VALUE, or all four, got {len(words)} "
            f"words: {' '.join(words)!r}"
        )
    function = words[0] if len(words) in (1, 4) else None
    if function is not None and not TASK_NAME.fullmatch(function):
        raise ValueError(
            f"FUNCTION must be a task name (letters, digits, _ . : -), got {function!r}; "
            "to match calls by an argument give PARAMETER OPERATOR VALUE as separate words"
        )
    if len(words) == 1:
        return function, None, "==", None
    parameter, operator, value = words[-3:]
    return function, parameter, ALIASES.get(operator, operator), parse_value(value)


def strike(
    rule: RuleArgument = None,
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    load_arguments: LoadArgumentsOption = False,
) -> None:
    """Pause a task function, or only its calls whose argument matches, on every producer and
    worker within a second. Stricken adds are refused; stricken tasks already scheduled are
    held until `strew restore`. Without arguments, list the strikes in force."""
    run(_strike(url, docket, rule or [], lift=False, load_arguments=load_arguments))


def restore(
    rule: RuleArgument = None,
    url: UrlOption = DEFAULT_URL,
    docket: DocketOption = DEFAULT_DOCKET,
    load_arguments: LoadArgumentsOption = False,
) -> None:
    """Lift a strike (the same words that made it) and put every held task back on the
    schedule; workers run each one that no remaining strike pauses."""
    if not rule:
        fail("say which strike to lift (`strew strike` lists them)", EXIT_USAGE)
    run(_strike(url, docket, rule, lift=True, load_arguments=load_arguments))


async def _strike(
    url: str, name: str, words: list[str], *, lift: bool, load_arguments: bool
) -> None:
    console = Console()
    async with Docket(name, url, load_arguments=load_arguments) as the_docket:
        where = f"docket {name} at {safe_url(url)}"
        if words:
            try:
                function, parameter, operator, value = parse_rule(words)
                # The CLI has no task module: names are taken as given, not checked against
                # a registry (workers match them against the names they know).
                rule = check_strike(the_docket.tasks, function, parameter, operator, value)
            except (TypeError, ValueError) as error:
                fail(f"{error}", EXIT_USAGE)
            if lift:
                lifted, back = await the_docket.strike_book.lift(
                    function, parameter, operator, value
                )
                what = (
                    f"Lifted the strike on {rule.describe()}"
                    if lifted
                    else f"No strike on {rule.describe()} was in force"
                )
                console.print(
                    f"{what} on {where}; {back:,} held task{'' if back == 1 else 's'} went "
                    "back on the schedule.",
                    soft_wrap=True,
                )
            else:
                await the_docket.strike_book.add(function, parameter, operator, value)
                console.print(
                    f"Struck {rule.describe()} on {where}. Producers and workers see it within "
                    "a second.",
                    soft_wrap=True,
                )
        await the_docket.strike_book.refresh()
        rules = the_docket.strike_book.rules
        held, _ = await the_docket.store.held_tasks(0)
    console.print(strikes_table(rules) if rules else f"No strikes in force on {where}.")
    console.print(f"Held tasks: {held:,}")


def strikes_table(rules: list[Strike]) -> Table:
    table = Table(title=f"Strikes ({len(rules):,})", title_justify="left")
    table.add_column("Function")
    table.add_column("Calls paused")
    for rule in sorted(rules, key=lambda r: (r.function or "", r.condition())):
        table.add_row(rule.function or "* (every function)", rule.condition())
    return table


def held_summary(taken: DocketSnapshot) -> str | None:
    """One line for ``strew snapshot`` about tasks strikes hold, None when there are none."""
    if not taken.held_total:
        return None
    names = sorted({execution.function_name for execution in taken.held})
    listed = f" ({', '.join(names)}{', ...' if len(taken.held) < taken.held_total else ''})"
    return (
        f"Held by strikes: {taken.held_total:,} task{'' if taken.held_total == 1 else 's'}"
        f"{listed if names else ''}; `strew restore` puts them back."
    )
