"""Alert pages: the list with filters, one alert with its chart, the rule profile editor
with a dry run (city admin), quality counts, reference stations' AQI, and the site page's
alert history fragment (``GET /sites/{id}/alerts``, loaded by HTMX).

Forms post back with the CSRF token; a refused change is shown as a one-time flash on the
page it came from; 403/404 show the error page like every other page.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from dustgrid.alerts import presenters, reference, ruleform, rulesets, service
from dustgrid.alerts.api import Filter
from dustgrid.alerts.engine.profiles import Profile
from dustgrid.alerts.engine.quality import FLAG_KINDS
from dustgrid.alerts.schemas import DryRunIn
from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, check_csrf
from dustgrid.downloads import file_response
from dustgrid.errors import Conflict, Invalid
from dustgrid.i18n import Msg, is_key, translate
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.org import service as org
from dustgrid.pagination import PageParams, page_params
from dustgrid.routing import Router
from dustgrid.web import evidence, list_exports
from dustgrid.web.evidence import rule_name
from dustgrid.web.forms import error_text, flash, pop_flash
from dustgrid.web.templating import render, request_locale
from dustgrid.workcal.calendar import people_time

router = Router(include_in_schema=False)
FLASH_KEY = "alerts_flash"
KINDS = ("exceedance", "offline", "stale_key", "quality")
STATES = ("open", "active", "acknowledged", "cleared")
SEVERITIES = ("low", "medium", "high")


def _when(t: datetime | None, tz: ZoneInfo) -> str:
    return people_time(t, tz)


def _helpers(settings: Any) -> dict[str, Any]:
    tz = ZoneInfo(settings.timezone)
    return {"when": lambda t: _when(t, tz)}


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    f: Filter,
    paging: Annotated[PageParams, Depends(page_params)],
) -> Response:
    items, total = presenters.list_alerts(
        session, principal, f, tz=ZoneInfo(settings.timezone), page=paging.page, size=paging.size
    )
    query = {k: v for k, v in f.model_dump(mode="json").items() if v not in (None, "")}
    return render(
        request,
        "alerts/list.html",
        items=items,
        total=total,
        page=paging.page,
        pages=max(1, -(-total // paging.size)),
        size=paging.size,
        f=f,
        query=urlencode(query),
        kinds=KINDS,
        states=STATES,
        severities=SEVERITIES,
        districts=org.list_districts(session, principal),
        **_helpers(settings),
    )


@router.get("/alerts/export.xlsx")
def alert_export(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    f: Filter,
) -> Response:
    """The list's filters as a workbook: every alert in scope, not one page."""
    tz = ZoneInfo(settings.timezone)
    locale = request_locale(request)
    items = presenters.export_alerts(session, principal, f, tz=tz)
    districts = {
        d.id: (d.name_en or d.name) if locale == "en" else d.name
        for d in org.list_districts(session, principal)
    }
    content = list_exports.alerts_xlsx(items, districts, locale=locale, tz=tz)
    return file_response("alerts.xlsx", "xlsx", content)


@router.get("/alerts/profiles", response_class=HTMLResponse)
def profile_editor(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    rule: str = "",
) -> Response:
    base = _chosen_rule(rule)
    current = _current_setting(session, base.id)
    tuning = dict(current.tuning) if current else {}
    effective = rulesets.effective_profile(base.id, tuning, current.version if current else None)
    return _editor(
        request,
        session,
        principal,
        settings,
        base=base,
        values=ruleform.form_values(effective),
        tuning_text=json.dumps(tuning, ensure_ascii=False),
        enabled=current.enabled if current else True,
        note="",
    )


def _chosen_rule(rule: str) -> Profile:
    """The rule the editor shows: the one asked for, else the first built-in standard."""
    try:
        return rulesets.rule_profile(rule or rulesets.builtin_ids()[0])
    except Invalid:
        return rulesets.rule_profile(rulesets.builtin_ids()[0])


def _current_setting(session: Session, profile_id: str) -> Any:
    return next((r for r in rulesets.current_settings(session) if r.profile_id == profile_id), None)


