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
from dustgrid.devices.mandatory import is_provider_case
from dustgrid.identity.principal import Principal
from dustgrid.notifications import service as notifications
from dustgrid.outbox.queue import enqueue
from dustgrid.sites.models import Site

# A case notification is stored as a message key and its parameters, shown in each
# reader's language: "<event>（案件 #N）" with the event's ``case_event.<kind>`` text.
CASE_MESSAGE = "notifications.case_event"


def message_params(kind: str, case_id: int) -> dict[str, Any]:
    """The parameters of ``CASE_MESSAGE`` for an event of ``kind`` on case ``case_id``."""
    return {"event_key": f"case_event.{kind}", "case_id": case_id}


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
        if f == Followup.notify_site_grids and site is not None:
            who |= grid_members(session, site.enforcement_grid_id)
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
    # offline-device cases (003) are the provider's: no ladder step, no bad-behaviour record
    contractors = site is not None and not is_provider_case(case.category, case.dedup_key)
    if Followup.record_site_problem in todo and site is not None and contractors:
        penalties.record_problem(session, case=case, site=site, now=now, policy=policy)
    if Followup.record_bad_behaviour in todo and site is not None and contractors:
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
            message_key=CASE_MESSAGE,
            params=message_params(event.kind, case.id),
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
