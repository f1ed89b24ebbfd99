"""The City Brain loop with the database (issue 14). Never commits.

- Data in: the truck registry, known places, batches of fixes written through ``FixStore``.
- The daily run (``run_day``): detection of one local day (``detect_day``), its summaries
  (truck-days, stays, clusters) replacing any earlier run of that day, and every *new*
  suspect (not within ``near_existing_m`` of one already pushed) pushed as a City Brain
  case routed to the L2 unit of the grid whose area holds it (``cases.citybrain.route``):
  the city safety station inside one of its metro and municipal grids, else the bureau of
  the district that contains it; due in 24 hours on that unit's (L2) clock.
- Verdicts, by that unit's admins: ``confirm`` (the place enters the ledger marked 确认未批先建
  as a site of that unit, in that grid, and the case becomes its enforcement case) and
  ``dismiss`` (the place becomes a known place, so it is never
  pushed again); both go back to the City Brain (``feedback`` and the signed webhook).
"""

from __future__ import annotations

import gzip
import hashlib
import math
import secrets
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.cases import citybrain
from dustgrid.cases import service as cases
from dustgrid.cases.states import CaseSource
from dustgrid.config import Settings
from dustgrid.errors import Forbidden, Invalid, NotFound
from dustgrid.geo.coords import EARTH_RADIUS_M, haversine_m
from dustgrid.geo.shapes import centroid, point_in_geometry
from dustgrid.grids import repository as grids_repo
from dustgrid.grids.models import Grid, GridKind
from dustgrid.i18n import Msg
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm, Role
from dustgrid.intake import service as intake
from dustgrid.notifications import service as notifications
from dustgrid.org import repository as org_repo
from dustgrid.outbox.queue import enqueue
from dustgrid.sites import service as sites
from dustgrid.sites.models import PermitStatus, SiteKind
from dustgrid.sites.schemas import SiteCreate
from dustgrid.trajectories import clusters as pure
from dustgrid.trajectories import repository as repo
from dustgrid.trajectories.cli import STORE_FOLDER
from dustgrid.trajectories.daily import detect_day
from dustgrid.trajectories.fixes import UnreadableInput, read_fixes
from dustgrid.trajectories.loop_policy import (
    DEFAULT_CITY_BRAIN_LOOP_POLICY,
    CityBrainLoopPolicy,
)
from dustgrid.trajectories.models import (
    CityBrainKey,
    Crs,
    DismissReason,
    FixBatch,
    KnownPlace,
    PlaceKind,
    SuspectSite,
    SuspectStatus,
    Truck,
)
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY, TrajectoryPolicy
from dustgrid.trajectories.schemas import (
    BatchOut,
    ConfirmIn,
    DismissIn,
    Evidence,
    FeedbackItem,
    FeedbackPage,
    PlaceIn,
    RunOut,
    SuspectOut,
    TruckIn,
)
from dustgrid.trajectories.stays import SECONDS_PER_DAY, Stays
from dustgrid.trajectories.store import BATCH_ID, BadBatchId, FixStore
from dustgrid.workcal.calendar import people_time

CATEGORY = "unpermitted_construction"
VERDICT_JOB = "citybrain.verdict"
SCOPE_FIXES = "fixes:write"
SCOPE_FEEDBACK = "feedback:read"
SCOPES = (SCOPE_FIXES, SCOPE_FEEDBACK)
KEY_SCHEME = "cb_"
KEY_PREFIX_CHARS = 12
_EPOCH = date(1970, 1, 1)
# A dismissal's reason and the kind of known place the dismissed place becomes.
DISMISSED_KIND = {
    DismissReason.road_works: PlaceKind.road_works,
    DismissReason.depot: PlaceKind.depot,
    DismissReason.car_park: PlaceKind.car_park,
    DismissReason.other: PlaceKind.other,
}
FEEDBACK_LIMIT = 500
# A confirmed site's kind when the form names none: the station's lane holds metro and
# municipal works (a muck-truck site there is most often municipal: roads, pipes), a
# district's the rest.
STATION_SITE_KIND = SiteKind.municipal
DISTRICT_SITE_KIND = SiteKind.other
# Who keeps the registry and the known places the detection reads.
FLEET = Perm.fleet_write


def store_of(settings: Settings, policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY) -> FixStore:
    return FixStore(settings.var_dir.joinpath(*STORE_FOLDER), policy)


def _utc(epoch_s: int | float) -> datetime:
    return datetime.fromtimestamp(int(epoch_s), UTC)


def _local_day(epoch_day: int) -> date:
    return _EPOCH + timedelta(days=int(epoch_day))


# --------------------------------------------------------------------------- trucks


def _require(principal: Principal, perm: Perm) -> None:
    if not principal.can(perm):
        raise Forbidden(Msg("trajectories.error.forbidden"))


def list_trucks(session: Session) -> list[Truck]:
    return repo.trucks(session)


def get_truck(session: Session, truck_id: int) -> Truck:
    truck = session.get(Truck, truck_id)
    if truck is None:
        raise NotFound(Msg("trajectories.error.truck_not_found"))
    return truck


def _plate(raw: str) -> str:
    """A plate as registered: no spaces, letters upper case (辽a 12345 → 辽A12345)."""
    return "".join(raw.split()).upper()


