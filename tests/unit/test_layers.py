"""The engine's layers (docs/architecture.md): every import points down, no cycles.

Each module of ``services/engine`` belongs to one layer; a domain package spans
several (its pure rules low, its router at the edge). The graph's nodes are
(layer, package) pairs: an import may stay in its layer or go down, never up,
and the nodes form no cycle. A new module must be given its layer here.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "services" / "engine"

# Lowest first. A pattern is a module path below services.engine; "pkg.*" covers
# the modules of a package not named elsewhere.
LAYERS: list[tuple[str, list[str]]] = [
    ("core", ["config", "core.*"]),
    (
        "rules",
        [
            "tickets.states",
            "tickets.numbering",
            "tickets.ahead",
            "halls.opening_hours",
            "halls.settings",
            "halls.national",
            "windows.states",
            "windows.rules",
            "statistics.measures",
            "statistics.reports",
            "statistics.facts",
            "statistics.advice_check",
            "statistics.replay",
            "statistics.push_rules",
            "balancing.interleave",
            "balancing.policy",
            "balancing.estimates",
            "balancing.tidal",
            "balancing.config",
            "bookings.rules",
            "devices.rules",
            "alerts.rules",
            "evaluations.rules",
            "reviews.calendar",
            "reviews.states",
            "reviews.codes",
            "reviews.settings",
            "reviews.visibility",
            "reviews.indicators",
            "reviews.export",
            "partners.signing",
            "partners.ratelimit",
            "public.signing",
            "auth.permissions",
            "auth.throttle",
            "setup.hall_file",
            "setup.problems",
            "regions.rules",
            "regions.figures",
        ],
    ),
    (
        "events",
        [
            "events.hub",
            "events.models",
            "events.outbox",
            "events.repository",
            "events.source",
            "events.retention",
            "events.pg",
        ],
    ),
    ("halls", ["halls.*", "audit.*", "regions.models", "regions.repository"]),
    ("tickets, auth", ["tickets.*", "auth.*"]),
    ("windows", ["windows.*"]),
    (
        "balancing, bookings, evaluations, devices, partners",
        [
            "balancing.*",
            "bookings.*",
            "evaluations.*",
            "devices.*",
            "partners.*",
            "statistics.*",
            "regions.*",
        ],
    ),
    # The 好差评 loop above the ratings it follows (a 差评 opens its case).
    ("reviews", ["reviews.*"]),
    ("flows, setup", ["flows.*", "setup.*"]),
    ("alerts", ["alerts.*"]),
    (
        "edge",
        [
            "*.router",
            "statistics.simulation_router",
            "statistics.push_router",
            # the satisfaction report's endpoint: reads the 好差评 loop, above statistics
            "statistics.satisfaction",
            "*.schemas",
            "deps",
            "partners.deps",
            "public.*",
            "reviews.public",
            "reviews.pages",
            "display.*",
            "console.*",
            "manage.*",
            "events.router",
            "events.socket",
            "events.guard",
            "events.bus",
            "events.snapshot",
            "app",
            "apidocs",
            "pages",
            "health",
            "metrics",
            "logs",
            "backup",
            "main",
            "models",
            "demo",
            "migrate",
        ],
    ),
]

# Pure rules import no web framework, no database and no I/O.
IMPURE = ("fastapi", "starlette", "sqlalchemy", "asyncpg", "aiosqlite", "httpx", "asyncio")
IMPURE += ("socket", "serial", "subprocess", "services.engine.core.db")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ENGINE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) or "__init__"


def _specificity(pattern: str, module: str) -> int | None:
    """How closely ``pattern`` names ``module`` (None: not at all)."""
    if pattern == module:
        return 3
    head, _, tail = pattern.partition(".")
    if head == "*" and module.endswith("." + tail):
        return 2
    if tail == "*" and (module == head or module.startswith(head + ".")):
        return 1
    return None


def layer_of(module: str) -> int:
    best: tuple[int, int] | None = None
    for index, (_, patterns) in enumerate(LAYERS):
        for pattern in patterns:
            score = _specificity(pattern, module)
            if score is not None and (best is None or score > best[0]):
                best = (score, index)
    if best is None:
        raise AssertionError(f"services.engine.{module} has no layer: declare it in LAYERS")
    return best[1]


def _imports(path: Path) -> list[str]:
    """Every module imported by ``path``, absolute, with the names imported from it."""
    found: list[str] = []
    package = ["services", "engine", *path.relative_to(ENGINE).parent.parts]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append(module)
            # ``from services.engine.tickets import repository`` imports a module.
            found.extend(f"{module}.{alias.name}" for alias in node.names)
    return found


def _engine_modules() -> dict[str, Path]:
    """The engine's modules; packages' ``__init__`` files hold no code (checked below)."""
    return {_module_name(p): p for p in ENGINE.rglob("*.py") if p.name != "__init__.py"}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    if not name.startswith("services.engine."):
        return None
    rest = name.removeprefix("services.engine.")
    while rest and rest not in modules:
        rest = rest.rpartition(".")[0]
    return rest or None


def _node(module: str) -> tuple[int, str]:
    return layer_of(module), module.split(".")[0]


def edges() -> dict[tuple[str, str], list[str]]:
    """Engine import edges between modules: (importer, imported) -> where."""
    modules = _engine_modules()
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for module, path in modules.items():
        for name in _imports(path):
            target = _resolve(name, modules)
            if target is not None and target != module:
                found[module, target].append(name)
    return found


def test_every_module_has_a_layer() -> None:
    modules = _engine_modules()
    assert len(modules) > 80
    for module in modules:
        layer_of(module)


def test_package_inits_import_nothing() -> None:
    for path in ENGINE.rglob("__init__.py"):
        assert _imports(path) == [], f"{path} imports: keep code out of package __init__ files"


def upward(found: Iterable[tuple[str, str]]) -> list[str]:
    """Imports that point up the layers."""
    return [
        f"{a} ({LAYERS[layer_of(a)][0]}) imports {b} ({LAYERS[layer_of(b)][0]})"
        for a, b in found
        if layer_of(b) > layer_of(a)
    ]


def cycle(found: Iterable[tuple[str, str]]) -> list[str] | None:
    """A cycle between (layer, package) nodes, if there is one."""
    graph: dict[tuple[int, str], set[tuple[int, str]]] = defaultdict(set)
    for a, b in found:
        if _node(a) != _node(b):
            graph[_node(a)].add(_node(b))
    nodes = _find_cycle(graph)
    return None if nodes is None else [f"{LAYERS[layer][0]}:{pkg}" for layer, pkg in nodes]


def test_imports_point_down_the_layers() -> None:
    assert upward(edges()) == []


def test_no_cycle_between_packages() -> None:
    assert cycle(edges()) is None


def _find_cycle(
    graph: dict[tuple[int, str], set[tuple[int, str]]],
) -> list[tuple[int, str]] | None:
    state: dict[tuple[int, str], int] = {}
    stack: list[tuple[int, str]] = []

    def visit(node: tuple[int, str]) -> list[tuple[int, str]] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_pure_rules_do_no_io() -> None:
    rules = LAYERS[1][1]
    modules = _engine_modules()
    for module in rules:
        if module not in modules:
            continue
        for name in _imports(modules[module]):
            assert not any(name == bad or name.startswith(bad + ".") for bad in IMPURE), (
                f"{module} is a pure rule but imports {name}"
            )


def test_the_checks_see_what_they_must_refuse() -> None:
    """The checks themselves: the engine's real edges plus one bad import each."""
    real = list(edges())
    # An upward import: a repository reaching for a use case.
    assert upward([*real, ("tickets.repository", "flows.issue")]) == [
        "tickets.repository (tickets, auth) imports flows.issue (flows, setup)"
    ]
    # A cycle inside one layer: windows uses tickets, so tickets must not use windows.
    bad = cycle(
        [*real, ("tickets.models", "windows.models"), ("windows.service", "tickets.service")]
    )
    assert bad is not None and "tickets, auth:tickets" in bad and "windows:windows" in bad
    # Two packages of one layer that import each other.
    pair = [("bookings.service", "balancing.service"), ("balancing.repository", "bookings.models")]
    assert cycle([*real, *pair]) is not None
    # The knot this test was written against: halls importing windows.
    assert upward([("halls.repository", "windows.models")]) != []
