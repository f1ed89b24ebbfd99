"""The monthly assessment pages (月度考核): a month's scores per kind of party, one party's
items with the records behind every deduction, appeals and L1's decisions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dustgrid.assessments import service as svc
from dustgrid.assessments.months import Month
from dustgrid.assessments.scoring import KINDS
from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, check_csrf
from dustgrid.bounds import Id
from dustgrid.devices.mandatory import GateReason
from dustgrid.errors import Forbidden, Invalid
from dustgrid.identity.roles import Role
from dustgrid.models import utcnow
from dustgrid.patrols.periods import monday_of, week_label
from dustgrid.reports import archives
from dustgrid.routing import Router
from dustgrid.web.forms import attempt, flash, pop_flash
from dustgrid.web.templating import render

router = Router(include_in_schema=False)
FLASH_KEY = "assessments_flash"

# Why a site's connect-before-waste gate was closed (the closed ones of GateReason)
GATE_REASONS = frozenset(
    {GateReason.nothing_connected, GateReason.no_video_connected, GateReason.no_monitor_connected}
)
# Kinds of party that are grid groups: their page lists the members (names lead to archives).
GROUP_KINDS = frozenset({"officer_group", "inspector_group"})

# Rules whose value is a rate or a share (shown as a percentage); the rest count records.
RATE_RULES = frozenset(
    {
        "handling_rate", "closure_rate", "city_rectified", "excellent_share",
        "non_compliant_share", "pushed_rectified", "archive_complete", "coverage",
        "weekly_coverage", "findings_confirmed", "offline_rate",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Link:
    key: str  # i18n key of the text
    params: dict[str, Any]
    href: str


def _week_href(day: str) -> str:
    return f"/patrols?week={week_label(monday_of(date.fromisoformat(day)))}"


def evidence_links(e: dict[str, Any]) -> list[Link]:
    """The pages behind one evidence record (the record itself, and what its detail names)."""
    kind, rid = e["kind"], e["id"]
    detail = str(e.get("detail") or "")
    hrefs = {
        "case": f"/cases/{rid}",
        "alert": f"/alerts/{rid}",
        "visit": f"/inspections/{rid}",
        "site": f"/sites/{rid}",
        "device": f"/devices/{rid}",
    }
    links: list[Link] = []
    if kind == "plan_day":
        day = str(e.get("day") or "")
        links.append(Link("assessments.evidence.plan_day", {"day": day, "done": detail},
                          _week_href(day)))  # fmt: skip
    elif kind == "device_period" and detail.startswith("device:"):
        device = detail.split(":", 1)[1]
        links.append(Link("assessments.evidence.device_period", {"id": rid}, f"/devices/{device}"))
    elif kind == "device_period":
        links.append(Link("assessments.evidence.repair", {"id": rid, "days": detail.rstrip("d")},
                          "/devices"))  # fmt: skip
    elif kind == "device":
        day = str(e.get("day") or "")
        key = "assessments.evidence.device_measured" if day else "assessments.evidence.device_typed"
        size = detail.replace("x", "×")
        links.append(Link(key, {"id": rid, "detail": size, "day": day}, hrefs["device"]))
    elif kind == "gate":
        reason = detail if detail in GATE_REASONS else GateReason.nothing_connected
        links.append(Link(f"assessments.evidence.gate_{reason}", {"id": rid}, f"/sites/{rid}"))
    else:
        links.append(Link(f"assessments.evidence.{kind}", {"id": rid, "detail": detail},
                          hrefs.get(kind, "#")))  # fmt: skip
    if detail.startswith("visit:"):
        visit = detail.split(":", 1)[1]
        links.append(Link("assessments.evidence.passed_visit", {"id": visit},
                          f"/inspections/{visit}"))  # fmt: skip
    return links


def _month(text: str) -> tuple[Month, str]:
    """The month asked for, or the previous month (the latest closed one) with an error."""
    default = Month.of(utcnow().date()).previous
    if not text.strip():
        return default, ""
    try:
        return Month.parse(text), ""
    except Invalid:
        return default, "assessments.bad_month"


@router.get("/assessments", response_class=HTMLResponse)
def assessments_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    month: str = "",
    kind: str = "",
) -> Response:
    m, error = _month(month)
    data = svc.month_scores(session, principal, m)
    kinds = [k for k in KINDS if any(s.kind == k for s in data.scores)]
    current = kind if kind in kinds else (kinds[0] if kinds else "")
    rows = [s for s in data.scores if s.kind == current]
    rows.sort(key=lambda s: (-s.score, s.name))
    return render(
        request, "assessments/month.html", month=str(m), error=error, data=data, kinds=kinds,
        current=current, rows=rows, flash=pop_flash(request, key=FLASH_KEY),
        can_run=principal.role == Role.city_admin,
    )  # fmt: skip


@router.post("/assessments/run")
async def assessments_run(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    month = str(form.get("month") or "")
    reason = str(form.get("reason") or "")

    def act() -> svc.RunResult:
        if principal.role != Role.city_admin:
            raise Forbidden("assessments.error.l1_only")
        return svc.run(session, Month.parse(month), settings, actor=principal, rerun_reason=reason)

    done = attempt(request, session, act, key=FLASH_KEY)
    if done is not None:
        flash(request, ok="assessments.ran" if done.changed else "assessments.unchanged",
              key=FLASH_KEY)  # fmt: skip
    return RedirectResponse(f"/assessments?month={month}", status_code=303)


@router.get("/assessments/{month}/{kind}/{party_id}", response_class=HTMLResponse)
def party_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    month: str,
    kind: str,
    party_id: Id,
) -> Response:
    party = svc.party_score(session, principal, Month.parse(month), kind, party_id)
    items = [
        {**item, "links": [link for e in item["evidence"] for link in evidence_links(e)],
         "is_rate": item["rule"] in RATE_RULES}
        for item in party.score.items
    ]  # fmt: skip
    members = archives.group_members(session, principal, party_id) if kind in GROUP_KINDS else []
    return render(
        request, "assessments/party.html", party=party, items=items, kind=kind, members=members,
        may_appeal=svc.may_appeal(principal, party.score),
        may_decide=principal.role == Role.city_admin, flash=pop_flash(request, key=FLASH_KEY),
    )  # fmt: skip


@router.post("/assessments/{month}/{kind}/{party_id}/appeal")
async def appeal_post(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    month: str,
    kind: str,
    party_id: Id,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    done = attempt(
        request,
        session,
        lambda: svc.file_appeal(
            session,
            principal,
            Month.parse(month),
            kind,
            party_id,
            rule=str(form.get("rule") or ""),
            reason=str(form.get("reason") or ""),
            period=str(form.get("period") or ""),
            ref_key=str(form.get("evidence") or ""),
        ),  # fmt: skip
        key=FLASH_KEY,
    )
    if done is not None:
        flash(request, ok="assessments.appeal_filed", key=FLASH_KEY)
    return RedirectResponse(f"/assessments/{month}/{kind}/{party_id}", status_code=303)


@router.post("/assessments/appeals/{appeal_id}/decision")
async def decision_post(
    request: Request, session: DbSession, principal: CurrentPrincipal, appeal_id: Id
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    accept = str(form.get("decision") or "") == "accept"
    done = attempt(
        request,
        session,
        lambda: svc.decide_appeal(
            session, principal, appeal_id, accept=accept, note=str(form.get("note") or "")
        ),
        key=FLASH_KEY,
    )
    if done is None:
        return RedirectResponse("/assessments", status_code=303)
    flash(request, ok="assessments.decided", key=FLASH_KEY)
    return RedirectResponse(f"/assessments/{done.month}/{done.kind}/{done.party_id}", 303)
