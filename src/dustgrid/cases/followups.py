"""Follow-ups of a move: who hears about it, and the records it feeds.

``plan_transition`` names the follow-ups (``states.Followup``); ``run`` carries them out
inside the move's transaction. Records that belong to the same state change (the site's
penalty ladder, the enterprise's bad records, the rework count) are written now, so they
commit or roll back with the move; messages go to the in-app inbox and, through the
outbox, to outbound channels after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.cases import penalties
from dustgrid.cases.credit import service as credit
from dustgrid.cases.feedback import SOURCE_FEEDBACK_JOB
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.policy import CasePolicy
from dustgrid.cases.repository import (
    contractor_users,
    grid_members,
    l1_users,
    l2_users,
    l3_users,
)
from dustgrid.cases.states import Followup
from dustgrid.config import Settings
from dustgrid.identity.principal import Principal
from dustgrid.notifications import service as notifications
from dustgrid.outbox.queue import enqueue
from dustgrid.sites.models import Site

EVENT_TITLES: dict[str, tuple[str, str]] = {
    "case.reported": ("新问题上报", "New problem reported"),
    "case.merged": ("重复上报已合并", "Duplicate report merged"),
    "case.dispatched": ("案件已交办", "Case dispatched"),
    "case.returned": ("案件被退回", "Case returned"),
    "case.transferred": ("案件已转办", "Case transferred"),
    "case.accepted": ("案件已接收", "Case accepted"),
    "case.reassigned": ("案件负责人变更", "Case reassigned"),
    "case.handling_started": ("案件开始办理", "Handling started"),
    "case.fixed_on_site": ("现场解决，待核查", "Fixed on site, to verify"),
    "case.rectification_ordered": ("责令限期整改", "Rectification ordered"),
    "case.rectification_submitted": ("企业提交整改", "Rectification submitted"),
    "case.recheck_passed": ("复查通过，待核查", "Recheck passed, to verify"),
    "case.recheck_failed": ("复查未通过，返工", "Recheck failed, rework"),
    "case.penalty_opened": ("立案处罚", "Penalty case opened"),
    "case.penalty_served": ("处罚决定已送达", "Penalty decision served"),
    "case.closed": ("案件已销号", "Case closed"),
    "case.verify_failed": ("核查未通过，返工", "Verification failed, rework"),
    "case.suspended": ("案件挂账", "Case suspended"),
    "case.resumed": ("案件恢复办理", "Case resumed"),
    "case.reopened": ("案件重新打开", "Case reopened"),
    "case.looked_back": ("回头看通过", "Look-back passed"),
    "case.look_back_failed": ("回头看发现问题", "Look-back found the problem again"),
    "case.dismissed": ("案件不予立案", "Case dismissed"),
    "case.reminder": ("案件即将到期", "Case due soon"),
    "case.escalated": ("案件超期升级", "Overdue case escalated"),
    "case.review_due": ("挂账案件到期复核", "Suspended case due for review"),
    "case.look_back_selected": ("回头看抽查", "Selected for look-back"),
    "case.recheck_due": ("待复查", "Recheck due"),
}


def title_for(kind: str, case_id: int) -> str:
    zh, en = EVENT_TITLES.get(kind, (kind, kind))
    return f"{zh}（案件 #{case_id}） / {en} (case #{case_id})"


# --------------------------------------------------------------------------- recipients
# (who each follow-up reaches: the queries are in ``repository``)


def audience(
    session: Session, case: Case, site: Site | None, followups: Iterable[str]
) -> tuple[set[int], dict[str, Any] | None]:
    """User ids to notify for these follow-ups, and the site contact for outbound channels."""
    who: set[int] = set()
    contact: dict[str, Any] | None = None
    l2_units = [case.assigned_unit_id or (site.l2_unit_id if site else None)]
    for f in followups:
        if f in (Followup.notify_l1, Followup.notify_l1_l2_l3):
            who |= l1_users(session)
        if f in (Followup.notify_l2, Followup.notify_l1_l2_l3):
            who |= l2_users(session, l2_units)
        if f == Followup.notify_l1_l2_l3:
            who |= l3_users(session, case, site)
        if f == Followup.notify_responsible and case.responsible_user_id:
            who.add(case.responsible_user_id)
        if f == Followup.notify_site_contact and site is not None:
            who |= contractor_users(session, site)
            if site.contact_phone or site.contact_name:
                contact = {"name": site.contact_name, "phone": site.contact_phone}
        if f == Followup.schedule_recheck and site is not None:
            who |= grid_members(session, site.inspector_grid_id)
    return who, contact


# --------------------------------------------------------------------------- running them


def run(
    session: Session,
    *,
    case: Case,
    event: CaseEvent,
    followups: Iterable[str],
    actor: Principal | None,
    policy: CasePolicy,
    settings: Settings,
    now: datetime,
) -> None:
    """Carry out the follow-ups of ``event`` (records now, messages via inbox/outbox)."""
    todo = list(followups)
    site = session.get(Site, case.site_id) if case.site_id else None
    if Followup.record_rework in todo:
        case.rework_count = (case.rework_count or 0) + 1
    if Followup.record_site_problem in todo and site is not None:
        penalties.record_problem(session, case=case, site=site, now=now, policy=policy)
    if Followup.record_bad_behaviour in todo and site is not None:
        credit.record_bad_behaviour(
            session, case=case, site=site, actor=actor, now=now, policy=policy, settings=settings
        )
    who, contact = audience(session, case, site, todo)
    if actor is not None:
        who.discard(actor.user_id)
    if who or contact:
        notifications.notify(
            session,
            user_ids=who,
            kind=event.kind,
            title=title_for(event.kind, case.id),
            body=(event.reason or case.description)[:500],
            link=f"/cases/{case.id}",
            case_id=case.id,
            now=now,
            settings=settings,
            extra={"site_contact": contact} if contact else None,
        )
    if case.external_ref:
        enqueue(
            session,
            SOURCE_FEEDBACK_JOB,
            {
                "source": case.source.value,
                "external_ref": case.external_ref,
                "case_id": case.id,
                "event_id": event.id,
                "event": event.kind,
                "state": case.state.value,
                "at": now.isoformat(),
            },
            run_after=now,
            max_attempts=settings.jobs_max_attempts,
        )
