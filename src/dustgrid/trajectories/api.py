"""JSON routes of the City Brain loop (issue 14).

- ``/api/v1/citybrain/…``: what the City Brain calls. Authenticated by its API key
  (``X-API-Key``, issued by an L1 admin with scopes ``fixes:write`` and ``feedback:read``)
  or by an account with ``Perm.case_intake`` (L1 and its service accounts).
- ``/api/v1/trajectories/…``: the registry, known places, suspects and their verdicts, the
  queue, the heat map; scoped (a district sees its own suspects, an officer its grids').
  The registry and the known places are written with ``Perm.fleet_write`` (the city).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, File, Header, Query, Request, UploadFile

from dustgrid.bounds import Id
from dustgrid.errors import Forbidden, Invalid, Unauthenticated, error_responses
from dustgrid.i18n import Msg
from dustgrid.identity.deps import (
    AppSettings,
    CurrentPrincipal,
    DbSession,
    current_principal,
    require,
)
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.routing import Router
from dustgrid.trajectories import service as svc
from dustgrid.trajectories.models import SuspectStatus
from dustgrid.trajectories.schemas import (
    BatchOut,
    ConfirmIn,
    DismissIn,
    FeedbackPage,
    ImportResult,
    KeyIn,
    KeyIssued,
    PlaceIn,
    PlaceOut,
    RunOut,
    SuspectOut,
    TruckIn,
    TruckOut,
)

router = Router(tags=["trajectories"], responses=error_responses())
CB = "/api/v1/citybrain"
T = "/api/v1/trajectories"
Intake = Annotated[Principal, Depends(require(Perm.case_intake))]
#: The registry, the known places and the heat map are the grid's working data: not for
#: company accounts (contractors, device providers).
GridWork = Annotated[Principal, Depends(require(Perm.grid_work))]
Fleet = Annotated[Principal, Depends(require(Perm.fleet_write))]  # registry, known places


def _client(request: Request, session: DbSession, settings: AppSettings, scope: str) -> str:
    """The caller's name: a City Brain key with ``scope``, else an intake account."""
    key = request.headers.get("x-api-key")
    if key:
        row = svc.verify_key(session, key, scope, utcnow())
        if row is None:
            raise Unauthenticated(Msg("trajectories.error.bad_key"))
        return f"key:{row.prefix}"
    principal = current_principal(request, session, settings)
    if not principal.can(Perm.case_intake):
        raise Forbidden("auth.error.forbidden", details={"permission": Perm.case_intake.value})
    return f"user:{principal.username}"


def fixes_client(request: Request, session: DbSession, settings: AppSettings) -> str:
    return _client(request, session, settings, svc.SCOPE_FIXES)


def feedback_client(request: Request, session: DbSession, settings: AppSettings) -> str:
    return _client(request, session, settings, svc.SCOPE_FEEDBACK)


# --------------------------------------------------------------------------- City Brain


@router.post(
    f"{CB}/fixes/batches/{{batch_id}}",
    response_model=BatchOut,
    status_code=201,
    summary="A batch of GPS fixes (CSV or Parquet body, Content-Encoding: gzip accepted); "
    "the same batch id again answers 200 with the first result and stores nothing; bad "
    "rows are reported by line and the good ones kept",
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/vnd.apache.parquet": {
                    "schema": {"type": "string", "format": "binary"}
                },
            }
        }
    },
)
async def post_batch(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    client: Annotated[str, Depends(fixes_client)],
    batch_id: str,
    crs: Annotated[str, Query(description="wgs84 or gcj02: the datum of the coordinates")],
    content_encoding: Annotated[str | None, Header()] = None,
) -> Any:
    from fastapi.responses import JSONResponse

    body = await request.body()
    gz = (content_encoding or "").strip().lower() == "gzip" or body[:2] == b"\x1f\x8b"
    out, created = svc.ingest_batch(
        session,
        batch_id=batch_id,
        crs=crs,
        body=body,
        gzipped=gz,
        client=client,
        settings=settings,
        now=utcnow(),
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=201 if created else 200)


@router.get(
    f"{CB}/feedback",
    response_model=FeedbackPage,
    summary="Verdicts on pushed suspects after `since` (verdict, person, time, evidence), "
    "oldest first; pass `next_since` back to continue",
)
def get_feedback(
    session: DbSession,
    _client: Annotated[str, Depends(feedback_client)],
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=svc.FEEDBACK_LIMIT)] = svc.FEEDBACK_LIMIT,
) -> FeedbackPage:
    if since is not None and since.tzinfo is None:
        raise Invalid(Msg("trajectories.error.since_offset"), details={"field": "since"})
    return svc.feedback(session, since, limit)


@router.post(
    f"{CB}/keys",
    response_model=KeyIssued,
    status_code=201,
    summary="Issue a City Brain API key (shown once)",
)
def issue_key(session: DbSession, principal: Intake, body: KeyIn) -> KeyIssued:
    row, key = svc.issue_key(session, principal, body.name, body.scopes, utcnow())
    return KeyIssued(id=row.id, name=row.name, key=key, scopes=list(row.scopes))


# --------------------------------------------------------------------------- registry


@router.get(f"{T}/trucks", response_model=list[TruckOut], summary="The truck registry")
def list_trucks(session: DbSession, _p: GridWork) -> list[TruckOut]:
    return [TruckOut.model_validate(t) for t in svc.list_trucks(session)]


@router.post(f"{T}/trucks", response_model=TruckOut, summary="Add or update a truck by plate")
def put_truck(session: DbSession, principal: Fleet, body: TruckIn) -> TruckOut:
    truck, _ = svc.upsert_truck(session, principal, body)
    return TruckOut.model_validate(truck)


