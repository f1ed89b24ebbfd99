"""Writing a case's timeline: one event, its attachments and its audit row. Never commits.

Every path that adds to a case's timeline (opening, merging, a move, a note, the ladder,
the look-back sample) builds its ``CaseEvent`` here, so the actor columns and the policy
version are filled the same way everywhere. ``record_event`` is the full step:

1. the event row (flushed, so it has an id);
2. the checked attachments, stored under the event (their summary goes into the event data);
3. ``then(event)``: the caller's follow-ups of the event (``followups.run``), if any;
4. the audit row, last, so a change record computed from the case sees everything the
   step changed;
5. the site hooks (``cases.hooks``), when the step opened the case, changed its state or
   merged a report into it (which may raise its severity): a site's grade depends on them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.cases import attachments as files
from dustgrid.cases import hooks
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.states import System
from dustgrid.config import Settings
from dustgrid.identity.principal import Principal

Changes = Mapping[str, Any] | Callable[[], Mapping[str, Any]]
_MERGED = "case.merged"  # a duplicate report: the case's severity may have risen


def role_of(actor: Principal | None) -> str:
    """The role an event names: the actor's login role, or ``system``."""
    return actor.role.value if actor else System.system.value


@dataclass(frozen=True)
class CaseAudit:
    """The audit row of a timeline step (entity ``case``, the case's id).

    ``changes`` may be a callable: it is called after the step's follow-ups ran."""

    action: str
    summary: str
    changes: Changes | None = field(default=None)


def new_event(
    case_id: int,
    kind: str,
    *,
    actor: Principal | None,
    now: datetime,
    policy_version: str,
    reason: str = "",
    data: dict[str, object] | None = None,
    move: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
) -> CaseEvent:
    """A timeline row (not added to a session): the one place the actor columns are set."""
    return CaseEvent(
        case_id=case_id,
        kind=kind,
        at=now,
        actor_id=actor.user_id if actor else None,
        actor_name=actor.username if actor else System.system.value,
        actor_role=role_of(actor),
        move=move,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data or {},
        policy_version=policy_version,
    )


def record_event(
    session: Session,
    case: Case,
    kind: str,
    *,
    actor: Principal | None,
    now: datetime,
    policy_version: str,
    settings: Settings,
    reason: str = "",
    data: dict[str, object] | None = None,
    move: str | None = None,
    from_state: str | None = None,
    checked: Sequence[files.CheckedFile] = (),
    then: Callable[[CaseEvent], None] | None = None,
    audit_row: CaseAudit | None = None,
) -> CaseEvent:
    """Write one event on ``case`` (to its current state) with its files and audit row."""
    event_data = dict(data or {})
    event = new_event(
        case.id,
        kind,
        actor=actor,
        now=now,
        policy_version=policy_version,
        reason=reason,
        data=event_data,
        move=move,
        from_state=from_state,
        to_state=case.state.value,
    )
    session.add(event)
    session.flush()
    rows = files.store(
        session,
        settings,
        checked,
        case_id=case.id,
        event_id=event.id,
        uploaded_by=actor.user_id if actor else None,
    )
    if rows:
        event.data = {**event_data, "attachments": files.describe(rows)}
    if then is not None:
        then(event)
        session.flush()
    if audit_row is not None:
        changes = audit_row.changes() if callable(audit_row.changes) else audit_row.changes
        audit.record(
            session,
            actor=actor,
            action=audit_row.action,
            entity_type="case",
            entity_id=case.id,
            changes=dict(changes) if changes is not None else None,
            summary=audit_row.summary,
        )
    if from_state is None or from_state != case.state.value or kind == _MERGED:
        hooks.site_cases_changed(session, case.site_id, now, actor)
    return event
