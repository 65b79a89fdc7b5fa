"""The shape of the code, checked: imports inside strew point one way (down the layers, and
never in a circle), the CLI reaches a store only through the Docket, and no source file grows
past 500 lines. Every import counts, those under ``if TYPE_CHECKING:`` and those inside a
function included: a circle hidden that way is still a circle to a reader."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import strew
from strew.stores.memory.store import MemoryStore
from strew.stores.protocol import Store
from strew.stores.redis.store import RedisStore

SOURCE = Path(strew.__file__).parent

LAYERS = [
    ["strew.stores"],
    ["strew.task"],
    ["strew.dependencies"],
    ["strew.signals"],
    ["strew.docket"],
    ["strew.agenda"],
    ["strew.worker"],
    ["strew.tasks", "strew.testing", "strew.sync", "strew"],
    ["strew.dashboard"],
    ["strew.cli", "strew.__main__"],
]
"""Bottom first: a module may import from its own layer and the ones before it, never from
a later one. (``strew`` itself is the package's ``__init__``: the public names;
``strew.__main__`` is ``python -m strew``, the command line's second door; the web
dashboard sits above the public names and below the command line that serves it.)"""

MAX_LINES = 500


def module_name(path: Path) -> str:
    parts = ["strew", *path.relative_to(SOURCE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in SOURCE.rglob("*.py")}


def imported(name: str, path: Path) -> Iterator[str]:
    """The strew modules ``name`` imports, wherever the import statement stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*up, base] if base else up)
            # "from strew.x import y" imports the module strew.x.y when there is one.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        yield from (t for t in targets if t in MODULES and t != name)


GRAPH = {name: sorted(set(imported(name, path))) for name, path in MODULES.items()}


def layer_of(name: str) -> int:
    """The index of the layer ``name`` belongs to: its longest matching prefix."""
    best, found = -1, -1
    for index, layer in enumerate(LAYERS):
        for prefix in layer:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    return found


def circles(graph: dict[str, list[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_checks_see_the_whole_package() -> None:
    assert len(MODULES) > 50
    assert all(layer_of(name) >= 0 for name in MODULES), [
        name for name in MODULES if layer_of(name) < 0
    ]
    # An import under TYPE_CHECKING and one inside a function are both seen.
    assert "strew.stores.memory.store" in GRAPH["strew.stores"]


def test_no_module_imports_itself_back_through_others() -> None:
    assert circles(GRAPH) == []


def test_circles_are_found_however_they_are_hidden() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert circles(graph) == [["a", "b", "c"]]


def test_every_import_points_down_the_layers() -> None:
    upward = [
        f"{name} (layer {layer_of(name)}) imports {target} (layer {layer_of(target)})"
        for name, targets in GRAPH.items()
        for target in targets
        if layer_of(target) > layer_of(name)
    ]
    assert upward == []


def test_the_cli_and_the_dashboard_reach_a_store_only_through_the_docket() -> None:
    reaching = [
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if name.startswith(("strew.cli", "strew.dashboard"))
        for target in targets
        if target.startswith(("strew.stores.redis", "strew.stores.memory", "strew.stores.protocol"))
    ]
    assert reaching == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_source_file_is_over_500_lines(name: str) -> None:
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{MODULES[name]} has {lines} lines"


def stores_are_whole(memory: MemoryStore, redis: RedisStore) -> tuple[Store, Store]:
    """Never called: mypy checks here that both stores are the whole `Store` protocol, the
    methods of every mixin (typed on a protocol of what they use) included."""
    return memory, redis