def _editor(
    request: Request,
    session: Session,
    principal: Principal,
    settings: Any,
    *,
    base: Profile,
    values: dict[str, str],
    tuning_text: str,
    enabled: bool,
    note: str,
    use_json: bool = False,
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
) -> Response:
    """The profiles page with the rule form of ``base`` filled with ``values``."""
    data = presenters.profiles(session)
    today = utcnow().astimezone(ZoneInfo(settings.timezone)).date()
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # last month
    fields = ruleform.rule_fields(base)
    windows = sorted({*ruleform.WINDOW_CHOICES, int(values.get("window_minutes") or 0)} - {0})
    wrong = errors or {}
    locale = request_locale(request)
    return render(
        request,
        "alerts/profiles.html",
        status_code=status_code,
        data=data,
        can_edit=principal.can(Perm.alert_profile),
        flash=pop_flash(request, key=FLASH_KEY),
        dry_start=first,
        dry_end=today.replace(day=1) - timedelta(days=1),
        rule=base,
        fields=fields,
        values=values,
        windows=windows,
        tuning_text=tuning_text,
        enabled=enabled,
        note=note,
        use_json=use_json,
        field_errors=wrong,
        error_labels=[_label(f.name, locale) for f in fields if f.name in wrong]
        + [_label(n, locale) for n in wrong if n not in {f.name for f in fields}],
        **_helpers(settings),
    )


def _label(name: str, locale: str) -> str:
    """A rule form field's label (``limits.day`` → 昼间限值)."""
    f = ruleform.RuleField(name, "number")
    if not is_key(f.label_key):  # a field no rule has (typed in the JSON view)
        return translate("alerts.rule.field.tuning", locale)
    if f.zone:
        return Msg(f.label_key, {"zone": Msg(f"alerts.rule.zone.{f.zone}")}).render(locale)
    return translate(f"alerts.rule.field.{name}", locale)


def _posted_tuning(
    base: Profile, values: dict[str, str], *, use_json: bool
) -> tuple[dict[str, Any], dict[str, list[Msg]]]:
    """The tuning a post asks for, with its problems by field: from the form's fields, or
    from the advanced JSON view; both go through the same check (``ruleform.check_tuning``)."""
    if not use_json:
        return ruleform.tuning_from_form(base, values)
    try:
        tuning = json.loads(values.get("tuning") or "{}")
    except json.JSONDecodeError:
        tuning = None
    if not isinstance(tuning, dict):
        return {}, {"tuning": [Msg("alerts.rule.error.json")]}
    return tuning, ruleform.check_tuning(base, tuning)


def _said(errors: dict[str, list[Msg]], locale: str) -> dict[str, list[str]]:
    return {k: [m.render(locale) for m in v] for k, v in errors.items()}


async def _rule_post(request: Request) -> tuple[dict[str, str], Profile | None, bool]:
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    check_csrf(request, values.get("csrf_token", ""))
    try:
        base: Profile | None = rulesets.rule_profile(values.get("profile_id", ""))
    except Invalid:
        base = None
    # the JSON view when asked for, or when a post carries no field of the form at all
    fields = ruleform.rule_fields(base) if base else []
    use_json = bool(values.get("use_json")) or not any(f.name in values for f in fields)
    return values, base, use_json


