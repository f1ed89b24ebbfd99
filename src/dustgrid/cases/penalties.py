"""The per-site penalty ladder in the database: problems, proposals, stop-work orders.

A substantiated problem (a disposition chosen on a case) is recorded once per case; the
platform proposes the ladder step (``ladder.propose_step``) and an officer confirms or
rejects it. A confirmed step that stops work creates a ``StopWorkOrder`` with its first
and last day. Never commits.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.cases.credit import repository as credit_repo
from dustgrid.cases.credit.models import ProposalStatus, SiteProblem, StopWorkOrder
from dustgrid.cases.events import new_event
from dustgrid.cases.ladder import propose_step, stop_work_period
from dustgrid.cases.models import Case
from dustgrid.cases.policy import CasePolicy, LadderAction, LadderStep
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.sites import repository as sites_repo
from dustgrid.sites.models import Site
from dustgrid.workcal.calendar import CHINA_TZ


def local_date(now: datetime) -> date:
    return now.astimezone(CHINA_TZ).date()


def _event(
    session: Session,
    case_id: int,
    kind: str,
    *,
    actor: Principal | None,
    now: datetime,
    reason: str = "",
    data: dict[str, object],
    version: str,
) -> None:
    session.add(
        new_event(
            case_id, kind, actor=actor, now=now, policy_version=version, reason=reason, data=data
        )
    )


def record_problem(
    session: Session, *, case: Case, site: Site, now: datetime, policy: CasePolicy
) -> SiteProblem:
    """Record the case's problem (once) and the ladder step the platform proposes."""
    existing = credit_repo.problem_of_case(session, case.id)
    if existing is not None:
        return existing
    today = local_date(now)
    since = today - timedelta(days=policy.ladder.window_days)
    prior = credit_repo.problem_dates(session, site.id, since, today)
    proposal = propose_step(prior, today, policy.ladder)
    step = proposal.step
    row = SiteProblem(
        site_id=site.id,
        case_id=case.id,
        problem_date=today,
        nth=proposal.nth,
        action=step.action.value,
        stop_work_days=step.stop_work_days,
        stop_work_months=step.stop_work_months,
        penalty=step.penalty,
        policy_version=proposal.policy_version,
        status=ProposalStatus.proposed,
        created_at=now,
    )
    session.add(row)
    session.flush()
    _event(
        session,
        case.id,
        "case.ladder_proposed",
        actor=None,
        now=now,
        data={"problem_id": row.id, "nth": row.nth, "action": row.action},
        version=proposal.policy_version,
    )
    return row


def step_of(problem: SiteProblem) -> LadderStep:
    return LadderStep(
        nth=problem.nth,
        action=LadderAction(problem.action),
        stop_work_days=problem.stop_work_days,
        stop_work_months=problem.stop_work_months,
        penalty=problem.penalty,
    )


def _decidable(session: Session, principal: Principal, problem_id: int) -> SiteProblem:
    problem = session.get(SiteProblem, problem_id)
    visible = problem is not None and sites_repo.is_visible(session, principal, problem.site_id)
    if problem is None or not visible:
        raise NotFound("cases.error.penalty_proposal_not_found", problem_id=problem_id)
    if not principal.can(Perm.case_penalty):
        raise Forbidden("cases.error.role_may_not_decide_penalties")
    if problem.status != ProposalStatus.proposed:
        raise Conflict("cases.error.proposal_was_already_decided")
    return problem


