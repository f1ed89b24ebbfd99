"""The partial index of open cases: its state list is the open states, in the model, in
its migration and in the database (Alembic's comparison does not look at a partial
index's ``WHERE`` or ``INCLUDE``), and the sweeps' queries can use it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from sqlalchemy import Engine, Index, func, select, text

from dustgrid.cases.models import (
    OPEN_INDEX_WHERE,
    OPEN_STATE_VALUES,
    OPEN_STATES,
    Case,
    open_clause,
)

NAME = "ix_case_record_open_unit_due"
MIGRATION = (
    Path(__file__).parents[2] / "migrations/versions/20261122_0006_case_open_unit_due_index.py"
)


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0006", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _index() -> Index:
    return next(i for i in Case.__table__.indexes if i.name == NAME)


def test_the_index_lists_exactly_the_open_states() -> None:
    assert set(OPEN_STATE_VALUES) == {s.value for s in OPEN_STATES}
    assert list(OPEN_STATE_VALUES) == sorted(OPEN_STATE_VALUES)
    assert _migration().OPEN_WHERE == OPEN_INDEX_WHERE
    idx = _index()
    assert str(idx.dialect_options["postgresql"]["where"]) == OPEN_INDEX_WHERE
    assert str(idx.dialect_options["sqlite"]["where"]) == OPEN_INDEX_WHERE


def test_the_migrated_index_is_the_models(engine: Engine) -> None:
    include = list(_index().dialect_options["postgresql"]["include"])
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            sql = conn.scalar(
                text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": NAME}
            )
            assert sql is not None
            assert f"(assigned_unit_id, due_at) INCLUDE ({', '.join(include)})" in sql
            for state in OPEN_STATE_VALUES:
                assert f"'{state}'" in sql
        else:
            sql = conn.scalar(
                text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :n"),
                {"n": NAME},
            )
            assert sql is not None and OPEN_INDEX_WHERE in sql


def test_open_clause_renders_the_states_inline(engine: Engine) -> None:
    """A planner matches a partial index only against literal values, so the clause the
    sweeps use renders the list as written in the index."""
    stmt = select(Case.id).where(open_clause())
    compiled = str(stmt.compile(engine, compile_kwargs={"render_postcompile": True}))
    assert "case_record." + OPEN_INDEX_WHERE in compiled
    if engine.dialect.name == "sqlite":  # INDEXED BY: an error if the index cannot serve
        forced = (
            select(func.count())
            .select_from(Case)
            .with_hint(Case, f"INDEXED BY {NAME}", "sqlite")
            .where(open_clause(), Case.assigned_unit_id == 1)
        )
        with engine.connect() as conn:
            assert conn.scalar(forced) == 0