@router.post("/alerts/profiles")
async def profile_save(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    values, base, use_json = await _rule_post(request)
    locale = request_locale(request)
    if base is None:
        flash(request, error=translate("alerts.rule.error.unknown_rule", locale), key=FLASH_KEY)
        return RedirectResponse("/alerts/profiles", status_code=303)
    tuning, problems = _posted_tuning(base, values, use_json=use_json)
    errors = _said(problems, locale)
    if use_json and problems and "tuning" not in problems:  # said in the JSON view as well
        errors["tuning"] = [
            Msg("alerts.rule.error.field", {"field": _label(k, locale), "what": m}).render(locale)
            for k, v in problems.items()
            for m in v
        ]
    if not errors:
        try:
            with session.begin_nested():
                row = rulesets.save_setting(
                    session,
                    principal,
                    profile_id=base.id,
                    tuning=tuning,
                    enabled=bool(values.get("enabled")),
                    note=values.get("note", ""),
                )
            said = Msg(
                "alerts.rule.saved", {"rule": rule_name(base.id, locale), "version": row.version}
            )
            flash(request, ok=said.render(locale), key=FLASH_KEY)
            return RedirectResponse(
                f"/alerts/profiles?{urlencode({'rule': base.id})}", status_code=303
            )
        except (Invalid, Conflict) as exc:
            name = exc.details.get("field") if isinstance(exc.details, dict) else None
            errors = {str(name or "tuning"): [exc.text(locale)]}
    return _editor(
        request,
        session,
        principal,
        settings,
        base=base,
        values={f.name: values.get(f.name, "") for f in ruleform.rule_fields(base)},
        tuning_text=values.get("tuning", "")
        if use_json
        else json.dumps(tuning, ensure_ascii=False),
        enabled=bool(values.get("enabled")),
        note=values.get("note", ""),
        use_json=use_json,
        errors=errors,
        status_code=422,
    )


@router.post("/alerts/profiles/dry-run", response_class=HTMLResponse)
async def profile_dry_run(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    """HTMX fragment: the dry run's totals and the busiest sites (nothing is written)."""
    values, base, use_json = await _rule_post(request)
    locale = request_locale(request)
    result: dict[str, Any] | None = None
    if base is None:
        return render(
            request,
            "alerts/_dry_run.html",
            result=None,
            error=translate("alerts.rule.error.unknown_rule", locale),
        )
    tuning, problems = _posted_tuning(base, values, use_json=use_json)
    if problems:
        said = [
            Msg("alerts.rule.error.field", {"field": _label(k, locale), "what": m}).render(locale)
            for k, v in problems.items()
            for m in v
        ]
        return render(request, "alerts/_dry_run.html", result=None, error="；".join(said)
                      if locale == "zh-CN" else "; ".join(said))  # fmt: skip
    try:
        body = DryRunIn.model_validate(
            {
                "profile_id": base.id,
                "tuning": tuning,
                "start": values.get("start", ""),
                "end": values.get("end", ""),
            }
        )
        result = presenters.dry_run(session, principal, body, tz=ZoneInfo(settings.timezone))
        error = None
    except ValidationError as exc:
        error = error_text(exc, locale)
    except Invalid as exc:
        error = exc.text(locale)
    return render(request, "alerts/_dry_run.html", result=result, error=error)


@router.get("/alerts/quality", response_class=HTMLResponse)
def quality_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    tz = ZoneInfo(settings.timezone)
    today = utcnow().astimezone(tz).date()
    start = datetime.combine(today.replace(day=1), time(0), tzinfo=tz)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz)
    data = presenters.quality_counts(session, principal, start=start, end=end)
    kinds = sorted({k for row in data.per_site + data.per_provider for k in row.counts})
    return render(
        request, "alerts/quality.html", data=data, kinds=kinds, month=today.replace(day=1)
    )


@router.get("/alerts/reference", response_class=HTMLResponse)
def reference_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    stations = reference.station_aqi(
        session, principal, now=utcnow(), tz=ZoneInfo(settings.timezone), days=7
    )
    return render(
        request, "alerts/reference.html", stations=stations, zh=request_locale(request) == "zh-CN"
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    alert_id: int,
) -> Response:
    alert = presenters.alert_detail(session, principal, alert_id)
    locale = request_locale(request)
    labels = {
        k: translate(f"alerts.chart.{k}", locale)
        for k in ("site", "reference", "window", "limit", "flag", "no_data", "failed", "held")
    }
    flag_names = {kind: translate(f"alerts.flag.{kind}", locale) for kind in FLAG_KINDS}
    config = {
        "chartUrl": f"/api/v1/alerts/{alert.id}/chart",
        "labels": labels,
        "flagNames": flag_names,
    }
    return render(
        request,
        "alerts/detail.html",
        alert=alert,
        chart_config=config,
        can_ack=principal.can(Perm.alert_ack) and alert.state == "active",
        flash=pop_flash(request, key=FLASH_KEY),
        evidence=evidence.present(
            alert.evidence, request_locale(request), ZoneInfo(settings.timezone)
        ),
        **_helpers(settings),
    )


@router.post("/alerts/{alert_id}/acknowledge")
def alert_ack(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    alert_id: int,
    csrf_token: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        with session.begin_nested():
            service.acknowledge(session, principal, alert_id, note=note, now=utcnow())
        flash(request, ok="ok", key=FLASH_KEY)
    except Conflict as exc:
        flash(request, error=exc.text(request_locale(request)), key=FLASH_KEY)
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


@router.get("/sites/{site_id}/alerts", response_class=HTMLResponse)
def site_alerts(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    site_id: int,
) -> Response:
    site, items = presenters.site_alerts(session, principal, site_id)
    return render(
        request, "alerts/site_fragment.html", site=site, items=items, **_helpers(settings)
    )
