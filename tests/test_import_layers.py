"""The import contracts of ``src/dustgrid`` (docs/architecture.md, *Layers*).

The graph is built from the code itself: every ``import`` and ``from … import`` statement of
every module (top level, inside functions and under ``TYPE_CHECKING`` alike), resolved to the
module it loads. Three contracts hold:

1. every top-level package sits in exactly one layer, and imports only its own layer or the
   layers below; domains import only domains to their left in ``DOMAINS``;
2. the package graph is acyclic;
3. the pure cores import no database or web library, not even through another module.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
ROOT = "dustgrid"

# Bottom to top. A package may import from its own layer (acyclically) or any layer below.
FOUNDATIONS = frozenset(
    {
        "__version__",  # dustgrid/__init__.py's version string
        "admission",  # the ASGI back-pressure gate (no framework imports)
        "audit",  # imports identity (the principal), never auth
        "bounds",
        "config",
        "data",
        "db",
        "downloads",  # the file-download response every export answers
        "errors",
        "geo",
        "http_edge",
        "i18n",
        "identity",
        "models",
        "pagination",
        "outbox",
        "periodic",
        "routing",  # the APIRouter that skips routers no route of which could match
        "text",
        "workcal",
        "xlsx",
    }
)
# One-way order: a domain imports only the domains to its left.
DOMAINS = (
    "org",
    "sites",
    "grids",
    "auth",
    "notifications",
    "devices",
    "telemetry",
    "cases",
    "intake",
    "trajectories",
    "emergencies",
    "alerts",
    "inspections",
    "patrols",
    "assessments",
    "reports",
    "overview",
)
RUNTIME = frozenset({"ingest", "jobs", "background"})
ENTRY = frozenset(
    {"web", "app", "cli", "serving", "demo", "simulator", "model_registry", "migrate", "wiring"}
)
LAYERS = (FOUNDATIONS, frozenset(DOMAINS), RUNTIME, ENTRY)

# Modules (or packages: every module below them) that must not import these libraries.
PURE_CORES = (
    "dustgrid.ingest.hj212.build",
    "dustgrid.ingest.hj212.codec",
    "dustgrid.ingest.hj212.codes",
    "dustgrid.ingest.hj212.cp",
    "dustgrid.ingest.hj212.crc",
    "dustgrid.ingest.hj212.stream",
    "dustgrid.ingest.hj212.replies",
    "dustgrid.ingest.hj212.loglimit",
    "dustgrid.alerts.engine",
    "dustgrid.alerts.ruleform",
    "dustgrid.alerts.policy",
    "dustgrid.emergencies.policy",
    "dustgrid.devices.protocol",
    "dustgrid.devices.states",
    "dustgrid.devices.mandatory",
    "dustgrid.telemetry.pgcopy",
    "dustgrid.cases.states",
    "dustgrid.workcal",
    "dustgrid.grids.partition",
    "dustgrid.geo",
    "dustgrid.sites.uscc",
    "dustgrid.inspections.checklist",
    "dustgrid.inspections.fence",
    "dustgrid.inspections.photos",
    "dustgrid.inspections.policy",
    "dustgrid.inspections.grading.rule",
    "dustgrid.patrols.planner",
    "dustgrid.patrols.policy",
    "dustgrid.patrols.periods",
    "dustgrid.patrols.priority",
    "dustgrid.patrols.routing",
    "dustgrid.trajectories.policy",
    "dustgrid.trajectories.stays",
    "dustgrid.trajectories.clusters",
    "dustgrid.trajectories.fixes",
    "dustgrid.trajectories.cli",
    "dustgrid.trajectories.store",
    "dustgrid.intake.hotline_match",
    "dustgrid.assessments.policy",
    "dustgrid.assessments.months",
    "dustgrid.assessments.scoring",
    "dustgrid.assessments.codec",
    "dustgrid.trajectories.daily",
    "dustgrid.trajectories.dask_engine",
)
IMPURE_LIBRARIES = frozenset({"sqlalchemy", "fastapi", "starlette", "jinja2", "alembic", "psycopg"})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in (SRC / ROOT).rglob("*.py")}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest prefix of ``name`` that is a module of ours (``a.b.func`` -> ``a.b``)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def _imported_names(module: str, path: Path) -> Iterable[str]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def build_graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> our modules it imports, module -> outside top-level libraries it imports)."""
    modules = _modules()
    internal: dict[str, set[str]] = defaultdict(set)
    external: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        for name in _imported_names(module, path):
            if name == ROOT or name.startswith(ROOT + "."):
                target = _resolve(name, modules)
                if target is not None and target != module:
                    internal[module].add(target)
            elif name:
                external[module].add(name.split(".")[0])
    return internal, external


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__version__"