def save_truck(
    session: Session, principal: Principal, data: TruckIn, truck_id: int | None = None
) -> Truck:
    """Register a truck (``truck_id`` None) or edit one: its plate, company, terminal, and
    whether it is in service. A plate and a terminal belong to one truck each."""
    _require(principal, FLEET)
    plate, terminal = _plate(data.plate), data.terminal_id.strip()
    truck = None if truck_id is None else get_truck(session, truck_id)
    same_plate = repo.truck_by_plate(session, plate)
    if same_plate is not None and (truck is None or same_plate.id != truck.id):
        raise Invalid(
            Msg("trajectories.error.plate_taken", {"plate": plate}), details={"field": "plate"}
        )
    other = repo.truck_by_terminal(session, terminal)
    if other is not None and (truck is None or other.id != truck.id):
        raise Invalid(
            Msg("trajectories.error.terminal_taken", {"terminal": terminal, "plate": other.plate}),
            details={"field": "terminal_id"},
        )
    before = {} if truck is None else _truck_snapshot(truck)
    if truck is None:
        truck = Truck(plate=plate)
        session.add(truck)
    truck.plate = plate
    truck.company, truck.terminal_id, truck.active = (
        (data.company or "").strip(),
        terminal,
        data.active,
    )
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="create" if not before else "update",
        entity_type="traj_truck",
        entity_id=truck.id,
        before=before,
        after=_truck_snapshot(truck),
        summary=f"渣土车 {truck.plate}",
    )
    return truck


def upsert_truck(session: Session, principal: Principal, data: TruckIn) -> tuple[Truck, bool]:
    """Create a truck or update the one with this plate (the API and the Excel import)."""
    _require(principal, FLEET)
    existing = repo.truck_by_plate(session, _plate(data.plate))
    truck = save_truck(session, principal, data, existing.id if existing else None)
    return truck, existing is None


def _truck_snapshot(t: Truck) -> dict[str, Any]:
    return {
        "plate": t.plate,
        "company": t.company,
        "terminal_id": t.terminal_id,
        "active": t.active,
    }


TRUCK_COLUMNS = ("plate", "company", "terminal_id")
PLACE_COLUMNS = ("name", "kind", "lat", "lon", "radius_m", "note")


