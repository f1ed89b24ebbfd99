"""City Brain pages (issue 14): the confirmation queue with each district's 24-hour clock
and the suspects on a map (``/citybrain``), one suspect with its evidence, the tracks of
the trucks that visited and the verdict forms (``/citybrain/suspects/{id}``), the heat map
of stays by day (``/citybrain/heat``), and the known places and truck registry
(``/citybrain/places``, ``/citybrain/trucks``): their Excel imports, and forms to add and
edit a truck or a place (a circle, or a boundary drawn on the map), kept by whoever may
manage the fleet (``Perm.fleet_write``), errors said beside the fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile

from dustgrid.auth.deps import AppSettings, CurrentPrincipal, DbSession, check_csrf
from dustgrid.bounds import Id
from dustgrid.config import Settings
from dustgrid.errors import DomainError, Forbidden, Invalid
from dustgrid.i18n import Msg
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.models import utcnow
from dustgrid.routing import Router
from dustgrid.sites.models import Stage
from dustgrid.trajectories import service as svc
from dustgrid.trajectories.models import (
    DismissReason,
    KnownPlace,
    PlaceKind,
    SuspectStatus,
    Truck,
)
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY
from dustgrid.trajectories.schemas import ConfirmIn, DismissIn, PlaceIn, TruckIn
from dustgrid.web.forms import NOT_FLASHED, attempt, flash, form_page, pop_flash
from dustgrid.web.nav import sees_citybrain
from dustgrid.web.pickers import coordinate_map
from dustgrid.web.templating import render
from dustgrid.workcal.calendar import people_time

router = Router(include_in_schema=False)
FLASH_KEY = "citybrain_flash"
ROWS_KEY = "citybrain_rows"  # an import's result, shown once on the page it returns to
IMPORT_ERRORS_SHOWN = 50  # bad rows named on the page (the session cookie is small)
TRACK_RADIUS_M = 150.0  # stays within this of a suspect are its visits on the page


def _gate(principal: Principal) -> None:
    if not sees_citybrain(principal):
        raise Forbidden("auth.error.forbidden")


def _helpers(settings: Settings) -> dict[str, Any]:
    tz = ZoneInfo(settings.timezone)
    now = utcnow()

    def when(t: datetime | None) -> str:
        return people_time(t, tz)

    def left(due: datetime) -> dict[str, Any]:
        """The 24-hour clock: hours and minutes left (negative: overdue) and its light."""
        seconds = int((due - now).total_seconds())
        h, m = divmod(abs(seconds) // 60, 60)
        light = "red" if seconds < 0 else ("yellow" if seconds < 4 * 3600 else "green")
        return {"h": h, "m": m, "overdue": seconds < 0, "light": light}

    return {"when": when, "left": left, "now": now}


# --------------------------------------------------------------------------- forms


def _gate_fleet(principal: Principal) -> None:
    """The registry and the known places are kept by whoever may manage the fleet."""
    _gate(principal)
    if not principal.can(svc.FLEET):
        raise Forbidden("trajectories.error.forbidden")


def _saved(
    session: Session, action: Callable[[], object]
) -> tuple[object | None, Exception | None]:
    """Run a form's change in a savepoint: (result, None), or (None, why it was refused).
    401/403/404 are not a form's error: they show the error page."""
    try:
        with session.begin_nested():
            return action(), None
    except DomainError as exc:
        if exc.status_code in NOT_FLASHED:
            raise
        return None, exc
    except ValidationError as exc:
        return None, exc


async def _upload(request: Request) -> bytes:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    file = form.get("file")
    return await file.read() if isinstance(file, UploadFile) else b""


async def _import(
    request: Request,
    session: Session,
    principal: Principal,
    settings: Settings,
    importer: Callable[[Session, Principal, bytes, Settings], svc.ImportOutcome],
    back: str,
) -> Response:
    """An Excel import from a page (trucks or places): the good rows are kept, the bad ones
    named by row on the page it returns to."""
    content = await _upload(request)
    done = attempt(
        request, session, lambda: importer(session, principal, content, settings), key=FLASH_KEY
    )
    if done is not None:
        created, updated, errors = done
        flash(request, ok="citybrain.flash.imported", key=FLASH_KEY)
        request.session[ROWS_KEY] = {
            "created": created + updated,
            "errors": errors[:IMPORT_ERRORS_SHOWN],
        }
    return RedirectResponse(back, status_code=303)


