"""The one transition function of the case state machine.

``transition`` checks the move against the pure table (``states.plan_transition``: state →
409, role → 403, missing field → 422), then the caller's place in the grid (scope → 403),
then the values (unit, person, dates, files → 422), and only then changes anything: the
case's columns, an event row (actor, time, from, to, reason, data, attachments), an
audit entry, and the follow-ups. Side effects leave after commit through the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.cases import attachments as files
from dustgrid.cases import deadlines, fieldfix, followups
from dustgrid.cases.attachments import AttachmentIn
from dustgrid.cases.events import CaseAudit, record_event, role_of
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.policy import ROLE_LEVEL, CasePolicy, Level
from dustgrid.cases.states import (
    GRID_MOVES,
    CaseState,
    Clock,
    Followup,
    Move,
    TransitionPlan,
    plan_transition,
)
from dustgrid.config import Settings
from dustgrid.errors import Forbidden, Invalid
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.org.models import OrgUnit, UnitKind
from dustgrid.sites import repository as sites_repo
from dustgrid.sites.models import Site
from dustgrid.text import check_field
from dustgrid.workcal.calendar import WorkCalendar

_DAY = timedelta(days=1)
L2_KINDS = frozenset({UnitKind.district_bureau, UnitKind.city_safety_station})
HANDLER_ROLES = frozenset({Role.district_admin, Role.station_staff, Role.officer})
# Moves whose evidence must be photos, not only words (fixed on site, rechecked).
PHOTO_EVIDENCE = frozenset({Move.fix_on_site, Move.recheck_pass, Move.grid_fix_on_site})
RECTIFICATION_ORDERS = frozenset({Move.order_rectification, Move.grid_order_rectification})
AUDITED = (
    "state",
    "assigned_unit_id",
    "responsible_user_id",
    "disposition",
    "clock",
    "due_at",
    "deadline_at",
    "rectify_due_at",
    "penalty_case_number",
    "review_date",
    "rework_count",
    "closed_at",
    "grid_handled",
)


@dataclass(slots=True)
class MoveInput:
    """What a move may carry; which fields are required depends on the move."""

    reason: str = ""
    unit_id: int | None = None
    responsible_id: int | None = None
    deadline: datetime | date | str | None = None
    result: str = ""
    case_number: str = ""
    review_date: date | None = None
    attachments: Sequence[AttachmentIn] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Typed text is refused with control characters, whichever form it came from."""
        check_field("reason", self.reason, multiline=True)
        check_field("result", self.result, multiline=True)
        check_field("case_number", self.case_number)


def _snapshot(case: Case) -> dict[str, Any]:
    return {k: getattr(case, k) for k in AUDITED}


def check_scope(
    session: Session,
    case: Case,
    move: Move,
    actor: Principal | None,
    *,
    sees_site: Callable[[], bool] | None = None,
) -> None:
    """Where in the grid the actor must stand for this move (the role is already right).

    ``sees_site`` answers whether the actor sees the case's site (default: asks the
    database); a caller checking several moves passes one that asks once."""
    if move in GRID_MOVES:
        fieldfix.check_own_grid(session, case, actor)
        return
    if actor is None or actor.role == Role.city_admin:
        return
    if actor.role == Role.district_admin:
        if case.assigned_unit_id is None or case.assigned_unit_id != actor.org_unit_id:
            raise Forbidden(
                "cases.error.case_not_dispatched_unit",
                details={"move": move.value},
            )
        return
    if actor.role in (Role.station_staff, Role.officer) and case.responsible_user_id == (
        actor.user_id
    ):
        return
    if sees_site is None:
        sees_site = partial(site_visible, session, case, actor)
    if not sees_site():
        raise Forbidden("cases.error.case_not_grid", details={"move": move.value})


def site_visible(session: Session, case: Case, actor: Principal) -> bool:
    """Whether ``actor`` sees the case's site (a case without a site has none to see)."""
    return case.site_id is not None and sites_repo.is_visible(session, actor, case.site_id)


def _unit(session: Session, unit_id: int | None, case: Case, move: Move) -> OrgUnit:
    unit = session.get(OrgUnit, unit_id) if unit_id else None
    if unit is None or unit.kind not in L2_KINDS:
        raise Invalid("cases.error.unit_must_l2_unit_district_bureau", unit_id=unit_id)
    if move == Move.transfer and unit.id == case.assigned_unit_id:
        raise Invalid("cases.error.transfer_different_unit")
    return unit


