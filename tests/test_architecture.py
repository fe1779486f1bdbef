"""The layout keeps what docs/architecture.md draws: modules talk through each other's
public faces, and no gridsup module depends on itself through others.

Read from the source with ``ast`` (nothing is imported), over every module of
``src/gridsup``. Imports inside functions and under ``TYPE_CHECKING`` count too: a lazy
or a typing-only import back is still a cycle of meaning. import-linter's contracts
(``.importlinter``: layers, runtime knows no actor kind, actor kinds and exchange
adapters independent of each other) keep the rest.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Cycles that stay for now, each with why it was not cut yet.
KNOWN_CYCLES: dict[frozenset[str], str] = {}

# Another object's underscore attribute, read where the object is not ours: third-party
# internals only, each with why there is no public way.
FOREIGN_PRIVATES: dict[tuple[str, str], str] = {
    ("gridsup.exchange.loopback.server", "_server"): (
        "aiohttp's TCPSite tells the port bound for port 0 only through its _server"
    ),
    ("gridsup.supervisor.metrics.server", "_server"): (
        "aiohttp's TCPSite tells the port bound for port 0 only through its _server"
    ),
    ("gridsup.exchange.loopback.ws", "_req"): (
        "aiohttp's WebSocketResponse gives no public way to drop a connection without a "
        "close frame (a fault the loopback injects)"
    ),
    ("gridsup.runtime.entry", "_forkserver_alive_fd"): (
        "multiprocess's forkserver keeps its liveness pipe there; a forked child closes it "
        "so that the forkserver notices its parent's death"
    ),
    ("gridsup.supervisor.alert_sender", "_Environ"): "os.environ's type, for annotations",
    ("gridsup.supervisor.processes", "_children"): (
        "multiprocess polls every child in its module's _children at each start (a selector "
        "each: quadratic in the fleet); the supervisor takes its children off it, and follows "
        "them by their sentinels"
    ),
}


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    tree: ast.Module
    is_package: bool


def gridsup_modules(src: Path = SRC) -> dict[str, Module]:
    modules: dict[str, Module] = {}
    for path in sorted((src / "gridsup").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if package else parts)
        modules[name] = Module(name, ast.parse(path.read_text(), str(path)), package)
    return modules


def imported_from(module: Module, node: ast.ImportFrom) -> str:
    """The absolute name of what ``from ... import`` reads from."""
    if node.level == 0:
        return node.module or ""
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(module: Module, known: Mapping[str, Module]) -> Iterator[str]:
    """The gridsup modules ``module`` imports (a name imported from a package counts as
    the submodule when it is one, else as the package)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            source = imported_from(module, node)
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    yield f"{source}.{alias.name}"
                elif source in known:
                    yield source


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def cycles(graph: Mapping[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(frozenset(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


MODULES = gridsup_modules()


def test_the_source_tree_is_read() -> None:
    assert {"gridsup.runtime.actor", "gridsup.actors.grid.actor", "gridsup.exchange"} <= set(
        MODULES
    )


def test_no_module_imports_another_modules_private_names() -> None:
    found = [
        f"{module.name} imports {source}.{alias.name}"
        for module in MODULES.values()
        for node in ast.walk(module.tree)
        if isinstance(node, ast.ImportFrom)
        and (source := imported_from(module, node)).startswith("gridsup")
        for alias in node.names
        if private(alias.name)
    ]

    assert found == []


def test_no_module_reads_another_objects_private_attributes() -> None:
    """``obj._x`` only on ``self``/``cls``: a part that needs more of another gets a public
    face, a Protocol or a callback (supervisor_link and the grid status do)."""
    found = sorted(
        f"{module.name}:{node.lineno} {ast.unparse(node)}"
        for module in MODULES.values()
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Attribute)
        and private(node.attr)
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        and (module.name, node.attr) not in FOREIGN_PRIVATES
    )

    assert found == []


def test_every_listed_foreign_private_is_still_read() -> None:
    read = {
        (module.name, node.attr)
        for module in MODULES.values()
        for node in ast.walk(module.tree)
        if isinstance(node, ast.Attribute)
    }

    assert set(FOREIGN_PRIVATES) - read == set()  # a stale entry: remove it


def test_gridsup_modules_import_each_other_without_cycles() -> None:
    graph = {m.name: set(imports(m, MODULES)) - {m.name} for m in MODULES.values()}

    found = set(cycles(graph))

    assert found - set(KNOWN_CYCLES) == set(), "a new import cycle"
    assert set(KNOWN_CYCLES) - found == set(), "a known cycle is gone: remove its entry"


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, set()),
        ({"a": {"b"}, "b": {"a"}}, {frozenset("ab")}),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, {frozenset("abc")}),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, {frozenset("ab"), frozenset("cd")}),
    ],
)
def test_the_cycle_finder_finds_cycles(
    graph: dict[str, set[str]], expected: set[frozenset[str]]
) -> None:
    assert set(cycles(graph)) == expected


def test_relative_and_package_imports_resolve_to_modules() -> None:
    modules = {
        name: Module(name, ast.parse(code), package)
        for name, code, package in [
            ("gridsup.p", "from gridsup.p.a import x", True),
            ("gridsup.p.a", "from . import b\nfrom .b import _y\nimport gridsup.p", False),
            ("gridsup.p.b", "from gridsup.p import c", False),
            ("gridsup.p.c", "", False),
        ]
    }

    edges = {m.name: set(imports(m, modules)) for m in modules.values()}

    assert edges == {
        "gridsup.p": {"gridsup.p.a"},
        "gridsup.p.a": {"gridsup.p.b", "gridsup.p"},
        "gridsup.p.b": {"gridsup.p.c"},
        "gridsup.p.c": set(),
    }
