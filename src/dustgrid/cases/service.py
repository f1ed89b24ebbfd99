"""Case logic other modules call: open a case, make a move, add a note. Never commits.

``open_case`` (in ``reporting.py``, re-exported here) is the single entry of every intake
channel; ``move`` makes one move of the state machine in the caller's scope;
``add_note`` and ``update_case_from_source`` add to the timeline without a state change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid.cases import attachments as files
from dustgrid.cases import deadlines, followups
from dustgrid.cases import repository as repo
from dustgrid.cases.attachments import AttachmentIn
from dustgrid.cases.events import CaseAudit, record_event
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.reporting import _now, open_case
from dustgrid.cases.states import CaseSource, Followup
from dustgrid.cases.workflow import MoveInput, transition
from dustgrid.config import Settings, get_settings
from dustgrid.errors import Invalid, NotFound
from dustgrid.identity.principal import Principal
from dustgrid.text import check_field

__all__ = ["add_note", "get_case", "move", "open_case", "update_case_from_source"]


def get_case(session: Session, principal: Principal, case_id: int, *, lock: bool = False) -> Case:
    case = repo.get_visible(session, principal, case_id, lock=lock)
    if case is None:
        raise NotFound(f"案件不存在或无权查看：{case_id} / case not found")
    return case


def move(
    session: Session,
    principal: Principal | None,
    case_id: int,
    move: str,
    data: MoveInput,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseEvent:
    """Load the case in the caller's scope (404 outside it), lock it, and make the move."""
    settings = settings or get_settings()
    if principal is None:
        case = repo.get_visible(session, None, case_id, lock=True)
        if case is None:
            raise NotFound(f"案件不存在：{case_id} / case not found")
    else:
        case = get_case(session, principal, case_id, lock=True)
    return transition(
        session, case, move, actor=principal, data=data, settings=settings, now=_now(now)
    )


def add_note(
    session: Session,
    principal: Principal | None,
    case_id: int,
    *,
    text: str,
    attachments: Sequence[AttachmentIn] = (),
    now: datetime | None = None,
    settings: Settings | None = None,
    kind: str = "case.note",
    notify: bool = False,
) -> CaseEvent:
    """A note or extra photos on the timeline, without a state change."""
    settings = settings or get_settings()
    now = _now(now)
    text = (text or "").strip()
    check_field("text", text, multiline=True)
    if not text and not attachments:
        raise Invalid("请填写内容或上传附件 / write a note or attach a file")
    checked = files.check(list(attachments), settings)
    if principal is None:
        case = repo.get_visible(session, None, case_id, lock=True)
        if case is None:
            raise NotFound(f"案件不存在：{case_id} / case not found")
    else:
        case = get_case(session, principal, case_id, lock=True)
    policy = deadlines.case_policy(settings)
    ev = record_event(
        session,
        case,
        kind,
        actor=principal,
        now=now,
        policy_version=policy.version,
        settings=settings,
        reason=text,
        from_state=case.state.value,
        checked=checked,
        audit_row=CaseAudit(action="case.note", summary=f"案件 #{case.id} 补充说明"),
    )
    if notify:
        followups.run(
            session,
            case=case,
            event=ev,
            followups=[Followup.notify_responsible],
            actor=principal,
            policy=policy,
            settings=settings,
            now=now,
        )
    return ev


def update_case_from_source(
    session: Session,
    *,
    source: CaseSource,
    external_ref: str,
    text: str,
    attachments: Sequence[AttachmentIn] = (),
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseEvent:
    """An intake channel adds to its own case (a caller rings again, the camera sees the
    problem go away): a ``case.source_update`` event; the responsible person is told."""
    case = repo.by_external_ref(session, CaseSource(source), external_ref.strip())
    if case is None:
        raise NotFound(f"找不到来源编号对应的案件：{external_ref} / no case for this reference")
    return add_note(
        session,
        None,
        case.id,
        text=text,
        attachments=attachments,
        now=now,
        settings=settings,
        kind="case.source_update",
        notify=True,
    )