# --------------------------------------------------------------------------- suspects


@router.get("/citybrain", response_class=HTMLResponse)
def index(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    status: str = "",
) -> Response:
    _gate(principal)
    chosen = SuspectStatus(status) if status in {s.value for s in SuspectStatus} else None
    rows = svc.list_suspects(session, principal, status=chosen)
    now = utcnow()
    items = svc.suspects_out(session, rows, now)
    points = [
        {"id": s.id, "lat": s.lat, "lon": s.lon, "status": s.status.value, "ref": s.ref}
        for s in items
    ]
    return render(
        request,
        "citybrain/index.html",
        items=items,
        queue=svc.queue(session, principal, now),
        status=chosen.value if chosen else "",
        statuses=list(SuspectStatus),
        points=points,
        flash=pop_flash(request, key=FLASH_KEY),
        **_helpers(settings),
    )


@router.get("/citybrain/suspects/{suspect_id}", response_class=HTMLResponse)
def detail(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    suspect_id: Id,
) -> Response:
    _gate(principal)
    row = svc.get_suspect(session, principal, suspect_id)
    s = svc.suspect_out(session, row, utcnow())
    visits = svc.suspect_visits(session, row, TRACK_RADIUS_M)
    days = sorted({v.day for v in visits})[-3:] or [row.last_detected_on]
    tracks = svc.tracks(settings, row, days)
    may_decide = (
        principal.role == Role.district_admin
        and principal.org_unit_id == row.unit_id
        and row.status == SuspectStatus.pushed
    )
    return render(
        request,
        "citybrain/detail.html",
        s=s,
        visits=visits,
        plates=dict(zip(row.terminals or [], s.evidence.plates, strict=False)),
        map_data={
            "suspect": {"lat": s.lat, "lon": s.lon, "ref": s.ref},
            "radius": TRACK_RADIUS_M,
            "tracks": [{"key": k, "points": v} for k, v in tracks.items()],
            "visits": [{"lat": v.lat, "lon": v.lon} for v in visits],
        },
        may_decide=may_decide,
        reasons=list(DismissReason),
        kind_choice=svc.kind_choice(session, row),
        stages=list(Stage),
        flash=pop_flash(request, key=FLASH_KEY),
        **_helpers(settings),
    )


@router.post("/citybrain/suspects/{suspect_id}/confirm")
async def confirm(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    suspect_id: Id,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))

    def act() -> object:
        body = ConfirmIn.model_validate(
            {
                "name": str(form.get("name") or ""),
                "kind": str(form.get("kind") or "") or None,
                "stage": str(form.get("stage") or Stage.earthwork.value),
                "note": str(form.get("note") or ""),
            }
        )
        return svc.confirm(session, principal, suspect_id, body, settings=settings, now=utcnow())

    if attempt(request, session, act, key=FLASH_KEY) is not None:
        flash(request, ok="citybrain.flash.confirmed", key=FLASH_KEY)
    return RedirectResponse(f"/citybrain/suspects/{suspect_id}", status_code=303)


@router.post("/citybrain/suspects/{suspect_id}/dismiss")
async def dismiss(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    suspect_id: Id,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))

    def act() -> object:
        body = DismissIn.model_validate(
            {"reason": str(form.get("reason") or ""), "text": str(form.get("text") or "")}
        )
        return svc.dismiss(session, principal, suspect_id, body, settings=settings, now=utcnow())

    if attempt(request, session, act, key=FLASH_KEY) is not None:
        flash(request, ok="citybrain.flash.dismissed", key=FLASH_KEY)
    return RedirectResponse(f"/citybrain/suspects/{suspect_id}", status_code=303)


@router.get("/citybrain/heat", response_class=HTMLResponse)
def heat(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    day: str = "",
) -> Response:
    _gate(principal)
    days = svc.heat_days(session)
    try:
        chosen = date.fromisoformat(day) if day else (days[0] if days else None)
    except ValueError:
        chosen = days[0] if days else None
    cells = svc.heat(session, chosen) if chosen else []
    return render(
        request,
        "citybrain/heat.html",
        days=days,
        day=chosen,
        prev_day=(chosen - timedelta(days=1)) if chosen else None,
        next_day=(chosen + timedelta(days=1)) if chosen else None,
        cells=cells,
        total=sum(c["n"] for c in cells),
        **_helpers(settings),
    )


# --------------------------------------------------------------------------- places