def _sheet_rows(
    content: bytes, settings: Settings, columns: Sequence[str]
) -> list[tuple[int, dict[str, Any]]]:
    """(row number, values by column) of the first sheet; the header names the columns."""
    from io import BytesIO

    from openpyxl import load_workbook

    from dustgrid.xlsx import XlsxLimits, check_archive

    check_archive(content, XlsxLimits.from_settings(settings))
    try:
        wb = load_workbook(BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the same answer
        raise Invalid(Msg("trajectories.error.not_xlsx")) from exc
    ws = wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = [str(c or "").strip().lower() for c in next(rows, ())]
    missing = [c for c in columns[:1] if c not in header]
    if missing:
        raise Invalid(Msg("trajectories.error.missing_column", {"column": missing[0]}))
    out = []
    for n, row in enumerate(rows, start=2):
        values = {h: row[i] for i, h in enumerate(header) if h and i < len(row)}
        if all(v in (None, "") for v in values.values()):
            continue
        out.append((n, values))
    return out


def _row_error(n: int, exc: Any) -> dict[str, Any]:
    """A spreadsheet row's validation error: the row, the first field, every message."""
    from dustgrid.errors import validation_summary

    errs = exc.errors()
    field = str(errs[0]["loc"][0]) if errs and errs[0]["loc"] else ""
    return {"row": n, "field": field, "message": validation_summary(errs)}


def _text(v: Any) -> str:
    return "" if v is None else str(v).strip()


ImportOutcome = tuple[int, int, list[dict[str, Any]]]  # created, updated, bad rows


def _import_rows(
    session: Session,
    content: bytes,
    settings: Settings,
    columns: Sequence[str],
    save_row: Callable[[dict[str, Any]], bool],
) -> ImportOutcome:
    """Each row of the first sheet saved by ``save_row`` (True: created, False: updated) in
    its own savepoint: good rows are kept, a refused one is named by row, field and why."""
    from pydantic import ValidationError

    created = updated = 0
    errors: list[dict[str, Any]] = []
    for n, values in _sheet_rows(content, settings, columns):
        try:
            with session.begin_nested():
                new = save_row(values)
        except ValidationError as exc:
            errors.append(_row_error(n, exc))
            continue
        except Invalid as exc:
            field = str(exc.details.get("field", ""))
            errors.append({"row": n, "field": field, "message": exc.message})
            continue
        created, updated = created + new, updated + (not new)
    return created, updated, errors


def import_trucks(
    session: Session, principal: Principal, content: bytes, settings: Settings
) -> ImportOutcome:
    """Excel rows ``plate, company, terminal_id``: a known plate is updated."""
    _require(principal, FLEET)

    def save(v: dict[str, Any]) -> bool:
        data = TruckIn(
            plate=_text(v.get("plate")),
            company=_text(v.get("company")),
            terminal_id=_text(v.get("terminal_id")),
        )
        return upsert_truck(session, principal, data)[1]

    return _import_rows(session, content, settings, TRUCK_COLUMNS, save)


# --------------------------------------------------------------------------- known places


def list_places(session: Session) -> list[KnownPlace]:
    return repo.known_places(session)


def get_place(session: Session, place_id: int) -> KnownPlace:
    place = session.get(KnownPlace, place_id)
    if place is None:
        raise NotFound(Msg("trajectories.error.place_not_found"))
    return place


def _district_at(session: Session, lat: float, lon: float) -> int | None:
    for d in org_repo.districts_with_boundary(session):
        if d.boundary and point_in_geometry(lat, lon, d.boundary):
            return int(d.id)
    return None


def _covering_radius(boundary: dict[str, Any], lat: float, lon: float) -> float:
    from dustgrid.geo.shapes import bbox

    box = bbox(boundary)  # GeoJSON order: west, south, east, north
    corners = [(a, o) for a in (box.min_lat, box.max_lat) for o in (box.min_lon, box.max_lon)]
    return max(haversine_m(lat, lon, a, b) for a, b in corners)


def _checked_boundary(raw: dict[str, Any]) -> dict[str, Any]:
    """A drawn boundary as stored, or a clear refusal (a ring that crosses itself is the
    usual slip when corners are clicked out of order)."""
    from dustgrid.geo.shapes import validate_geometry

    try:
        return validate_geometry(raw)
    except ValueError as exc:
        key = (
            "trajectories.error.boundary_crosses"
            if "crosses itself" in str(exc)
            else "trajectories.error.bad_boundary"
        )
        raise Invalid(Msg(key), details={"field": "boundary"}) from exc


def save_place(
    session: Session, principal: Principal, data: PlaceIn, place_id: int | None = None
) -> KnownPlace:
    """Create or edit a known place; a boundary gives the centre and a covering radius."""
    _require(principal, FLEET)
    if data.kind == PlaceKind.permitted_site:
        raise Invalid(Msg("trajectories.error.permitted_from_ledger"), details={"field": "kind"})
    place = session.get(KnownPlace, place_id) if place_id else KnownPlace()
    if place is None:
        raise NotFound(Msg("trajectories.error.place_not_found"))
    before = {} if place_id is None else _place_snapshot(place)
    lat, lon, radius = data.lat, data.lon, data.radius_m
    if data.boundary:
        boundary = _checked_boundary(data.boundary)
        lat, lon = centroid(boundary)
        radius = _covering_radius(boundary, lat, lon)
        place.boundary = boundary
    elif lat is None or lon is None:
        missing = "lat" if lat is None else "lon"
        raise Invalid(Msg("trajectories.error.centre_needed"), details={"field": missing})
    else:
        place.boundary = None
    place.name, place.kind, place.note = data.name.strip(), data.kind, (data.note or "").strip()
    place.lat, place.lon, place.radius_m = lat, lon, radius
    place.district_id = _district_at(session, lat, lon)
    place.active = True
    if place_id is None:
        session.add(place)
    session.flush()
    audit.record_change(
        session,
        actor=principal,
        action="create" if place_id is None else "update",
        entity_type="traj_known_place",
        entity_id=place.id,
        before=before,
        after=_place_snapshot(place),
        summary=f"已知地点 {place.name}",
    )
    return place


def retire_place(session: Session, principal: Principal, place_id: int) -> KnownPlace:
    _require(principal, FLEET)
    place = session.get(KnownPlace, place_id)
    if place is None:
        raise NotFound(Msg("trajectories.error.place_not_found"))
    before = _place_snapshot(place)
    place.active = False
    audit.record_change(
        session,
        actor=principal,
        action="update",
        entity_type="traj_known_place",
        entity_id=place.id,
        before=before,
        after=_place_snapshot(place),
        summary=f"停用已知地点 {place.name}",
    )
    return place


def _place_snapshot(p: KnownPlace) -> dict[str, Any]:
    return {
        "name": p.name,
        "kind": p.kind.value if p.kind else None,
        "lat": p.lat,
        "lon": p.lon,
        "radius_m": p.radius_m,
        "boundary": p.boundary,
        "note": p.note,
        "active": p.active,
    }


def import_places(
    session: Session, principal: Principal, content: bytes, settings: Settings
) -> ImportOutcome:
    """Excel rows ``name, kind, lat, lon, radius_m, note``: each a new known place."""
    _require(principal, FLEET)

    def save(v: dict[str, Any]) -> bool:
        raw = {k: v.get(k) for k in PLACE_COLUMNS if v.get(k) not in (None, "")}
        raw = {k: (_text(x) if k in ("name", "kind", "note") else x) for k, x in raw.items()}
        save_place(session, principal, PlaceIn.model_validate(raw))
        return True

    return _import_rows(session, content, settings, PLACE_COLUMNS, save)


def detection_places(session: Session) -> list[pure.KnownPlace]:
    """Every place the detection treats as known: the ledger's sites and the known-places
    table (dismissed suspects included). A place with a boundary is that shape (the buffer
    lies beyond its edge); a ledger site without one is a circle from its area (at least
    80 m), a known place its circle."""
    out = []
    for _sid, name, lat, lon, area, boundary in repo.ledger_places(session):
        radius = max(80.0, math.sqrt(max(area or 0.0, 0.0) / math.pi))
        kind = PlaceKind.permitted_site.value
        out.append(pure.KnownPlace(name, kind, lat, lon, radius, boundary or None))
    for p in repo.known_places(session):
        out.append(pure.KnownPlace(p.name, p.kind.value, p.lat, p.lon, p.radius_m, p.boundary))
    return out


# --------------------------------------------------------------------------- fixes in


def _bad_rows(result_bad: Sequence[Any], limit: int) -> list[dict[str, Any]]:
    out = []
    for b in result_bad[:limit]:
        where, _, number = b.where.partition(" ")
        out.append({where: int(number) if number.isdigit() else b.where, "message": b.reason})
    return out


def ingest_batch(
    session: Session,
    *,
    batch_id: str,
    crs: str,
    body: bytes,
    gzipped: bool,
    client: str,
    settings: Settings,
    now: datetime,
    policy: CityBrainLoopPolicy = DEFAULT_CITY_BRAIN_LOOP_POLICY,
) -> tuple[BatchOut, bool]:
    """Store one batch of fixes (CSV or Parquet, gzip allowed); the same batch id again
    returns the first result and stores nothing. Returns (result, created)."""
    if not BATCH_ID.match(batch_id) or batch_id.strip(".") == "":
        raise Invalid(Msg("trajectories.error.batch_id"), details={"field": "batch_id"})
    try:
        system = Crs(crs)
    except ValueError as exc:
        raise Invalid(Msg("trajectories.error.crs"), details={"field": "crs"}) from exc
    known = repo.batch(session, batch_id)
    if known is not None:
        return _batch_out(known, duplicate=True), False
    if gzipped:
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            raise Invalid(Msg("trajectories.error.gzip")) from exc
    if len(body) > policy.batch_max_bytes:
        raise Invalid(Msg("trajectories.error.too_large", {"mb": policy.batch_max_bytes >> 20}))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch"
        path.write_bytes(body)
        try:
            result = read_fixes(path, system.value)
        except UnreadableInput as exc:
            raise Invalid(
                Msg("trajectories.error.unreadable", {"why": str(exc).replace(str(path), "body")})
            ) from exc
    try:
        files = store_of(settings).write(result.fixes, batch_id)
    except BadBatchId as exc:
        raise Invalid(Msg("trajectories.error.batch_id"), details={"field": "batch_id"}) from exc
    errors = _bad_rows(result.bad, policy.batch_max_reported)
    for e in errors:
        e["message"] = e["message"].replace(str(path), "body")
    row = FixBatch(
        batch_id=batch_id,
        crs=system,
        client=client[:128],
        received_at=now,
        rows=len(result.fixes) + len(result.bad),
        stored=len(result.fixes),
        bad=len(result.bad),
        files=files,
        errors=errors,
    )
    session.add(row)
    session.flush()
    return _batch_out(row, duplicate=False), True


def _batch_out(b: FixBatch, *, duplicate: bool) -> BatchOut:
    return BatchOut(
        batch_id=b.batch_id,
        duplicate=duplicate,
        crs=b.crs.value,
        rows=b.rows,
        stored=b.stored,
        bad=b.bad,
        errors=list(b.errors or []),
    )


# --------------------------------------------------------------------------- API keys


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_key(
    session: Session, principal: Principal, name: str, scopes: Sequence[str], now: datetime
) -> tuple[CityBrainKey, str]:
    _require(principal, Perm.case_intake)
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise Invalid(
            Msg("trajectories.error.scope", {"scope": ", ".join(bad) or "-"}),
            details={"field": "scopes"},
        )
    key = KEY_SCHEME + secrets.token_urlsafe(32)
    row = CityBrainKey(
        name=name.strip(),
        prefix=key[:KEY_PREFIX_CHARS],
        key_hash=_hash(key),
        scopes=sorted(set(scopes)),
        created_at=now,
        created_by_id=principal.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="citybrain.key_issue",
        entity_type="traj_api_key",
        entity_id=row.id,
        changes={"prefix": [None, row.prefix]},
        summary=f"签发城市大脑接口密钥 {row.prefix}…（{row.name}）",
    )
    return row, key


def verify_key(session: Session, key: str, scope: str, now: datetime) -> CityBrainKey | None:
    """The active key with this value and scope (None when unknown, revoked or lacking it)."""
    for row in repo.keys_by_prefix(session, key[:KEY_PREFIX_CHARS]):
        if secrets.compare_digest(row.key_hash, _hash(key)) and scope in (row.scopes or []):
            row.last_used_at = now
            return row
    return None


# --------------------------------------------------------------------------- the daily run


def _stays_rows(stays: Stays) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(truck-day rows, stay rows) of the day's stays."""
    names = np.asarray(stays.terminals, dtype=object)
    stay_rows: list[dict[str, Any]] = [
        {
            "day": _local_day(d),
            "terminal_id": str(names[t]),
            "start_at": _utc(s),
            "end_at": _utc(e),
            "lat": float(la),
            "lon": float(lo),
            "n_fixes": int(n),
        }
        for t, d, s, e, la, lo, n in zip(
            stays.terminal,
            stays.day,
            stays.start,
            stays.end,
            stays.lat,
            stays.lon,
            stays.n_fixes,
            strict=True,
        )
    ]
    per: dict[tuple[str, date], dict[str, Any]] = {}
    for r in stay_rows:
        key = (r["terminal_id"], r["day"])
        row = per.setdefault(
            key,
            {
                "day": r["day"],
                "terminal_id": r["terminal_id"],
                "stays": 0,
                "dwell_seconds": 0,
                "first_at": r["start_at"],
                "last_at": r["end_at"],
            },
        )
        row["stays"] += 1
        row["dwell_seconds"] += int((r["end_at"] - r["start_at"]).total_seconds())
        row["first_at"] = min(row["first_at"], r["start_at"])
        row["last_at"] = max(row["last_at"], r["end_at"])
    return list(per.values()), stay_rows


def _evidence_columns(c: pure.Cluster, firms: dict[str, str]) -> dict[str, Any]:
    companies = list(c.companies) or sorted({firms[t] for t in c.terminals if t in firms})
    return {
        "lat": c.lat,
        "lon": c.lon,
        "trucks": c.trucks,
        "visits": c.visits,
        "days": c.days,
        "dwell_seconds": c.dwell_seconds,
        "night_share": c.night_share,
        "first_seen": _utc(c.first_seen),
        "last_seen": _utc(c.last_seen),
        "terminals": list(c.terminals),
        "companies": companies,
        "nearest_known": c.nearest_known,
        "known_clearance_m": c.known_clearance_m,
    }


def _near_suspect(session: Session, lat: float, lon: float, radius_m: float) -> SuspectSite | None:
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(0.1, math.cos(math.radians(lat)))
    best: tuple[float, SuspectSite] | None = None
    for s in repo.suspects_in_box(session, lat, lon, dlat, dlon):
        d = haversine_m(lat, lon, s.lat, s.lon)
        if d <= radius_m and (best is None or d < best[0]):
            best = (d, s)
    return best[1] if best else None


@dataclass(frozen=True, slots=True)
class _GridHit:
    """The enforcement grid whose area holds a point, and its lane (the city safety
    station's unit for its metro and municipal grids, None for the district's own)."""

    grid_id: int
    code: str
    lane: int | None


def _grid_at(
    session: Session, district_id: int, lat: float, lon: float, reach_m: float
) -> _GridHit | None:
    """The enforcement grid whose area holds the point: the grid of the nearest of its active
    sites within ``reach_m``; None outside every grid's area."""
    best: tuple[float, _GridHit] | None = None
    for gid, code, lane, slat, slon in repo.enforcement_grid_sites(session, district_id):
        d = haversine_m(lat, lon, slat, slon)
        if d <= reach_m and (best is None or d < best[0]):
            best = (d, _GridHit(int(gid), str(code), int(lane) if lane is not None else None))
    return best[1] if best else None


def _routed_unit(session: Session, district_id: int, hit: _GridHit | None) -> int | None:
    """Who decides a push (L2): the city safety station when the push lies in one of its
    grids' areas (seed 000 §3(二) 一: metro and municipal works are its grid's), else the
    bureau of the district that contains it."""
    if hit is not None and hit.lane is not None:
        return hit.lane
    return org_repo.district_bureau_id(session, district_id)


@dataclass(slots=True)
class _Counts:
    pushed: int = 0
    refreshed: int = 0
    outside: int = 0


def _push(
    session: Session,
    s: pure.Suspect,
    day: date,
    cols: dict[str, Any],
    *,
    now: datetime,
    settings: Settings,
    loop: CityBrainLoopPolicy,
    policy: TrajectoryPolicy,
) -> SuspectSite | None:
    """A new suspect: a City Brain case routed to the L2 unit of the grid whose area holds
    it (``_routed_unit``: the city safety station in its grids, else the district bureau);
    None outside every district (nobody to confirm it)."""
    c = s.cluster
    district_id = _district_at(session, c.lat, c.lon)
    if district_id is None:
        return None
    hit = _grid_at(session, district_id, c.lat, c.lon, loop.grid_reach_m)
    unit_id = _routed_unit(session, district_id, hit)
    if unit_id is None:
        return None
    grid_id, grid_code = (hit.grid_id, hit.code) if hit else (None, None)
    prefix = f"CB-{day:%Y%m%d}-"
    ref = f"{prefix}{repo.next_ref_number(session, prefix):04d}"
    evidence = {"ref": ref, "score": s.score, **s.as_json(policy), "companies": cols["companies"]}
    case, _ = intake.raise_case(
        session,
        source=CaseSource.city_brain,
        category=CATEGORY,
        description=Msg(
            "trajectories.case.description", {"trucks": c.trucks, "days": c.days, "ref": ref}
        ),
        severity="high",
        location=(c.lat, c.lon),
        dedup=False,
        evidence=evidence,
        external_ref=ref,
        now=now,
        settings=settings,
    )
    citybrain.route(
        session,
        case,
        unit_id=unit_id,
        unit_name=repo.unit_name(session, unit_id),
        grid_id=grid_id,
        grid_code=grid_code,
        now=now,
        settings=settings,
    )
    row = SuspectSite(
        ref=ref,
        status=SuspectStatus.pushed,
        score=s.score,
        detected_on=day,
        last_detected_on=day,
        district_id=district_id,
        unit_id=unit_id,
        grid_id=grid_id,
        case_id=case.id,
        pushed_at=now,
        due_at=case.due_at or now + timedelta(hours=24),
        policy_version=policy.version,
        **cols,
    )
    session.add(row)
    session.flush()
    _notify_pushed(session, row, case_id=case.id, settings=settings, now=now)
    return row


PUSHED_NOTICE = "trajectories.notice.pushed"


def _notify_pushed(
    session: Session, s: SuspectSite, *, case_id: int, settings: Settings, now: datetime
) -> None:
    """The district grid hears of a new push: the admins of the unit it was routed to and
    the officers of the grid whose area holds it (in-app, and the outbound channels)."""
    assert s.unit_id is not None
    who = citybrain.audience(session, unit_id=s.unit_id, grid_id=s.grid_id)
    if not who:
        return
    notifications.notify(
        session,
        user_ids=who,
        kind=citybrain.ROUTED,
        message_key=PUSHED_NOTICE,
        params={
            "ref": s.ref,
            "trucks": s.trucks,
            "days": s.days,
            "due": people_time(s.due_at, ZoneInfo(settings.timezone)),
        },
        link=f"/citybrain/suspects/{s.id}",
        case_id=case_id,
        now=now,
        settings=settings,
    )


def run_day(
    session: Session,
    day: date,
    *,
    settings: Settings,
    now: datetime,
    policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY,
    loop: CityBrainLoopPolicy = DEFAULT_CITY_BRAIN_LOOP_POLICY,
) -> RunOut:
    """Detect ``day``, keep its summaries, push its new suspects (idempotent per day)."""
    firms = repo.companies(session)
    det = detect_day(
        store_of(settings, policy), day, detection_places(session), policy, companies=firms
    )
    truck_days, stay_rows = _stays_rows(det.stays)
    suspect_keys = {(x.cluster.lat, x.cluster.lon): x for x in det.suspects}
    cluster_rows = []
    for c in det.clusters:
        hit = suspect_keys.get((c.lat, c.lon))
        cluster_rows.append(
            {
                "day": day,
                "is_suspect": hit is not None,
                "score": hit.score if hit else None,
                "suspect_id": None,
                **_evidence_columns(c, firms),
            }
        )
    counts = _Counts()
    by_key: dict[tuple[float, float], int] = {}
    for s in det.suspects:
        cols = _evidence_columns(s.cluster, firms)
        existing = _near_suspect(session, s.cluster.lat, s.cluster.lon, loop.near_existing_m)
        if existing is not None:
            if existing.status == SuspectStatus.pushed:
                for k, v in cols.items():
                    setattr(existing, k, v)
                existing.score = max(existing.score, s.score)
            existing.last_detected_on = max(existing.last_detected_on, day)
            by_key[(s.cluster.lat, s.cluster.lon)] = existing.id
            counts.refreshed += 1
            continue
        row = _push(session, s, day, cols, now=now, settings=settings, loop=loop, policy=policy)
        if row is None:
            counts.outside += 1
            continue
        by_key[(s.cluster.lat, s.cluster.lon)] = row.id
        counts.pushed += 1
    for r in cluster_rows:
        r["suspect_id"] = by_key.get((r["lat"], r["lon"]))
    repo.replace_day(session, day, truck_days, stay_rows, cluster_rows)
    return RunOut(
        day=day,
        stays=len(stay_rows),
        truck_days=len(truck_days),
        clusters=len(det.clusters),
        suspects=len(det.suspects),
        pushed=counts.pushed,
        refreshed=counts.refreshed,
        skipped_outside=counts.outside,
    )


def run_once(session: Session, day: date, *, settings: Settings, now: datetime) -> RunOut | None:
    """The scheduled run of ``day``: None when that day has already been run."""
    from dustgrid.trajectories.models import DetectionRun

    if session.get(DetectionRun, day) is not None:
        return None
    report = run_day(session, day, settings=settings, now=now)
    session.add(DetectionRun(day=day, ran_at=now, report=report.model_dump(mode="json")))
    session.flush()
    return report


def yesterday(now: datetime, settings: Settings) -> date:
    return (now.astimezone(ZoneInfo(settings.timezone)) - timedelta(days=1)).date()


# --------------------------------------------------------------------------- reading


def _district_names(session: Session) -> dict[int, str]:
    return org_repo.district_names(session)


def evidence_of(session: Session, s: SuspectSite) -> Evidence:
    plates = repo.plates(session, s.terminals or [])
    return Evidence(
        trucks=s.trucks,
        visits=s.visits,
        days=s.days,
        dwell_minutes=round(s.dwell_seconds / 60.0, 1),
        night_share=round(s.night_share, 3),
        first_seen=s.first_seen,
        last_seen=s.last_seen,
        companies=list(s.companies or []),
        plates=sorted(plates.get(t, t) for t in (s.terminals or [])),
        nearest_known=s.nearest_known,
        known_clearance_m=round(s.known_clearance_m, 1)
        if s.known_clearance_m is not None
        else None,
    )


def suspect_out(
    session: Session,
    s: SuspectSite,
    now: datetime,
    names: dict[int, str] | None = None,
    units: dict[int, str] | None = None,
) -> SuspectOut:
    names = names if names is not None else _district_names(session)
    units = units if units is not None else repo.l2_unit_names(session)
    return SuspectOut(
        id=s.id,
        ref=s.ref,
        status=s.status,
        score=s.score,
        lat=s.lat,
        lon=s.lon,
        district_id=s.district_id,
        district_name=names.get(s.district_id or 0, ""),
        unit_id=s.unit_id,
        unit_name=units.get(s.unit_id or 0, ""),
        grid_id=s.grid_id,
        case_id=s.case_id,
        detected_on=s.detected_on,
        last_detected_on=s.last_detected_on,
        pushed_at=s.pushed_at,
        due_at=s.due_at,
        overdue=s.status == SuspectStatus.pushed and now > s.due_at,
        evidence=evidence_of(session, s),
        verdict_at=s.verdict_at,
        verdict_by=s.verdict_by_name,
        dismiss_reason=s.dismiss_reason,
        verdict_text=s.verdict_text,
        site_id=s.site_id,
        known_place_id=s.known_place_id,
    )


def suspects_out(session: Session, rows: Sequence[SuspectSite], now: datetime) -> list[SuspectOut]:
    """``suspect_out`` of many rows, the district and unit names read once."""
    names, units = _district_names(session), repo.l2_unit_names(session)
    return [suspect_out(session, s, now, names, units) for s in rows]


def list_suspects(
    session: Session,
    principal: Principal,
    *,
    status: SuspectStatus | None = None,
    district_id: int | None = None,
) -> list[SuspectSite]:
    return repo.suspects(session, principal, status=status, district_id=district_id)


def get_suspect(
    session: Session, principal: Principal, suspect_id: int, *, lock: bool = False
) -> SuspectSite:
    s = repo.suspect_visible(session, principal, suspect_id, lock=lock)
    if s is None:
        raise NotFound(Msg("trajectories.error.suspect_not_found"))
    return s


def suspect_visits(session: Session, s: SuspectSite, radius_m: float) -> list[Any]:
    """The stays kept in the database near the suspect over its active days."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = dlat / max(0.1, math.cos(math.radians(s.lat)))
    first = (s.first_seen - timedelta(days=1)).date()
    return [
        v
        for v in repo.stays_near(session, s.lat, s.lon, dlat, dlon, first, s.last_detected_on)
        if haversine_m(s.lat, s.lon, v.lat, v.lon) <= radius_m
    ]


def tracks(
    settings: Settings,
    s: SuspectSite,
    days: Sequence[date],
    limit_trucks: int = 12,
    policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY,
) -> dict[str, list[list[float]]]:
    """Tracks (lat, lon per fix, thinned) of the suspect's trucks on ``days``, from the store."""
    wanted = set(list(s.terminals or [])[:limit_trucks])
    store = store_of(settings, policy)
    out: dict[str, list[list[float]]] = {}
    from dustgrid.trajectories.store import terminal_buckets

    for day in days:
        if not wanted:
            break
        names = tuple(sorted(wanted))
        buckets = set(terminal_buckets(names, policy.storage_buckets).tolist())
        for b in sorted(buckets):
            fixes = store.read(day, int(b))
            for i, name in enumerate(fixes.terminals):
                if name not in wanted:
                    continue
                sel = fixes.terminal == i
                order = np.argsort(fixes.t[sel])
                lat, lon = fixes.lat[sel][order], fixes.lon[sel][order]
                step = max(1, len(lat) // 400)
                pts = [
                    [round(float(a), 6), round(float(o), 6)]
                    for a, o in zip(lat[::step], lon[::step], strict=True)
                ]
                out.setdefault(f"{name}|{day.isoformat()}", []).extend(pts)
    return out


def heat(
    session: Session, day: date, loop: CityBrainLoopPolicy = DEFAULT_CITY_BRAIN_LOOP_POLICY
) -> list[dict[str, Any]]:
    return [
        {"lat": float(a), "lon": float(o), "n": int(n)}
        for a, o, n, _ in repo.stay_cells(session, day, loop.heat_cell_deg, loop.heat_max_cells)
    ]


def heat_days(session: Session) -> list[date]:
    return repo.stay_days(session)


def queue(session: Session, principal: Principal, now: datetime) -> list[dict[str, Any]]:
    names = _district_names(session)
    return [
        {
            "district_id": d,
            "district_name": names.get(d or 0, ""),
            "waiting": int(n),
            "overdue": int(o or 0),
            "next_due_at": first,  # the district's most urgent 24-hour clock
        }
        for d, n, o, first in repo.queue_counts(session, principal, now)
    ]


# --------------------------------------------------------------------------- verdicts


def _may_decide(principal: Principal, s: SuspectSite) -> None:
    """The grid's L2 unit decides: an admin of the unit the push was routed to (the district
    bureau, or the city safety station for a push in one of its grids); nobody else, not
    the city, not the district bureau of a station push (it still sees it)."""
    if principal.role != Role.district_admin or principal.org_unit_id != s.unit_id:
        raise Forbidden(Msg("trajectories.error.verdict_role"))
    if s.status != SuspectStatus.pushed:
        from dustgrid.errors import Conflict

        raise Conflict(
            Msg(
                "trajectories.error.already_decided",
                {"status": Msg(f"trajectories.status.{s.status.value}")},
            )
        )


def is_station_push(session: Session, s: SuspectSite) -> bool:
    """Whether the push was routed to the city safety station (its metro and municipal
    grids) rather than to a district bureau."""
    return grids_repo.lane_of(session, GridKind.enforcement, s.unit_id) is not None


@dataclass(frozen=True, slots=True)
class KindChoice:
    """The kinds of works a confirmed site may be, and the one offered first."""

    kinds: list[SiteKind]
    default: SiteKind


def kind_choice(session: Session, s: SuspectSite) -> KindChoice:
    """What the unit the push was routed to supervises (the confirm form's choices): the
    station's metro and municipal works, the district's other works; one look-up of whose
    push it is, for the form and the verdict alike."""
    station = is_station_push(session, s)
    kinds = [k for k in SiteKind if (k in sites.CITY_STATION_KINDS) == station]
    return KindChoice(kinds, STATION_SITE_KIND if station else DISTRICT_SITE_KIND)


def _site_kind(
    session: Session, s: SuspectSite, district_id: int, unit_id: int, asked: SiteKind | None
) -> SiteKind:
    """The confirmed site's kind: as asked when the unit deciding supervises that kind of
    works (``sites.default_l2_unit``: the station its metro and municipal works), by
    default the unit's own default kind."""
    kind = asked or kind_choice(session, s).default
    if sites.default_l2_unit(session, district_id=district_id, kind=kind) != unit_id:
        raise Invalid(
            Msg(
                "trajectories.error.kind_not_supervised", {"unit": repo.unit_name(session, unit_id)}
            ),
            details={"field": "kind"},
        )
    return kind


def _grid_fits(session: Session, s: SuspectSite, unit_id: int) -> bool:
    """Whether the new site can join the enforcement grid whose area held the push (seed
    000 §1: a site the City Brain finds in an enforcement area joins that grid): the grid
    still exists, in the push's district and the deciding unit's lane."""
    if s.grid_id is None:
        return False
    grid = session.get(Grid, s.grid_id)
    if grid is None or grid.kind != GridKind.enforcement or grid.district_id != s.district_id:
        return False
    return grids_repo.grid_lane(session, grid) == grids_repo.lane_of(
        session, GridKind.enforcement, unit_id
    )


def _verdict(
    s: SuspectSite, principal: Principal, now: datetime, status: SuspectStatus, text: str
) -> None:
    s.status, s.verdict_at = status, now
    s.verdict_by_id, s.verdict_by_name = principal.user_id, principal.display_name
    s.verdict_text = text


def confirm(
    session: Session,
    principal: Principal,
    suspect_id: int,
    data: ConfirmIn,
    *,
    settings: Settings,
    now: datetime,
) -> SuspectSite:
    """The place is an unpermitted site: it enters the ledger marked 确认未批先建 and the
    City Brain case becomes its enforcement case (accepted by the district)."""
    s = get_suspect(session, principal, suspect_id, lock=True)
    _may_decide(principal, s)
    if s.district_id is None or s.case_id is None or s.unit_id is None:
        raise Invalid(Msg("trajectories.error.no_case"))
    name = (data.name or "").strip() or Msg("trajectories.site_name", {"ref": s.ref}).render()
    kind = _site_kind(session, s, s.district_id, s.unit_id, data.kind)
    fields = SiteCreate(
        project_code=s.ref,
        name=name,
        kind=kind,
        district_id=s.district_id,
        l2_unit_id=s.unit_id,
        lat=s.lat,
        lon=s.lon,
        stage=data.stage,
        permit_status=PermitStatus.confirmed_unpermitted,
        area_m2=DEFAULT_CITY_BRAIN_LOOP_POLICY.confirmed_area_m2,
    )
    if _grid_fits(session, s, s.unit_id):
        fields.enforcement_grid_id = s.grid_id
    site = sites.create_site(session, principal, fields)
    case = cases.get_case(session, principal, s.case_id, lock=True)
    citybrain.confirm(
        session,
        case,
        actor=principal,
        site_id=site.id,
        responsible_id=data.responsible_id or principal.user_id,
        text=(data.note or "").strip(),
        now=now,
        settings=settings,
    )
    _verdict(s, principal, now, SuspectStatus.confirmed, (data.note or "").strip())
    s.site_id = site.id
    _after_verdict(session, principal, s, now)
    return s


def dismiss(
    session: Session,
    principal: Principal,
    suspect_id: int,
    data: DismissIn,
    *,
    settings: Settings,
    now: datetime,
    loop: CityBrainLoopPolicy = DEFAULT_CITY_BRAIN_LOOP_POLICY,
) -> SuspectSite:
    """Not an unpermitted site: the place becomes a known place and the case closes."""
    s = get_suspect(session, principal, suspect_id, lock=True)
    _may_decide(principal, s)
    text = (data.text or "").strip()
    if data.reason == DismissReason.other and not text:
        raise Invalid(Msg("trajectories.error.other_needs_text"), details={"field": "text"})
    reason_text = Msg(f"trajectories.reason.{data.reason.value}").render()
    place = KnownPlace(
        name=f"{reason_text} {s.ref}",
        kind=DISMISSED_KIND[data.reason],
        lat=s.lat,
        lon=s.lon,
        radius_m=loop.dismissed_radius_m,
        district_id=s.district_id,
        note=text,
        suspect_id=s.id,
        active=True,
    )
    session.add(place)
    session.flush()
    if s.case_id is not None:
        case = cases.get_case(session, principal, s.case_id, lock=True)
        if case.state.value == "dispatched":
            citybrain.dismiss(
                session,
                case,
                actor=principal,
                reason=f"{reason_text}{'：' + text if text else ''}",
                now=now,
                settings=settings,
            )
    _verdict(s, principal, now, SuspectStatus.dismissed, text)
    s.dismiss_reason, s.known_place_id = data.reason, place.id
    _after_verdict(session, principal, s, now)
    return s


def _after_verdict(session: Session, principal: Principal, s: SuspectSite, now: datetime) -> None:
    session.flush()
    audit.record(
        session,
        actor=principal,
        action=f"citybrain.{s.status.value}",
        entity_type="traj_suspect",
        entity_id=s.id,
        changes={"status": ["pushed", s.status.value]},
        summary=f"城市大脑疑似点 {s.ref}：{s.status.value}",
    )
    enqueue(session, VERDICT_JOB, {"suspect_id": s.id})


def missing_from_ledger(
    session: Session, district_id: int, period: tuple[date, date], tz: str = "Asia/Shanghai"
) -> int:
    """Sites the district was missing from its ledger, found in ``period`` (local days, both
    included): the City Brain pushes it confirmed as unpermitted (for the monthly
    assessment: each is a site the district's own ledger did not have)."""
    first, last = period
    zone = ZoneInfo(tz)
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)
    return repo.confirmed_count(session, district_id, start, end)


# --------------------------------------------------------------------------- feedback


def feedback_item(session: Session, s: SuspectSite) -> FeedbackItem:
    assert s.verdict_at is not None
    return FeedbackItem(
        suspect_id=s.id,
        ref=s.ref,
        case_id=s.case_id,
        verdict=s.status,
        reason=s.dismiss_reason,
        text=s.verdict_text,
        person=s.verdict_by_name,
        at=s.verdict_at,
        lat=s.lat,
        lon=s.lon,
        site_id=s.site_id,
        evidence=evidence_of(session, s),
    )


def feedback(session: Session, since: datetime | None, limit: int = FEEDBACK_LIMIT) -> FeedbackPage:
    rows = repo.verdicts_since(session, since, limit)
    items = [feedback_item(session, s) for s in rows]
    return FeedbackPage(items=items, next_since=items[-1].at if items else since)


def suspect_row(session: Session, suspect_id: int) -> SuspectSite | None:
    return repo.suspect_visible(session, None, suspect_id)


def local_day_of(epoch_s: int, policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY) -> date:
    return _local_day((epoch_s + policy.utc_offset_seconds) // SECONDS_PER_DAY)
