"""Where SQL may be written, and who may call repositories (read from the code's syntax tree).

- ``select(...)`` and ``text(...)`` of SQLAlchemy are built only in a domain's
  ``repository.py`` and in the telemetry store (``telemetry/store.py``: COPY and bulk upserts).
  Every other module asks a repository, through its domain's service. ``NOT_YET_MOVED`` lists
  the modules that still build queries, each with why it is still there; the list may only
  shrink (a listed module that no longer builds SQL fails the test until it is removed).
- Pages (``web/*.py``) and JSON routes (``*/api.py``) never import a repository: they call
  services, which apply the rules (scope, ordering, defaults) once for both.
- The form helpers and the pydantic-error text have one home each: ``web/forms.py`` and
  ``errors.validation_summary``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import dustgrid

SRC = Path(dustgrid.__file__).parent
SQL_BUILDERS = {"select", "text"}
# Modules that are the home of SQL besides repositories, and why.
SQL_HOMES = {
    "telemetry/store.py": "the reading store: COPY on PostgreSQL, bulk upserts, roll-up reads",
    "db.py": "the engine's own upkeep: ANALYZE after a bulk load (no domain data)",
}

_OTHER_BRANCH = "issue 11: not moved yet, its queries go into the repository next"
# Modules that still build SQL outside a repository. Only shrinks.
NOT_YET_MOVED: dict[str, str] = {
    # not a domain service
    "cases/models.py": "text() is the WHERE of a partial index in the table definition (DDL)",
    "demo/city.py": "the demo city loader: a one-off script that writes a whole city",
    "demo/reference.py": "the demo loader of reference stations",
    "simulator/demo_devices.py": "the demo device loader (simulator, not a domain)",
    "simulator/runner.py": "the simulator's device list (simulator, not a domain)",
}


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path.relative_to(SRC).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _sql_calls(tree: ast.Module) -> list[int]:
    """Lines where SQLAlchemy's ``select(`` or ``text(`` is called."""
    names: set[str] = set()  # local names bound to sqlalchemy's select/text
    modules: set[str] = set()  # local names bound to the sqlalchemy package (``sa``)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            names |= {a.asname or a.name for a in node.names if a.name in SQL_BUILDERS}
        elif isinstance(node, ast.Import):
            modules |= {
                a.asname or a.name for a in node.names if a.name.split(".")[0] == "sqlalchemy"
            }
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _builds_sql(node.func, names, modules)
    )


def _builds_sql(f: ast.expr, names: set[str], modules: set[str]) -> bool:
    if isinstance(f, ast.Name):
        return f.id in names
    return (
        isinstance(f, ast.Attribute)
        and f.attr in SQL_BUILDERS
        and isinstance(f.value, ast.Name)
        and f.value.id in modules
    )


def _is_sql_home(rel: str) -> bool:
    return rel.endswith("/repository.py") or "/repository/" in rel or rel in SQL_HOMES


def _sql_outside_repositories() -> dict[str, list[int]]:
    found = {}
    for rel, tree in _modules():
        lines = _sql_calls(tree)
        if lines and not _is_sql_home(rel):
            found[rel] = lines
    return found


def test_sql_is_built_only_in_repositories_and_the_telemetry_store() -> None:
    found = _sql_outside_repositories()
    new = {rel: lines for rel, lines in found.items() if rel not in NOT_YET_MOVED}
    assert new == {}, (
        "SQL built outside a repository (move the query into the domain's repository.py and "
        f"call it through the service): {new}"
    )


def test_the_not_yet_moved_list_only_shrinks() -> None:
    found = _sql_outside_repositories()
    done = sorted(rel for rel in NOT_YET_MOVED if rel not in found)
    assert done == [], (
        f"these modules build no SQL any more: remove them from NOT_YET_MOVED: {done}"
    )


def _imports_repository(tree: ast.Module) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for t in targets:
            parts = t.split(".")
            if parts[0] == "dustgrid" and "repository" in parts:
                out.append((node.lineno, t))
                break
    return out


def _is_page_or_api(rel: str) -> bool:
    return rel.startswith("web/") or rel == "api.py" or rel.endswith("/api.py")


def test_pages_and_api_routes_call_services_not_repositories() -> None:
    found = {
        rel: hits
        for rel, tree in _modules()
        if _is_page_or_api(rel) and (hits := _imports_repository(tree))
    }
    assert found == {}, f"pages and API routes must call a service, not a repository: {found}"


def _defined_functions(tree: ast.Module) -> set[str]:
    return {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


FORM_HELPERS = {"flash", "pop_flash", "attempt", "_flash", "_pop_flash", "_attempt"}


def test_form_helpers_live_only_in_web_forms() -> None:
    copies = {
        rel: sorted(names)
        for rel, tree in _modules()
        if rel != "web/forms.py" and (names := _defined_functions(tree) & FORM_HELPERS)
    }
    assert copies == {}, f"use dustgrid.web.forms instead of a copy: {copies}"


def _reads_error_msg(tree: ast.Module) -> list[int]:
    """Lines reading a pydantic error's ``msg`` (``e["msg"]`` or ``e.get("msg")``)."""
    return [node.lineno for node in ast.walk(tree) if _is_msg_read(node)]


def _is_msg_read(node: ast.AST) -> bool:
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "msg"
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and bool(node.args)
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value == "msg"
    )


# Modules that read pydantic errors one by one for another purpose than the message text.
READS_ERRORS_FOR_STRUCTURE = {
    "app.py": "builds the JSON 422's structured ``errors`` list, then calls validation_summary",
    "sites/excel/importing.py": "puts each error on the spreadsheet column it belongs to",
}


def test_pydantic_errors_are_formatted_in_one_place() -> None:
    copies = {
        rel: lines
        for rel, tree in _modules()
        if rel != "errors.py"
        and rel not in READS_ERRORS_FOR_STRUCTURE
        and (lines := _reads_error_msg(tree))
    }
    assert copies == {}, f"use errors.validation_summary / validation_messages: {copies}"
