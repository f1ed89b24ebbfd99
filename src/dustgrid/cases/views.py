"""Case rows as API shapes: labels, lights and the moves the caller may make."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache, partial

from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.cases import repository as repo
from dustgrid.cases.categories import category_label
from dustgrid.cases.deadlines import escalated_to, light_of
from dustgrid.cases.models import Case
from dustgrid.cases.policy import DEFAULT_CASE_POLICY
from dustgrid.cases.schemas import AttachmentOut, CaseDetail, CaseOut, EventOut
from dustgrid.cases.states import allowed_moves
from dustgrid.cases.workflow import check_scope, site_visible
from dustgrid.errors import Forbidden
from dustgrid.identity.principal import Principal
from dustgrid.org.models import OrgUnit
from dustgrid.sites.models import Site


def case_rows(
    session: Session, cases: Sequence[Case], now: datetime, locale: str = "zh-CN"
) -> list[CaseOut]:
    sites = repo.names(session, Site, [c.site_id for c in cases], "name")
    units = repo.names(session, OrgUnit, [c.assigned_unit_id for c in cases], "name")
    people = repo.names(session, User, [c.responsible_user_id for c in cases], "display_name")
    return [
        _case_out(
            c,
            now,
            locale,
            site_name=sites.get(c.site_id) if c.site_id else None,
            unit_name=units.get(c.assigned_unit_id) if c.assigned_unit_id else None,
            responsible_name=people.get(c.responsible_user_id) if c.responsible_user_id else None,
        )
        for c in cases
    ]


def _case_out(
    c: Case,
    now: datetime,
    locale: str,
    *,
    site_name: str | None,
    unit_name: str | None,
    responsible_name: str | None,
) -> CaseOut:
    light = light_of(now, c.due_at, c.warn_at)
    dlight = light_of(now, c.deadline_at, c.deadline_warn_at) if c.closed_at is None else None
    return CaseOut(
        id=c.id,
        source=c.source.value,
        state=c.state.value,
        site_id=c.site_id,
        site_name=site_name,
        district_id=c.district_id,
        lat=c.lat,
        lon=c.lon,
        category=c.category,
        category_label=category_label(c.category, locale),
        description=c.description,
        severity=c.severity,
        assigned_unit_id=c.assigned_unit_id,
        assigned_unit_name=unit_name,
        responsible_user_id=c.responsible_user_id,
        responsible_name=responsible_name,
        disposition=c.disposition,
        grid_handled=bool(c.grid_handled),
        clock=c.clock,
        level=c.level,
        due_at=c.due_at,
        light=light.value if light else None,
        deadline_at=c.deadline_at,
        deadline_light=dlight.value if dlight else None,
        escalated_to=escalated_to(c.level, c.due_at, now, DEFAULT_CASE_POLICY),
        rework_count=c.rework_count,
        merged_count=c.merged_count,
        opened_at=c.opened_at,
        closed_at=c.closed_at,
        external_ref=c.external_ref,
    )


def moves_for(session: Session, principal: Principal, case: Case) -> list[str]:
    """Moves the table allows this role here, minus those its place in the grid forbids."""
    out = []
    sees_site = cache(partial(site_visible, session, case, principal))  # asked once, not per move
    for m in allowed_moves(case.state, principal.role.value, case.source):
        try:
            check_scope(session, case, m, principal, sees_site=sees_site)
        except Forbidden:
            continue
        out.append(m.value)
    return out


def detail(
    session: Session, principal: Principal, case: Case, now: datetime, locale: str = "zh-CN"
) -> CaseDetail:
    site_name, unit_name, responsible_name = repo.names_of_case(session, case)
    base = _case_out(
        case,
        now,
        locale,
        site_name=site_name,
        unit_name=unit_name,
        responsible_name=responsible_name,
    )
    events = repo.events(session, case.id)
    files = repo.attachments(session, case.id)
    return CaseDetail(
        **base.model_dump(),
        rectify_due_at=case.rectify_due_at,
        penalty_case_number=case.penalty_case_number,
        review_date=case.review_date,
        look_back_due_at=case.look_back_due_at,
        events=[
            EventOut(
                id=e.id,
                kind=e.kind,
                at=e.at,
                actor_name=e.actor_name,
                actor_id=e.actor_id,
                actor_role=e.actor_role,
                move=e.move,
                from_state=e.from_state,
                to_state=e.to_state,
                reason=e.reason,
                data=e.data or {},
                policy_version=e.policy_version,
            )
            for e in events
        ],
        attachments=[
            AttachmentOut(
                id=a.id,
                event_id=a.event_id,
                kind=a.kind,
                filename=a.filename,
                mime=a.mime,
                size=a.size,
                sha256=a.sha256,
                url=f"/api/v1/cases/{case.id}/attachments/{a.id}",
            )
            for a in files
        ],
        allowed_moves=moves_for(session, principal, case),
    )


def responsible_candidates(session: Session, case: Case) -> list[tuple[int, str, str]]:
    """People the unit may name (id, name, role): its own admins, the station owning the
    site's enforcement grid, and the officers of that grid. The move re-checks the choice.

    The officers of the site's enforcement grid come first: the form proposes the first one
    (the person who works the site), not an administrator."""
    people = repo.responsible_candidates(session, case.assigned_unit_id, case.site_id)
    return [(i, n, r.value) for i, n, r, _m in sorted(people, key=lambda p: not p.member)]