def _layer(package: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if package in layer)


def _allowed(importer: str, imported: str) -> bool:
    """May package ``importer`` import package ``imported``? (acyclicity is checked apart)"""
    a, b = _layer(importer), _layer(imported)
    if a != b:
        return b < a
    if a == 1:
        return DOMAINS.index(imported) < DOMAINS.index(importer)
    return True


def _package_edges(internal: dict[str, set[str]]) -> dict[tuple[str, str], set[str]]:
    edges: dict[tuple[str, str], set[str]] = defaultdict(set)
    for importer, targets in internal.items():
        for target in targets:
            a, b = _package(importer), _package(target)
            if a != b:
                edges[(a, b)].add(f"{importer} -> {target}")
    return edges


def test_every_package_has_a_layer() -> None:
    packages = {_package(m) for m in _modules()}
    placed = set().union(*LAYERS)
    assert not packages - placed, (
        f"packages without a layer: {sorted(packages - placed)}; place each in one layer "
        "(docs/architecture.md, 'Where a new domain goes')"
    )
    assert sum(len(layer) for layer in LAYERS) == len(placed), "a package is in two layers"


def test_packages_import_only_their_layer_or_below() -> None:
    internal, _ = build_graph()
    broken = [
        f"{a} -> {b}: {sorted(why)}"
        for (a, b), why in sorted(_package_edges(internal).items())
        if not _allowed(a, b)
    ]
    assert not broken, "imports against the layers:\n" + "\n".join(broken)


def _cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for a, b in edges:
        graph[a].add(b)
        graph[b]
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_package_graph_is_acyclic() -> None:
    internal, _ = build_graph()
    edges = _package_edges(internal)
    cycles = _cycles(edges)
    detail = [
        f"{a} -> {b}: {sorted(edges[(a, b)])}"
        for cycle in cycles
        for a in cycle
        for b in cycle
        if (a, b) in edges
    ]
    assert not cycles, f"package cycles {cycles}:\n" + "\n".join(detail)


def _closure(start: str, internal: dict[str, set[str]]) -> dict[str, str]:
    """Every module ``start`` loads, with the module that imports it (for the message)."""
    seen = {start: start}
    todo = [start]
    while todo:
        module = todo.pop()
        for target in sorted(internal.get(module, ())):
            if target not in seen:
                seen[target] = module
                todo.append(target)
    return seen


def test_pure_cores_import_no_database_or_web_library() -> None:
    internal, external = build_graph()
    modules = _modules()
    broken = []
    for core in PURE_CORES:
        members = [m for m in modules if m == core or m.startswith(core + ".")]
        assert members, f"pure core {core} does not exist (update PURE_CORES)"
        for member in members:
            for module, via in _closure(member, internal).items():
                for library in sorted(external.get(module, set()) & IMPURE_LIBRARIES):
                    broken.append(f"{member}: {module} (imported by {via}) imports {library}")
    assert not broken, "pure cores reaching a database or web library:\n" + "\n".join(broken)


def test_the_contracts_see_a_forbidden_import() -> None:
    """The checks are not vacuous: an import against the order, a cycle and an impure core
    are each reported."""
    assert not _allowed("org", "sites")
    assert not _allowed("db", "sites")
    assert not _allowed("sites", "jobs")
    assert _allowed("sites", "org") and _allowed("web", "sites") and _allowed("jobs", "cases")
    assert _cycles([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")]) == [["a", "b", "c"]]
    internal = {"x.core": {"x.helper"}, "x.helper": {"x.db"}}
    assert "x.db" in _closure("x.core", internal)
