"""Writing and reading audit entries. Every state-changing service calls ``record``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.audit import repository
from dustgrid.audit.models import AuditEntry
from dustgrid.i18n import Msg, localize, stored
from dustgrid.identity.principal import Principal
from dustgrid.models import Base

SUMMARY_MAX = 255  # the width of ``AuditEntry.summary``


def summary_text(entry: AuditEntry, locale: str) -> str:
    """An entry's summary in ``locale`` (a stored message, or a text as it was written)."""
    return localize(entry.summary, locale)


def _plain(value: Any) -> Any:
    """JSON-safe form of a column value for the change record."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Fields whose values differ, as ``{field: [old, new]}``."""
    out: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = _plain(before.get(key)), _plain(after.get(key))
        if old != new:
            out[key] = [old, new]
    return out


def record(
    session: Session,
    *,
    actor: Principal | None,
    action: str,
    entity_type: str,
    entity_id: int | None,
    changes: dict[str, Any] | None = None,
    summary: str | Msg = "",
) -> AuditEntry:
    """One audit row; a ``Msg`` summary is stored as its key and parameters (shown in the
    reader's language, see ``i18n.localize``)."""
    entry = AuditEntry(
        actor_id=actor.user_id if actor else None,
        actor_name=actor.username if actor else "system",
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes={k: v for k, v in (changes or {}).items()},
        summary=stored(summary, SUMMARY_MAX) if isinstance(summary, Msg) else summary[:SUMMARY_MAX],
        ip=actor.ip if actor else "",
    )
    session.add(entry)
    return entry


def record_change(
    session: Session,
    *,
    actor: Principal | None,
    action: str,
    entity_type: str,
    entity_id: int | None,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    summary: str | Msg,
    extra: Mapping[str, list[Any]] | None = None,
) -> AuditEntry | None:
    """The audit row of a create, update or delete: the fields that differ between the
    ``before`` and ``after`` snapshots (``{}`` before a create, after a delete), plus
    ``extra`` entries (a masked secret). Nothing is written when nothing changed."""
    changes = {**diff(before, after), **(extra or {})}
    if not changes:
        return None
    return record(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        changes=changes,
        summary=summary,
    )


def entries_for(
    session: Session, *, entity_type: str, entity_id: int, limit: int = 200
) -> list[AuditEntry]:
    """The newest ``limit`` audit entries of one entity, newest first."""
    return repository.entries_of_entity(
        session, entity_type=entity_type, entity_id=entity_id, limit=limit
    )


def rows_named_by_id(session: Session, model: type[Base], ids: Iterable[int]) -> list[Any]:
    """The rows of ``model`` that entries name by id (``district_id: [3, 6]``), read in one
    statement for a whole history instead of one per id."""
    wanted = set(ids)
    return repository.rows_by_ids(session, model, wanted) if wanted else []