def confirm(
    session: Session,
    principal: Principal,
    problem_id: int,
    *,
    start: date | None = None,
    note: str = "",
    now: datetime,
) -> StopWorkOrder | None:
    """Confirm the proposed step; a stoppage starts on ``start`` (default: today)."""
    problem = _decidable(session, principal, problem_id)
    first = start or local_date(now)
    if first < local_date(now):
        raise Invalid("cases.error.stoppage_cannot_start_past")
    problem.status = ProposalStatus.confirmed
    problem.decided_by_id, problem.decided_at, problem.decision_note = (
        principal.user_id,
        now,
        note.strip(),
    )
    order = None
    period = stop_work_period(first, step_of(problem))
    if period is not None:
        order = StopWorkOrder(
            site_id=problem.site_id,
            problem_id=problem.id,
            first_day=period.first_day,
            last_day=period.last_day,
            resume_on=period.resume_on,
            created_by_id=principal.user_id,
            created_at=now,
        )
        session.add(order)
    session.flush()
    data: dict[str, object] = {"problem_id": problem.id, "action": problem.action}
    if order is not None:
        data |= {"first_day": str(order.first_day), "last_day": str(order.last_day)}
    _event(
        session,
        problem.case_id,
        "case.ladder_confirmed",
        actor=principal,
        now=now,
        reason=note,
        data=data,
        version=problem.policy_version,
    )
    audit.record(
        session,
        actor=principal,
        action="confirm",
        entity_type="site_problem",
        entity_id=problem.id,
        changes={"status": ["proposed", "confirmed"], **{k: [None, v] for k, v in data.items()}},
        summary=f"确认处罚建议（工地 {problem.site_id}，第 {problem.nth} 次）",
    )
    return order


def reject(
    session: Session, principal: Principal, problem_id: int, *, note: str, now: datetime
) -> SiteProblem:
    """Reject the proposed step (a reason is required); the problem still counts."""
    if len(note.strip()) < 2:
        raise Invalid("cases.error.reason_required_2")
    problem = _decidable(session, principal, problem_id)
    problem.status = ProposalStatus.rejected
    problem.decided_by_id, problem.decided_at, problem.decision_note = (
        principal.user_id,
        now,
        note.strip(),
    )
    session.flush()
    _event(
        session,
        problem.case_id,
        "case.ladder_rejected",
        actor=principal,
        now=now,
        reason=note,
        data={"problem_id": problem.id, "action": problem.action},
        version=problem.policy_version,
    )
    audit.record(
        session,
        actor=principal,
        action="reject",
        entity_type="site_problem",
        entity_id=problem.id,
        changes={"status": ["proposed", "rejected"]},
        summary=f"不采纳处罚建议（工地 {problem.site_id}）：{note.strip()}",
    )
    return problem


def lift_stop_work(
    session: Session, principal: Principal, order_id: int, *, reason: str, now: datetime
) -> StopWorkOrder:
    """End a stoppage early (rectified and checked), with a reason."""
    order = session.get(StopWorkOrder, order_id)
    visible = order is not None and sites_repo.is_visible(session, principal, order.site_id)
    if order is None or not visible:
        raise NotFound("cases.error.stop_work_order_not_found", order_id=order_id)
    if not principal.can(Perm.case_penalty):
        raise Forbidden("cases.error.role_may_not_lift_stoppage")
    if order.lifted_at is not None:
        raise Conflict("cases.error.already_lifted")
    if len(reason.strip()) < 2:
        raise Invalid("cases.error.reason_required")
    order.lifted_at, order.lift_reason = now, reason.strip()
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="lift",
        entity_type="stop_work_order",
        entity_id=order.id,
        changes={"lifted_at": [None, now.isoformat()]},
        summary=f"解除停工（工地 {order.site_id}）：{reason.strip()}",
    )
    return order


def site_ladder(
    session: Session, site_id: int, *, now: datetime, policy: CasePolicy
) -> dict[str, object]:
    """The site's problems, stoppages and the step a new problem would get today."""
    problems = credit_repo.site_problems(session, site_id)
    orders = credit_repo.site_stop_work_orders(session, site_id)
    today = local_date(now)
    nxt = propose_step([p.problem_date for p in problems], today, policy.ladder)
    active = [o for o in orders if o.lifted_at is None and o.first_day <= today <= o.last_day]
    return {"problems": problems, "orders": orders, "next": nxt, "active": active}
