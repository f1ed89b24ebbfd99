"""City Brain pushes (seed 000 §1(一)–(二)): the district grid's 24-hour clock.

A suspected unpermitted site is pushed as a City Brain case and *routed* at once to the
L2 unit of its grid (``route``): the district bureau, or the city safety station when it lies
in one of the station's metro and municipal grids (the caller, ``trajectories.service``,
picks the unit). The case is dispatched to that unit by the system, and its feedback clock
(24 hours, ``CasePolicy``) is that unit's (``deadlines.CLOCK_LEVEL``: L2), so an overdue push
escalates to L1 like any L2 clock (``escalation``).

Forwarding does not answer the push: a move that only passes the case on (L1 dispatching,
transferring; the district returning it) keeps the running feedback clock instead of
starting its own (``deadlines.keeps_feedback_clock``, used by ``workflow``). Only the district's
verdict stops it: confirmed (``confirm``: the case gets the new ledger site and the
district accepts it as the enforcement case) or dismissed (``dismiss``: the case closes).

Who hears: a push reaches the admins of the L2 unit it was routed to and the members of the
enforcement grid whose area holds it (``audience``; seed 000 二(四): City Brain warnings are
pushed to the grid's members). When its 24 hours run out the escalation sweep tells L1 (its
digest) and, per case, the unit's admins (``notify_overdue``): the district's leaders learn
that their own push went to the city.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import Session

from dustgrid.cases import deadlines
from dustgrid.cases import repository as repo
from dustgrid.cases.events import CaseAudit, record_event
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.policy import Level
from dustgrid.cases.states import CaseSource, CaseState, Move
from dustgrid.cases.workflow import MoveInput, transition
from dustgrid.config import Settings
from dustgrid.errors import Conflict
from dustgrid.i18n import Msg
from dustgrid.identity.principal import Principal

ROUTED = "case.routed"
CONFIRMED = "case.citybrain_confirmed"
DISMISSED = "case.citybrain_dismissed"
# States in which the district can still give its verdict (the case is in its hands).
VERDICT_STATES = frozenset({CaseState.dispatched})
# The notice each admin of the unit gets when a push of theirs escalates to the city.
OVERDUE_NOTICE = "cases.notice.citybrain_overdue"


def audience(session: Session, *, unit_id: int, grid_id: int | None) -> set[int]:
    """Who is told of a push routed to ``unit_id``: the unit's admins (they give the
    verdict) and the members of the enforcement grid whose area holds it (they go and look);
    active accounts only."""
    return repo.l2_users(session, [unit_id]) | repo.grid_members(session, grid_id)


def notify_overdue(session: Session, late: ColumnElement[bool], now: datetime) -> int:
    """Of the cases ``late`` selects (their clocks ran out), the City Brain pushes still on
    the district's clock: one notice per case to each admin of the unit it was routed to.
    The escalation digest goes to L1 only; the district must hear of its own late push."""
    where = and_(late, Case.source == CaseSource.city_brain.value, Case.level == Level.L2.value)
    cols = repo.case_notice("case.escalated", OVERDUE_NOTICE)
    return repo.notify_unit_admins(session, cols, where, now)


def route(
    session: Session,
    case: Case,
    *,
    unit_id: int,
    unit_name: str,
    grid_id: int | None,
    grid_code: str | None,
    now: datetime,
    settings: Settings,
) -> CaseEvent:
    """Dispatch a fresh City Brain case to its grid's L2 unit (the district bureau or the
    city safety station: the system routes it by location; its feedback clock keeps
    running and is the unit's)."""
    if case.source != CaseSource.city_brain or case.state != CaseState.reported:
        raise Conflict(Msg("trajectories.error.not_routable"))
    before = case.state.value
    case.assigned_unit_id = unit_id
    case.dispatched_at = now
    case.state = CaseState.dispatched
    policy = deadlines.case_policy(settings)
    return record_event(
        session,
        case,
        ROUTED,
        actor=None,
        now=now,
        policy_version=policy.version,
        settings=settings,
        data={
            "unit_id": unit_id,
            "unit_name": unit_name,
            "grid_id": grid_id,
            "grid_code": grid_code,
            "due_at": case.due_at.isoformat() if case.due_at else None,
        },
        from_state=before,
        audit_row=CaseAudit(
            action="case.route",
            summary=f"城市大脑推送案件 #{case.id} 交至 {unit_name}",
            changes={"state": [before, case.state.value], "assigned_unit_id": [None, unit_id]},
        ),
    )


def _check_open(case: Case) -> None:
    if case.source != CaseSource.city_brain or case.state not in VERDICT_STATES:
        raise Conflict(
            Msg("trajectories.error.verdict_state", {"state": Msg(f"case_state.{case.state}")}),
            details={"state": case.state.value},
        )


def confirm(
    session: Session,
    case: Case,
    *,
    actor: Principal,
    site_id: int,
    responsible_id: int,
    text: str,
    now: datetime,
    settings: Settings,
) -> CaseEvent:
    """The district confirms: the case is about the new ledger site from now on, and the
    district accepts it as the enforcement case (the handling clock replaces the 24 hours)."""
    _check_open(case)
    before = case.site_id
    case.site_id = site_id
    policy = deadlines.case_policy(settings)
    record_event(
        session,
        case,
        CONFIRMED,
        actor=actor,
        now=now,
        policy_version=policy.version,
        settings=settings,
        reason=text,
        data={"site_id": site_id, "verdict": "confirmed"},
        from_state=case.state.value,
        audit_row=CaseAudit(
            action="case.citybrain_confirm",
            summary=f"确认城市大脑推送案件 #{case.id} 为未批先建",
            changes={"site_id": [before, site_id]},
        ),
    )
    return transition(
        session,
        case,
        Move.accept.value,
        actor=actor,
        data=MoveInput(responsible_id=responsible_id),
        settings=settings,
        now=now,
    )


def dismiss(
    session: Session,
    case: Case,
    *,
    actor: Principal,
    reason: str,
    now: datetime,
    settings: Settings,
) -> CaseEvent:
    """The district dismisses the push: the case closes and its clock stops."""
    _check_open(case)
    before = case.state.value
    case.state = CaseState.closed
    case.closed_at = now
    deadlines.apply_clock(case, None)
    policy = deadlines.case_policy(settings)
    return record_event(
        session,
        case,
        DISMISSED,
        actor=actor,
        now=now,
        policy_version=policy.version,
        settings=settings,
        reason=reason,
        data={"verdict": "dismissed"},
        from_state=before,
        audit_row=CaseAudit(
            action="case.citybrain_dismiss",
            summary=f"城市大脑推送案件 #{case.id} 核实为非未批先建，办结",
            changes={"state": [before, case.state.value]},
        ),
    )