@router.get("/citybrain/places", response_class=HTMLResponse)
def places(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    _gate(principal)
    return render(
        request,
        "citybrain/places.html",
        places=svc.list_places(session),
        kinds=[k for k in PlaceKind if k != PlaceKind.permitted_site],
        can_manage=principal.can(svc.FLEET),
        flash=pop_flash(request, key=FLASH_KEY),
        errors=request.session.pop(ROWS_KEY, None),
        **_helpers(settings),
    )


PLACE_LABELS = {
    "name": "citybrain.field.name",
    "kind": "citybrain.field.kind",
    "lat": "citybrain.field.lat",
    "lon": "citybrain.field.lon",
    "radius_m": "citybrain.field.radius_m",
    "boundary": "citybrain.field.boundary",
    "note": "citybrain.field.note",
}
SHAPES = ("circle", "boundary")  # a known place is a circle or a drawn boundary


def _place_page(
    request: Request,
    session: Session,
    principal: Principal,
    settings: Settings,
    place: KnownPlace | None,
    values: dict[str, str],
    exc: Exception | None = None,
) -> Response:
    return form_page(
        request,
        "citybrain/place_form.html",
        PLACE_LABELS,
        values,
        exc,
        place=place,
        kinds=[k for k in PlaceKind if k != PlaceKind.permitted_site],
        place_map=coordinate_map(session, principal, settings),
        buffer_m=DEFAULT_TRAJECTORY_POLICY.known_buffer_m,
    )


async def _place_form(request: Request) -> dict[str, str]:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    values = {k: str(form.get(k) or "").strip() for k in PLACE_LABELS}
    shape = str(form.get("shape") or "")
    values["shape"] = shape if shape in SHAPES else SHAPES[0]
    return values


def _place_in(values: dict[str, str]) -> PlaceIn:
    """The form as the service takes it: the drawn boundary (GeoJSON in a hidden field), or
    the circle's centre and radius; an empty box is a missing value, not zero."""
    raw: dict[str, Any] = {k: values[k] for k in ("name", "kind", "note")}
    if values["shape"] == "boundary":
        try:
            boundary = json.loads(values["boundary"]) if values["boundary"] else None
        except ValueError:
            boundary = None
        if not isinstance(boundary, dict):
            raise Invalid(Msg("trajectories.error.draw_boundary"), details={"field": "boundary"})
        raw["boundary"] = boundary
    else:
        raw |= {k: values[k] for k in ("lat", "lon", "radius_m") if values[k]}
    return PlaceIn.model_validate(raw)


def _place_values(p: KnownPlace) -> dict[str, str]:
    return {
        "name": p.name,
        "kind": p.kind.value,
        "shape": "boundary" if p.boundary else "circle",
        "lat": f"{p.lat:.6f}",
        "lon": f"{p.lon:.6f}",
        "radius_m": f"{p.radius_m:.0f}",
        "boundary": json.dumps(p.boundary) if p.boundary else "",
        "note": p.note,
    }


@router.get("/citybrain/places/new", response_class=HTMLResponse)
def place_new(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    _gate_fleet(principal)
    radius = PlaceIn.model_fields["radius_m"].default
    values = {"shape": "circle", "radius_m": f"{radius:.0f}", "kind": PlaceKind.disposal.value}
    return _place_page(request, session, principal, settings, None, values)


@router.post("/citybrain/places/new", response_class=HTMLResponse)
async def place_create(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    _gate_fleet(principal)
    values = await _place_form(request)
    _, exc = _saved(session, lambda: svc.save_place(session, principal, _place_in(values)))
    if exc is not None:
        return _place_page(request, session, principal, settings, None, values, exc)
    flash(request, ok="citybrain.flash.place_saved", key=FLASH_KEY)
    return RedirectResponse("/citybrain/places", status_code=303)


@router.get("/citybrain/places/{place_id}/edit", response_class=HTMLResponse)
def place_edit(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    place_id: Id,
) -> Response:
    _gate_fleet(principal)
    p = svc.get_place(session, place_id)
    return _place_page(request, session, principal, settings, p, _place_values(p))


@router.post("/citybrain/places/{place_id}/edit", response_class=HTMLResponse)
async def place_update(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    place_id: Id,
) -> Response:
    _gate_fleet(principal)
    place = svc.get_place(session, place_id)
    values = await _place_form(request)
    _, exc = _saved(
        session, lambda: svc.save_place(session, principal, _place_in(values), place_id)
    )
    if exc is not None:
        session.refresh(place)
        return _place_page(request, session, principal, settings, place, values, exc)
    flash(request, ok="citybrain.flash.place_saved", key=FLASH_KEY)
    return RedirectResponse("/citybrain/places", status_code=303)


@router.post("/citybrain/places/{place_id}/retire")
async def retire_place(
    request: Request, session: DbSession, principal: CurrentPrincipal, place_id: Id
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    if (
        attempt(
            request, session, lambda: svc.retire_place(session, principal, place_id), key=FLASH_KEY
        )
        is not None
    ):
        flash(request, ok="citybrain.flash.place_retired", key=FLASH_KEY)
    return RedirectResponse("/citybrain/places", status_code=303)


@router.post("/citybrain/places/import")
async def import_places(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    return await _import(
        request, session, principal, settings, svc.import_places, "/citybrain/places"
    )


# --------------------------------------------------------------------------- trucks


@router.get("/citybrain/trucks", response_class=HTMLResponse)
def trucks(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    _gate(principal)
    return render(
        request,
        "citybrain/trucks.html",
        trucks=svc.list_trucks(session),
        can_manage=principal.can(svc.FLEET),
        flash=pop_flash(request, key=FLASH_KEY),
        errors=request.session.pop(ROWS_KEY, None),
        **_helpers(settings),
    )


TRUCK_LABELS = {
    "plate": "citybrain.field.plate",
    "company": "citybrain.field.company",
    "terminal_id": "citybrain.field.terminal",
}


def _truck_page(
    request: Request,
    truck: Truck | None,
    values: dict[str, str],
    exc: Exception | None = None,
) -> Response:
    return form_page(request, "citybrain/truck_form.html", TRUCK_LABELS, values, exc, truck=truck)


async def _truck_form(request: Request) -> dict[str, str]:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    values = {k: str(form.get(k) or "") for k in TRUCK_LABELS}
    values["active"] = "on" if form.get("active") else ""
    return values


def _truck_in(values: dict[str, str]) -> TruckIn:
    return TruckIn.model_validate(
        {k: values[k] for k in TRUCK_LABELS} | {"active": values["active"] == "on"}
    )


@router.get("/citybrain/trucks/new", response_class=HTMLResponse)
def truck_new(request: Request, principal: CurrentPrincipal) -> Response:
    _gate_fleet(principal)
    return _truck_page(request, None, {"active": "on"})


@router.post("/citybrain/trucks/new", response_class=HTMLResponse)
async def truck_create(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> Response:
    _gate_fleet(principal)
    values = await _truck_form(request)
    _, exc = _saved(session, lambda: svc.save_truck(session, principal, _truck_in(values)))
    if exc is not None:
        return _truck_page(request, None, values, exc)
    flash(request, ok="citybrain.flash.truck_saved", key=FLASH_KEY)
    return RedirectResponse("/citybrain/trucks", status_code=303)


@router.get("/citybrain/trucks/{truck_id}/edit", response_class=HTMLResponse)
def truck_edit(
    request: Request, session: DbSession, principal: CurrentPrincipal, truck_id: Id
) -> Response:
    _gate_fleet(principal)
    t = svc.get_truck(session, truck_id)
    values = {
        "plate": t.plate,
        "company": t.company,
        "terminal_id": t.terminal_id,
        "active": "on" if t.active else "",
    }
    return _truck_page(request, t, values)


@router.post("/citybrain/trucks/{truck_id}/edit", response_class=HTMLResponse)
async def truck_update(
    request: Request, session: DbSession, principal: CurrentPrincipal, truck_id: Id
) -> Response:
    _gate_fleet(principal)
    truck = svc.get_truck(session, truck_id)
    values = await _truck_form(request)
    _, exc = _saved(
        session, lambda: svc.save_truck(session, principal, _truck_in(values), truck_id)
    )
    if exc is not None:
        session.refresh(truck)
        return _truck_page(request, truck, values, exc)
    flash(request, ok="citybrain.flash.truck_saved", key=FLASH_KEY)
    return RedirectResponse("/citybrain/trucks", status_code=303)


@router.post("/citybrain/trucks/import")
async def import_trucks(
    request: Request, session: DbSession, principal: CurrentPrincipal, settings: AppSettings
) -> Response:
    return await _import(
        request, session, principal, settings, svc.import_trucks, "/citybrain/trucks"
    )
