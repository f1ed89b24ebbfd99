"""Audit-entry queries (the audit trail is read per entity: no scope clause of its own; the
caller has already checked that the principal may see the entity)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.models import Base


def entries_of_entity(
    session: Session, *, entity_type: str, entity_id: int, limit: int
) -> list[AuditEntry]:
    """The newest ``limit`` audit entries of one entity, newest first."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
        .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def rows_by_ids(session: Session, model: type[Base], ids: Collection[int]) -> list[Any]:
    """The rows of ``model`` with these ids (an entry's changes name them by id)."""
    return list(session.scalars(select(model).where(model.__table__.c.id.in_(ids))))