def _responsible(session: Session, case: Case, user_id: int | None, move: Move) -> User:
    """An active L2 admin of the assigned unit, or L3/L4 staff who can see the site.

    A case without a site has no grid, so only the unit's own admins can hold it (and the
    inbox can find every L3/L4 person's cases through their sites: ``repository.narrow``).
    """
    user = session.get(User, user_id) if user_id else None
    ok = user is not None and user.is_active and user.role in HANDLER_ROLES
    if ok and user is not None:
        if user.role == Role.district_admin:
            ok = user.org_unit_id == case.assigned_unit_id
        elif case.site_id is not None:
            who = load_principal(session, user)
            ok = sites_repo.is_visible(session, who, case.site_id)
        else:
            ok = False
    if not ok or user is None:
        raise Invalid("cases.error.responsible_person_must_active_member_unit", user_id=user_id)
    if move == Move.reassign and user.id == case.responsible_user_id:
        raise Invalid("cases.error.choose_different_person")
    return user


def default_deadline(
    case: Case, move: Move, *, now: datetime, settings: Settings, calendar: WorkCalendar
) -> datetime | None:
    """The deadline a move takes when its form leaves it empty: the policy's default for a
    dispatch (acknowledge + handle + verify) and for a rectification order; None otherwise."""
    policy = deadlines.case_policy(settings)
    if move == Move.dispatch:
        return deadlines.default_case_deadline(
            start=now, category=case.category, source=case.source, policy=policy, calendar=calendar
        )
    if move in RECTIFICATION_ORDERS:
        return _rectification_due(Clock.rectify, case, now=now, policy=policy, calendar=calendar)
    return None


def _rectification_due(
    clock: Clock, case: Case, *, now: datetime, policy: CasePolicy, calendar: WorkCalendar
) -> datetime:
    """When a rectification order's ``clock`` (its deadline, or the recheck) runs out."""
    return deadlines.default_due(
        clock,
        start=now,
        category=case.category,
        source=case.source,
        disposition="rectification",
        level=None,
        policy=policy,
        calendar=calendar,
    )


def _fields(
    case: Case,
    move: Move,
    data: MoveInput,
    *,
    now: datetime,
    cal: WorkCalendar,
    settings: Settings,
    site_unit: int | None,
) -> dict[str, Any]:
    """The table's field names, with policy defaults for deadlines and the dispatch unit."""
    deadline: datetime | None = None
    if data.deadline not in (None, ""):
        try:
            deadline = deadlines.parse_deadline(data.deadline, cal)
        except ValueError as exc:
            raise Invalid("cases.error.invalid_deadline", deadline=data.deadline) from exc
    else:
        deadline = default_deadline(case, move, now=now, settings=settings, calendar=cal)
    unit_id = data.unit_id
    if move == Move.dispatch and unit_id is None and case.site_id is not None:
        unit_id = case.assigned_unit_id or site_unit
    evidence: Any = list(data.attachments) or data.result.strip() or None
    if move in PHOTO_EVIDENCE:
        evidence = [a for a in data.attachments if a.kind == files.PHOTO] or None
    return {
        "reason": data.reason.strip(),
        "unit": unit_id,
        "deadline": deadline,
        "responsible": data.responsible_id,
        "result": data.result.strip(),
        "evidence": evidence,
        "case_number": data.case_number.strip(),
        "decision": list(data.attachments) or None,
        "review_date": data.review_date,
    }


def _start_clock(
    case: Case,
    plan: TransitionPlan,
    *,
    now: datetime,
    session: Session,
    settings: Settings,
    cal: WorkCalendar,
) -> dict[str, Any] | None:
    if Followup.stop_clock in plan.followups:
        return deadlines.apply_clock(case, None)
    if plan.clock is None or deadlines.keeps_feedback_clock(case.clock, plan.clock):
        return None  # forwarding a City Brain push leaves the district's 24 hours running
    level: Level | None = None
    if case.responsible_user_id:
        user = session.get(User, case.responsible_user_id)
        level = ROLE_LEVEL.get(user.role) if user else None
    times = deadlines.start_clock(
        plan.clock,
        start=now,
        category=case.category,
        source=case.source,
        disposition=case.disposition,
        responsible_level=level,
        policy=deadlines.case_policy(settings),
        calendar=cal,
    )
    return deadlines.apply_clock(case, times)


def _apply(
    session: Session,
    case: Case,
    move: Move,
    f: dict[str, Any],
    *,
    actor: Principal | None,
    now: datetime,
    cal: WorkCalendar,
    settings: Settings,
) -> dict[str, Any]:
    """Change the case's columns for the move; returns what the event should record."""
    data: dict[str, Any] = {}
    if move in GRID_MOVES:
        data |= fieldfix.apply(session, case, move, actor, now=now)
    policy = deadlines.case_policy(settings)
    if move in (Move.dispatch, Move.transfer):
        unit = _unit(session, f["unit"], case, move)
        case.assigned_unit_id, case.responsible_user_id = unit.id, None
        data |= {"unit_id": unit.id, "unit_name": unit.name}
    if move == Move.dispatch:
        data |= _apply_dispatch(case, f, now=now, cal=cal, policy=policy)
    if move in (Move.accept, Move.reassign):
        user = _responsible(session, case, f["responsible"], move)
        case.responsible_user_id = user.id
        data |= {"responsible_id": user.id, "responsible_name": user.display_name}
    if move in RECTIFICATION_ORDERS:
        data |= _apply_rectification(case, f, now=now, cal=cal, policy=policy)
    if move == Move.open_penalty:
        case.penalty_case_number = f["case_number"][:64]
        data["case_number"] = case.penalty_case_number
    if move == Move.suspend:
        data |= _apply_suspend(case, f, now=now, cal=cal)
    _apply_times(case, move, now=now)
    if f["result"]:
        data["result"] = f["result"]
    return data


