"""Pages of penalties and credit: decide a ladder step, lift a stoppage, the red and black
lists (红黑榜) with the bad-record export, and lifting a blacklisting."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response

from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, check_csrf
from dustgrid.cases import penalties
from dustgrid.cases.credit import service as credit
from dustgrid.cases.credit.models import SiteProblem
from dustgrid.cases.deadlines import case_policy
from dustgrid.errors import Invalid
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.routing import Router
from dustgrid.web.case_common import back, show
from dustgrid.web.forms import attempt, flash, pop_flash

router = Router(include_in_schema=False)


def _case_of(session: DbSession, problem_id: int) -> str:
    problem = session.get(SiteProblem, problem_id)
    return f"/cases/{problem.case_id}" if problem else "/cases"


@router.post("/penalties/{problem_id}/confirm")
def confirm(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    problem_id: int,
    csrf_token: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)

    def _do() -> bool:
        from datetime import date

        try:
            first = date.fromisoformat(start) if start.strip() else None
        except ValueError as exc:
            raise Invalid("web.error.invalid_date", date=start) from exc
        penalties.confirm(session, principal, problem_id, start=first, note=note, now=utcnow())
        return True

    if attempt(request, session, _do):
        flash(request, ok="cases.flash.ladder_confirmed")
    return back(_case_of(session, problem_id))


@router.post("/penalties/{problem_id}/reject")
def reject(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    problem_id: int,
    csrf_token: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    done = attempt(
        request,
        session,
        lambda: penalties.reject(session, principal, problem_id, note=note, now=utcnow()),
    )
    if done is not None:
        flash(request, ok="cases.flash.ladder_rejected")
    return back(_case_of(session, problem_id))


@router.post("/stop-work-orders/{order_id}/lift")
def lift_order(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    order_id: int,
    csrf_token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    order = attempt(
        request,
        session,
        lambda: penalties.lift_stop_work(session, principal, order_id, reason=reason, now=utcnow()),
    )
    if order is not None:
        flash(request, ok="cases.flash.stop_work_lifted")
        return back(f"/sites/{order.site_id}")
    return back("/credit")


@router.get("/credit", response_class=HTMLResponse)
def credit_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    window = case_policy(settings).ladder.window_days
    return show(
        request,
        settings,
        "cases/credit.html",
        red=credit.red_list(session, now=utcnow(), window_days=window),
        black=credit.black_list(session),
        records=credit.bad_records(session, principal)[:200],
        can_lift=principal.can(Perm.credit_admin),
        flash=pop_flash(request),
    )


@router.post("/credit/enterprises/{enterprise_id}/lift")
def lift_blacklist(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    enterprise_id: int,
    csrf_token: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    done = attempt(
        request,
        session,
        lambda: credit.lift_blacklist(
            session, principal, enterprise_id, reason=reason, now=utcnow()
        ),
    )
    if done is not None:
        flash(request, ok="cases.flash.blacklist_lifted")
    return back("/credit")