@router.put(
    f"{T}/trucks/{{truck_id}}",
    response_model=TruckOut,
    summary="Edit a truck: plate, company, terminal, in service or not",
)
def edit_truck(session: DbSession, principal: Fleet, truck_id: Id, body: TruckIn) -> TruckOut:
    return TruckOut.model_validate(svc.save_truck(session, principal, body, truck_id))


@router.post(
    f"{T}/trucks/import",
    response_model=ImportResult,
    summary="Excel (plate, company, terminal_id): good rows kept, bad rows named",
)
async def import_trucks(
    session: DbSession,
    principal: Fleet,
    settings: AppSettings,
    file: Annotated[UploadFile, File()],
) -> ImportResult:
    c, u, errors = svc.import_trucks(session, principal, await file.read(), settings)
    return ImportResult(created=c, updated=u, errors=errors)


@router.get(f"{T}/places", response_model=list[PlaceOut], summary="Known places (not the ledger)")
def list_places(session: DbSession, _p: GridWork) -> list[PlaceOut]:
    return [PlaceOut.model_validate(p) for p in svc.list_places(session)]


@router.post(f"{T}/places", response_model=PlaceOut, status_code=201, summary="Add a known place")
def add_place(session: DbSession, principal: Fleet, body: PlaceIn) -> PlaceOut:
    return PlaceOut.model_validate(svc.save_place(session, principal, body))


@router.put(f"{T}/places/{{place_id}}", response_model=PlaceOut, summary="Edit a known place")
def edit_place(session: DbSession, principal: Fleet, place_id: Id, body: PlaceIn) -> PlaceOut:
    return PlaceOut.model_validate(svc.save_place(session, principal, body, place_id))


@router.delete(f"{T}/places/{{place_id}}", response_model=PlaceOut, summary="Retire a place")
def retire_place(session: DbSession, principal: Fleet, place_id: Id) -> PlaceOut:
    return PlaceOut.model_validate(svc.retire_place(session, principal, place_id))


@router.post(
    f"{T}/places/import",
    response_model=ImportResult,
    summary="Excel (name, kind, lat, lon, radius_m, note): bad rows named",
)
async def import_places(
    session: DbSession,
    principal: Fleet,
    settings: AppSettings,
    file: Annotated[UploadFile, File()],
) -> ImportResult:
    c, u, errors = svc.import_places(session, principal, await file.read(), settings)
    return ImportResult(created=c, updated=u, errors=errors)


# --------------------------------------------------------------------------- suspects


@router.get(f"{T}/suspects", response_model=list[SuspectOut], summary="Suspects in scope")
def list_suspects(
    session: DbSession,
    principal: CurrentPrincipal,
    status: SuspectStatus | None = None,
    district_id: Id | None = None,
) -> list[SuspectOut]:
    now = utcnow()
    rows = svc.list_suspects(session, principal, status=status, district_id=district_id)
    return svc.suspects_out(session, rows, now)


@router.get(f"{T}/suspects/{{suspect_id}}", response_model=SuspectOut, summary="One suspect")
def get_suspect(session: DbSession, principal: CurrentPrincipal, suspect_id: Id) -> SuspectOut:
    return svc.suspect_out(session, svc.get_suspect(session, principal, suspect_id), utcnow())


@router.post(
    f"{T}/suspects/{{suspect_id}}/confirm",
    response_model=SuspectOut,
    summary="The L2 unit routed to confirms: a ledger site marked 未批先建 and its case",
)
def confirm(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    suspect_id: Id,
    body: ConfirmIn,
) -> SuspectOut:
    now = utcnow()
    s = svc.confirm(session, principal, suspect_id, body, settings=settings, now=now)
    return svc.suspect_out(session, s, now)


@router.post(
    f"{T}/suspects/{{suspect_id}}/dismiss",
    response_model=SuspectOut,
    summary="The L2 unit routed to dismisses: the place becomes a known place",
)
def dismiss(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    suspect_id: Id,
    body: DismissIn,
) -> SuspectOut:
    now = utcnow()
    s = svc.dismiss(session, principal, suspect_id, body, settings=settings, now=now)
    return svc.suspect_out(session, s, now)


@router.get(f"{T}/queue", summary="Pushes waiting for a verdict per district, and overdue")
def get_queue(session: DbSession, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    return svc.queue(session, principal, utcnow())


@router.get(f"{T}/heat", summary="Stays of a local day per map cell (count)")
def get_heat(session: DbSession, _p: GridWork, day: date) -> list[dict[str, Any]]:
    return svc.heat(session, day)


@router.get(f"{T}/ledger-gaps", summary="Sites missing from a district's ledger in a period")
def ledger_gaps(
    session: DbSession,
    principal: CurrentPrincipal,
    settings: AppSettings,
    district_id: Id,
    first: Annotated[date, Query(alias="from")],
    last: Annotated[date, Query(alias="to")],
) -> dict[str, int]:
    if not principal.is_city_wide and principal.district_id != district_id:
        raise Forbidden(Msg("trajectories.error.forbidden"))
    n = svc.missing_from_ledger(session, district_id, (first, last), settings.timezone)
    return {"district_id": district_id, "missing_from_ledger": n}


@router.post(f"{T}/runs", response_model=RunOut, summary="Run the detection of a day now (L1)")
def run(session: DbSession, _p: Intake, settings: AppSettings, day: date) -> RunOut:
    return svc.run_day(session, day, settings=settings, now=utcnow())