def _apply_dispatch(
    case: Case, f: dict[str, Any], *, now: datetime, cal: WorkCalendar, policy: CasePolicy
) -> dict[str, Any]:
    """A dispatch sets the deadline (which must lie ahead) and its warning time."""
    deadline = f["deadline"]
    if deadline <= now:
        raise Invalid("cases.error.deadline_must_future")
    case.dispatched_at, case.deadline_at = now, deadline
    case.deadline_warn_at = deadlines.warn_time(now, deadline, policy, cal)
    return {"deadline": deadline.isoformat()}


def _apply_rectification(
    case: Case, f: dict[str, Any], *, now: datetime, cal: WorkCalendar, policy: CasePolicy
) -> dict[str, Any]:
    """An order to rectify: its deadline must fall between now and the recheck due date."""
    deadline = f["deadline"]
    recheck_due = _rectification_due(Clock.recheck, case, now=now, policy=policy, calendar=cal)
    if not now < deadline <= recheck_due:
        raise Invalid(
            "cases.error.rectification_deadline_must_fall_between_now",
            recheck_due=f"{recheck_due:%Y-%m-%d %H:%M}",
        )
    case.rectify_due_at = deadline
    return {"deadline": deadline.isoformat()}


def _apply_suspend(
    case: Case, f: dict[str, Any], *, now: datetime, cal: WorkCalendar
) -> dict[str, Any]:
    """A suspension sets a review date after today and the reminder the day before it."""
    review: date = f["review_date"]
    if review <= now.astimezone(cal.tz).date():
        raise Invalid("cases.error.review_date_must_after_today")
    case.review_date = review
    case.review_remind_at = deadlines.parse_deadline(review, cal) - _DAY
    return {"review_date": review.isoformat()}


def _apply_times(case: Case, move: Move, *, now: datetime) -> None:
    """The moves that only set or clear time stamps (review, closing, look-back)."""
    if move == Move.resume:
        case.review_date = case.review_remind_at = None
    if move in (Move.verify_pass, Move.dismiss):
        case.closed_at = now
    if move in (Move.reopen, Move.look_back_fail):
        case.closed_at = None
    if move in (Move.look_back_pass, Move.look_back_fail):
        case.looked_back_at, case.look_back_due_at = now, None


def transition(
    session: Session,
    case: Case,
    move: str,
    *,
    actor: Principal | None,
    data: MoveInput,
    settings: Settings,
    now: datetime,
) -> CaseEvent:
    """Make one move on ``case`` (already loaded in the caller's scope, row-locked)."""
    mv = Move(move)
    cal = deadlines.work_calendar(settings)
    site = session.get(Site, case.site_id) if case.site_id is not None else None
    site_unit = site.l2_unit_id if site is not None else None
    fields = _fields(case, mv, data, now=now, cal=cal, settings=settings, site_unit=site_unit)
    plan = plan_transition(case.state, mv, role_of(actor), fields=fields, source=case.source)
    check_scope(session, case, mv, actor)
    checked = files.check(data.attachments, settings)
    before = _snapshot(case)
    from_state = case.state
    event_data = _apply(session, case, mv, fields, actor=actor, now=now, cal=cal, settings=settings)
    if plan.disposition is not None:
        case.disposition = plan.disposition.value
        event_data["disposition"] = plan.disposition.value
    case.state = CaseState(plan.to_state)
    clock = _start_clock(case, plan, now=now, session=session, settings=settings, cal=cal)
    if clock:
        event_data["clock"] = clock
    policy = deadlines.case_policy(settings)

    def _followups(event: CaseEvent) -> None:
        followups.run(
            session,
            case=case,
            event=event,
            followups=plan.followups,
            actor=actor,
            policy=policy,
            settings=settings,
            now=now,
        )

    event = record_event(
        session,
        case,
        plan.event_kind,
        actor=actor,
        now=now,
        policy_version=policy.version,
        settings=settings,
        reason=fields["reason"],
        data=event_data,
        move=mv.value,
        from_state=from_state.value,
        checked=checked,
        then=_followups,
        audit_row=CaseAudit(
            action=f"case.{mv.value}",
            summary=f"案件 #{case.id}：{from_state.value} → {case.state.value}（{mv.value}）",
            changes=lambda: audit.diff(before, _snapshot(case)),
        ),
    )
    return event
