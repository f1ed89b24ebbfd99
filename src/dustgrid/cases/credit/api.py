"""JSON routes of the penalty ladder and credit.

``/api/v1/penalties``, ``/api/v1/stop-work-orders`` and ``/api/v1/credit``, all scoped by
the sites the caller sees (the red and black lists are public inside the platform).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from fastapi.responses import Response

from dustgrid.bounds import Id
from dustgrid.cases import penalties
from dustgrid.cases.credit import service as credit
from dustgrid.cases.credit.models import SiteProblem, StopWorkOrder
from dustgrid.cases.deadlines import case_policy
from dustgrid.cases.schemas import ConfirmIn, CreditLists, ProblemOut, ReasonIn, StopWorkOut
from dustgrid.downloads import file_response
from dustgrid.errors import error_responses
from dustgrid.identity.deps import AppSettings, CurrentPrincipal, DbSession
from dustgrid.models import utcnow
from dustgrid.routing import Router

router = Router(prefix="/api/v1", tags=["penalties and credit"], responses=error_responses())


def _problem(p: SiteProblem) -> ProblemOut:
    return ProblemOut(
        id=p.id,
        site_id=p.site_id,
        case_id=p.case_id,
        problem_date=p.problem_date,
        nth=p.nth,
        action=p.action,
        stop_work_days=p.stop_work_days,
        stop_work_months=p.stop_work_months,
        penalty=p.penalty,
        status=p.status.value,
        policy_version=p.policy_version,
        decision_note=p.decision_note,
    )


def _order(o: StopWorkOrder) -> StopWorkOut:
    return StopWorkOut(
        id=o.id,
        site_id=o.site_id,
        problem_id=o.problem_id,
        first_day=o.first_day,
        last_day=o.last_day,
        resume_on=o.resume_on,
        lifted_at=o.lifted_at,
        lift_reason=o.lift_reason,
    )


@router.get("/penalties", response_model=list[ProblemOut], summary="Ladder proposals in scope")
def list_problems(
    session: DbSession,
    principal: CurrentPrincipal,
    site_id: Id | None = None,
    status: Annotated[str | None, Query(pattern="^(proposed|confirmed|rejected)$")] = None,
) -> list[ProblemOut]:
    rows = credit.list_problems(session, principal, site_id=site_id, status=status)
    return [_problem(p) for p in rows]


@router.post(
    "/penalties/{problem_id}/confirm",
    response_model=StopWorkOut | None,
    summary="Confirm the proposed step (creates the stop-work order, if any)",
)
def confirm(
    session: DbSession, principal: CurrentPrincipal, problem_id: Id, body: ConfirmIn
) -> StopWorkOut | None:
    order = penalties.confirm(
        session, principal, problem_id, start=body.start, note=body.note, now=utcnow()
    )
    return _order(order) if order is not None else None


@router.post("/penalties/{problem_id}/reject", response_model=ProblemOut, summary="Reject")
def reject(
    session: DbSession, principal: CurrentPrincipal, problem_id: Id, body: ReasonIn
) -> ProblemOut:
    return _problem(
        penalties.reject(session, principal, problem_id, note=body.reason, now=utcnow())
    )


@router.get("/stop-work-orders", response_model=list[StopWorkOut], summary="Stoppages in scope")
def list_orders(
    session: DbSession, principal: CurrentPrincipal, site_id: Id | None = None
) -> list[StopWorkOut]:
    return [_order(o) for o in credit.list_stop_work_orders(session, principal, site_id=site_id)]


@router.post("/stop-work-orders/{order_id}/lift", response_model=StopWorkOut, summary="End early")
def lift(
    session: DbSession, principal: CurrentPrincipal, order_id: Id, body: ReasonIn
) -> StopWorkOut:
    return _order(
        penalties.lift_stop_work(session, principal, order_id, reason=body.reason, now=utcnow())
    )


@router.get("/credit/lists", response_model=CreditLists, summary="Red and black lists")
def lists(session: DbSession, principal: CurrentPrincipal, settings: AppSettings) -> CreditLists:
    window = case_policy(settings).ladder.window_days
    return CreditLists(
        red=credit.red_list(session, now=utcnow(), window_days=window),
        black=credit.black_list(session),
    )


@router.get("/credit/bad-records", summary="Bad-behaviour records in scope (JSON export)")
def bad_records(session: DbSession, principal: CurrentPrincipal) -> list[dict[str, object]]:
    return credit.bad_records(session, principal)


@router.get(
    "/credit/bad-records.xlsx",
    response_class=Response,
    summary="Bad-behaviour records in scope (xlsx export)",
)
def bad_records_xlsx(session: DbSession, principal: CurrentPrincipal) -> Response:
    content = credit.bad_records_xlsx(credit.bad_records(session, principal))
    return file_response("bad-records.xlsx", "xlsx", content)


@router.post(
    "/credit/enterprises/{enterprise_id}/lift-blacklist",
    summary="Take an enterprise off the blacklist (admin, with a reason)",
)
def lift_blacklist(
    session: DbSession, principal: CurrentPrincipal, enterprise_id: Id, body: ReasonIn
) -> dict[str, object]:
    ent = credit.lift_blacklist(session, principal, enterprise_id, reason=body.reason, now=utcnow())
    return {"id": ent.id, "blacklisted": ent.blacklisted, "bad_record_count": ent.bad_record_count}
