"""Every query of the assessment: the month's facts from the records, the stored scores
and appeals, and the scope clause of the stored scores.

The fact queries have no scope clause (the computation is system work that answers no
request); what a reader may see of the results is ``score_clause``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from dustgrid.assessments.models import (
    AssessmentAppeal,
    AssessmentMonth,
    AssessmentRun,
    AssessmentScore,
)
from dustgrid.auth.models import User
from dustgrid.cases.models import Case, CaseAttachment, CaseEvent
from dustgrid.cases.states import CaseSource, CaseState, Move
from dustgrid.devices import repository as device_repo
from dustgrid.devices.models import CameraStreamCheck, Device, DeviceKind, OfflinePeriod
from dustgrid.grids.models import Grid, GridGroup, GridGroupMember, GridKind
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.inspections.grading.models import SiteGradeHistory
from dustgrid.inspections.models import Inspection, InspectionResult
from dustgrid.org.models import OrgUnit, UnitKind
from dustgrid.patrols.models import PatrolPlan, PatrolStop
from dustgrid.sites.models import Enterprise, Site

# Moves that show a case was taken up (办理): accepted, or handled at once by the grid.
HANDLING_MOVES = (
    Move.accept.value,
    Move.fix_on_site.value,
    Move.order_rectification.value,
    Move.open_penalty.value,
    Move.grid_fix_on_site.value,
    Move.grid_order_rectification.value,
)
RECHECK_MOVES = (Move.recheck_pass.value, Move.recheck_fail.value)
# 信息漏报: a problem someone else found (a sensor, the hotline, the City Brain)
OUTSIDE_SOURCES = (
    CaseSource.sensor,
    CaseSource.hotline_12319,
    CaseSource.open311,
    CaseSource.city_brain,
)


# ---------------------------------------------------------------------------- parties


@dataclass(frozen=True, slots=True)
class UnitRow:
    unit_id: int
    name: str
    district_id: int | None


@dataclass(frozen=True, slots=True)
class GroupRow:
    group_id: int
    name: str
    grid_id: int
    grid_code: str
    grid_kind: str
    district_id: int
    l2_unit_id: int | None  # the L2 unit answering for the grid (officer groups)


def l2_units(session: Session) -> list[UnitRow]:
    stmt = (
        select(OrgUnit.id, OrgUnit.name, OrgUnit.district_id)
        .where(OrgUnit.kind.in_([UnitKind.district_bureau, UnitKind.city_safety_station]))
        .order_by(OrgUnit.id)
    )
    return [UnitRow(r[0], r[1], r[2]) for r in session.execute(stmt)]


def groups(session: Session, kind: GridKind) -> list[GroupRow]:
    stmt = (
        select(
            GridGroup.id, GridGroup.name, Grid.id, Grid.code, Grid.district_id,
            OrgUnit.level, OrgUnit.id, OrgUnit.parent_id,
        )
        .join(Grid, Grid.id == GridGroup.grid_id)
        .outerjoin(OrgUnit, OrgUnit.id == Grid.unit_id)
        .where(Grid.kind == kind)
        .order_by(Grid.code, GridGroup.id)
    )  # fmt: skip
    out = []
    for gid, name, grid_id, code, district_id, level, unit_id, parent_id in session.execute(stmt):
        l2 = parent_id if level == 3 else unit_id if level == 2 else None
        out.append(GroupRow(gid, name, grid_id, code, kind.value, district_id, l2))
    return out


def members(session: Session, group_ids: Iterable[int]) -> dict[int, set[int]]:
    ids = list(group_ids)
    out: dict[int, set[int]] = defaultdict(set)
    if ids:
        stmt = select(GridGroupMember.group_id, GridGroupMember.user_id).where(
            GridGroupMember.group_id.in_(ids)
        )
        for gid, uid in session.execute(stmt):
            out[gid].add(uid)
    return out


def user_names(session: Session, user_ids: Iterable[int]) -> dict[int, str]:
    """Each user's display name (the officers' scores carry it)."""
    ids = sorted(set(user_ids))
    out: dict[int, str] = {}
    for chunk in _chunks(ids):
        stmt = select(User.id, User.display_name, User.username).where(User.id.in_(chunk))
        out.update({uid: name or username for uid, name, username in session.execute(stmt)})
    return out


def _active_at(end: datetime) -> ColumnElement[bool]:
    """Sites not retired by ``end``. The ledger's ``created_at`` is when a row was typed
    in, not when works began, so it does not bound the month (a ledger imported late
    still answers for the month's visits)."""
    return or_(Site.retired_at.is_(None), Site.retired_at >= end)


def grid_sites(session: Session, kind: GridKind, end: datetime) -> dict[int, list[int]]:
    """The sites of each grid of ``kind`` in service at ``end``."""
    column = Site.enforcement_grid_id if kind == GridKind.enforcement else Site.inspector_grid_id
    stmt = select(column, Site.id).where(column.is_not(None), _active_at(end)).order_by(Site.id)
    out: dict[int, list[int]] = defaultdict(list)
    for grid_id, site_id in session.execute(stmt):
        if grid_id is not None:
            out[grid_id].append(site_id)
    return out


# ---------------------------------------------------------------------------- L2 unit facts


@dataclass(frozen=True, slots=True)
class UnitCaseRow:
    case_id: int
    unit_id: int
    handled: bool
    closed: bool
    city_assigned: bool
    pushed: bool
    archived: bool


def _case_unit() -> ColumnElement[int]:
    return func.coalesce(Case.assigned_unit_id, Site.l2_unit_id)


def unit_cases(session: Session, start: datetime, end: datetime) -> list[UnitCaseRow]:
    """Cases each L2 unit held in the month: dispatched to it in the month, or opened at
    its sites in the month and never dispatched. Dismissed cases (no problem) are left out."""
    began = func.coalesce(Case.dispatched_at, Case.opened_at)
    stmt = (
        select(
            Case.id, _case_unit(), Case.closed_at, Case.dispatched_at, Case.source
        )
        .outerjoin(Site, Site.id == Case.site_id)
        .where(began >= start, began < end, _case_unit().is_not(None))
        .order_by(Case.id)
    )  # fmt: skip
    rows = list(session.execute(stmt))
    ids = [r[0] for r in rows]
    gone = dismissed(session, ids)
    handled = _with_move(session, ids, HANDLING_MOVES, end)
    filed = _with_attachment(session, ids)
    out = []
    for cid, unit_id, closed_at, dispatched_at, source in rows:
        if cid in gone:
            continue
        closed = closed_at is not None and closed_at < end
        out.append(
            UnitCaseRow(
                cid, unit_id, cid in handled or closed, closed, dispatched_at is not None,
                source == CaseSource.city_brain, cid in filed,
            )
        )  # fmt: skip
    return out


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for n in range(0, len(ids), size):
        yield ids[n : n + size]


def dismissed(session: Session, case_ids: Sequence[int]) -> set[int]:
    """Cases closed as no problem (the ``dismiss`` move)."""
    return _with_move(session, case_ids, (Move.dismiss.value,), None)


def _with_move(
    session: Session, case_ids: Sequence[int], moves: Sequence[str], before: datetime | None
) -> set[int]:
    out: set[int] = set()
    for chunk in _chunks(case_ids):
        stmt = select(CaseEvent.case_id).where(
            CaseEvent.case_id.in_(chunk), CaseEvent.move.in_(moves)
        )
        if before is not None:
            stmt = stmt.where(CaseEvent.at < before)
        out.update(session.scalars(stmt))
    return out


def _with_attachment(session: Session, case_ids: Sequence[int]) -> set[int]:
    out: set[int] = set()
    for chunk in _chunks(case_ids):
        out.update(
            session.scalars(select(CaseAttachment.case_id).where(CaseAttachment.case_id.in_(chunk)))
        )
    return out


def unit_grades(session: Session, end: datetime) -> dict[int, list[tuple[int, str]]]:
    """Each L2 unit's sites in service at ``end`` with their grade at ``end`` (the latest
    grade history row before it; sites never graded by then are left out)."""
    latest = (
        select(SiteGradeHistory.site_id, func.max(SiteGradeHistory.id).label("hid"))
        .where(SiteGradeHistory.changed_at < end)
        .group_by(SiteGradeHistory.site_id)
        .subquery()
    )
    stmt = (
        select(Site.l2_unit_id, Site.id, SiteGradeHistory.grade)
        .join(latest, latest.c.site_id == Site.id)
        .join(SiteGradeHistory, SiteGradeHistory.id == latest.c.hid)
        .where(_active_at(end), SiteGradeHistory.grade != "ungraded")
        .order_by(Site.id)
    )
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for unit_id, site_id, grade in session.execute(stmt):
        out[unit_id].append((site_id, str(grade)))
    return out


def _district_bureau_of_case() -> ColumnElement[int]:
    """The bureau of the district where the case lies (None without one)."""
    return (
        select(OrgUnit.id)
        .where(OrgUnit.kind == UnitKind.district_bureau, OrgUnit.district_id == Case.district_id)
        .correlate(Case)
        .limit(1)
        .scalar_subquery()
    )


def ledger_misses(session: Session, start: datetime, end: datetime) -> dict[int, list[int]]:
    """Sites missing from a district's ledger that the City Brain found: City Brain cases of
    suspected unpermitted works opened in the month and confirmed on the ground (acted on,
    not dismissed), counted for the bureau of the district where the place lies (seed 000
    §5: the ledger is the district's), also when the city safety station decided a push in
    one of its grids; the unit that held the case only where the district has no bureau.
    Kept small and alone: the City Brain loop may refine what "confirmed" means
    (docs/assessments.md)."""
    unit = func.coalesce(_district_bureau_of_case(), _case_unit())
    stmt = (
        select(Case.id, unit)
        .outerjoin(Site, Site.id == Case.site_id)
        .where(
            Case.source == CaseSource.city_brain,
            Case.category == "unpermitted_construction",
            Case.state != CaseState.reported,
            Case.opened_at >= start,
            Case.opened_at < end,
            unit.is_not(None),
        )
        .order_by(Case.id)
    )
    rows = list(session.execute(stmt))
    gone = dismissed(session, [r[0] for r in rows])
    out: dict[int, list[int]] = defaultdict(list)
    for cid, unit_id in rows:
        if cid not in gone:
            out[unit_id].append(cid)
    return out


# ---------------------------------------------------------------------------- group facts


@dataclass(frozen=True, slots=True)
class VisitRow:
    visit_id: int
    site_id: int
    inspector_id: int
    group_id: int | None
    mode: str
    submitted_at: datetime
    passed: bool


def visits(session: Session, start: datetime, end: datetime) -> list[VisitRow]:
    """Submitted visits (drafts left out) with ``start <= submitted_at < end``."""
    stmt = (
        select(
            Inspection.id, Inspection.site_id, Inspection.inspector_id, Inspection.group_id,
            Inspection.mode, Inspection.submitted_at, Inspection.result,
        )
        .where(
            Inspection.result != InspectionResult.draft,
            Inspection.submitted_at >= start,
            Inspection.submitted_at < end,
        )
        .order_by(Inspection.id)
    )  # fmt: skip
    return [
        VisitRow(r[0], r[1], r[2], r[3], str(r[4]), r[5], r[6] == InspectionResult.nothing_found)
        for r in session.execute(stmt)
        if r[5] is not None
    ]


@dataclass(frozen=True, slots=True)
class PlanDayRow:
    group_id: int
    plan_id: int
    day: date
    member_id: int | None
    stops: int


def plan_days(session: Session, first: date, last: date) -> list[PlanDayRow]:
    """Per plan, day and member, the number of planned stops, ``first <= day <= last``."""
    stmt = (
        select(
            PatrolPlan.group_id, PatrolStop.plan_id, PatrolStop.day, PatrolStop.member_user_id,
            func.count(),
        )
        .join(PatrolPlan, PatrolPlan.id == PatrolStop.plan_id)
        .where(PatrolStop.day >= first, PatrolStop.day <= last)
        .group_by(
            PatrolPlan.group_id, PatrolStop.plan_id, PatrolStop.day, PatrolStop.member_user_id
        )
        .order_by(PatrolStop.day)
    )  # fmt: skip
    return [PlanDayRow(r[0], r[1], r[2], r[3], int(r[4])) for r in session.execute(stmt)]


@dataclass(frozen=True, slots=True)
class ReportedRow:
    case_id: int
    reporter_id: int


def reported(session: Session, start: datetime, end: datetime) -> list[ReportedRow]:
    """Cases grid members reported in the month (officers and inspectors)."""
    stmt = (
        select(Case.id, Case.reporter_id)
        .where(
            Case.source.in_([CaseSource.enforcement_officer, CaseSource.third_party_inspector]),
            Case.reporter_id.is_not(None),
            Case.opened_at >= start,
            Case.opened_at < end,
        )
        .order_by(Case.id)
    )
    return [ReportedRow(r[0], r[1]) for r in session.execute(stmt) if r[1] is not None]


@dataclass(frozen=True, slots=True)
class DueRow:
    case_id: int
    holder_ids: tuple[int, ...]  # the responsible person, or the officer who handled it
    due: datetime
    closed_at: datetime | None


def cases_due(session: Session, start: datetime, end: datetime) -> list[DueRow]:
    """Cases whose deadline (L1's, else the rectification deadline) fell in the month."""
    due = func.coalesce(Case.deadline_at, Case.rectify_due_at)
    stmt = (
        select(Case.id, Case.responsible_user_id, Case.reporter_id, Case.grid_handled, due,
               Case.closed_at)
        .where(due >= start, due < end)
        .order_by(Case.id)
    )  # fmt: skip
    out = []
    for cid, resp, reporter, grid_handled, at, closed_at in session.execute(stmt):
        holders = tuple(u for u in (resp, reporter if grid_handled else None) if u is not None)
        if holders and at is not None:
            out.append(DueRow(cid, holders, at, closed_at))
    return out


@dataclass(frozen=True, slots=True)
class RecheckRow:
    case_id: int
    site_id: int
    due: datetime
    done: datetime | None


def rechecks_due(session: Session, start: datetime, end: datetime) -> list[RecheckRow]:
    """Rectification deadlines in the month, with the first recheck (复查) after them."""
    stmt = (
        select(Case.id, Case.site_id, Case.rectify_due_at)
        .where(Case.rectify_due_at >= start, Case.rectify_due_at < end, Case.site_id.is_not(None))
        .order_by(Case.id)
    )
    rows = [(r[0], r[1], r[2]) for r in session.execute(stmt) if r[1] is not None and r[2]]
    done: dict[int, datetime] = {}
    for chunk in _chunks([r[0] for r in rows]):
        ev = (
            select(CaseEvent.case_id, func.min(CaseEvent.at))
            .where(CaseEvent.case_id.in_(chunk), CaseEvent.move.in_(RECHECK_MOVES))
            .group_by(CaseEvent.case_id)
        )
        done.update({cid: at for cid, at in session.execute(ev)})
    return [RecheckRow(cid, sid, due, done.get(cid)) for cid, sid, due in rows]


@dataclass(frozen=True, slots=True)
class OutsideRow:
    case_id: int
    site_id: int
    opened_at: datetime


def outside_findings(session: Session, start: datetime, end: datetime) -> list[OutsideRow]:
    stmt = (
        select(Case.id, Case.site_id, Case.opened_at)
        .where(
            Case.source.in_(OUTSIDE_SOURCES),
            Case.site_id.is_not(None),
            Case.opened_at >= start,
            Case.opened_at < end,
        )
        .order_by(Case.id)
    )
    return [OutsideRow(r[0], r[1], r[2]) for r in session.execute(stmt) if r[1] is not None]


# ---------------------------------------------------------------------------- provider facts


@dataclass(frozen=True, slots=True)
class DeviceRow:
    device_id: int
    provider_id: int
    kind: str
    activated_at: datetime
    removed_at: datetime | None
    main: tuple[int, int] | None
    sub: tuple[int, int] | None


def providers(session: Session) -> list[tuple[int, str]]:
    """Enterprises that provide devices (by kind, or because devices name them)."""
    with_devices = select(Device.provider_id).where(Device.provider_id.is_not(None))
    stmt = (
        select(Enterprise.id, Enterprise.name)
        .where(or_(Enterprise.kind == "provider", Enterprise.id.in_(with_devices)))
        .order_by(Enterprise.id)
    )
    return [(r[0], r[1]) for r in session.execute(stmt)]


def _pair(w: int | None, h: int | None) -> tuple[int, int] | None:
    return (w, h) if w is not None and h is not None else None


def provider_devices(session: Session, start: datetime, end: datetime) -> list[DeviceRow]:
    """Devices in service some time in [start, end) (reference stations are the city's)."""
    stmt = (
        select(Device)
        .where(
            Device.provider_id.is_not(None),
            Device.kind != DeviceKind.reference_station,
            Device.activated_at.is_not(None),
            Device.activated_at < end,
            or_(Device.removed_at.is_(None), Device.removed_at > start),
        )
        .order_by(Device.id)
    )
    out = []
    for d in session.scalars(stmt):
        if d.provider_id is None or d.activated_at is None:
            continue
        out.append(
            DeviceRow(
                d.id, d.provider_id, str(d.kind), d.activated_at, d.removed_at,
                _pair(d.main_stream_width, d.main_stream_height),
                _pair(d.sub_stream_width, d.sub_stream_height),
            )
        )  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class MeasuredStream:
    """The latest stream check before an instant that measured a camera's stream."""

    device_id: int
    size: tuple[int, int]
    checked_at: datetime


def measured_streams(
    session: Session, device_ids: Sequence[int], before: datetime
) -> tuple[dict[int, MeasuredStream], dict[int, MeasuredStream]]:
    """Per camera, the latest measured main stream and the latest measured sub stream of
    the stream checks made before ``before`` (checks that did not measure are skipped)."""
    out: tuple[dict[int, MeasuredStream], dict[int, MeasuredStream]] = ({}, {})
    streams = (
        (CameraStreamCheck.main_stream_width, CameraStreamCheck.main_stream_height),
        (CameraStreamCheck.sub_stream_width, CameraStreamCheck.sub_stream_height),
    )
    for (width, height), found in zip(streams, out, strict=True):
        measured = (CameraStreamCheck.checked_at < before, width.is_not(None), height.is_not(None))
        for chunk in _chunks(list(device_ids)):
            for did, row in device_repo.latest_stream_checks(session, chunk, *measured).items():
                w, h = getattr(row, width.key), getattr(row, height.key)
                found[did] = MeasuredStream(did, (w, h), row.checked_at)
    return out


def offline_periods(
    session: Session, device_ids: Sequence[int], start: datetime, end: datetime
) -> list[OfflinePeriod]:
    """Offline periods overlapping [start, end) (open ones included)."""
    out: list[OfflinePeriod] = []
    for chunk in _chunks(list(device_ids)):
        stmt = (
            select(OfflinePeriod)
            .where(
                OfflinePeriod.device_id.in_(chunk),
                OfflinePeriod.started_at < end,
                or_(OfflinePeriod.ended_at.is_(None), OfflinePeriod.ended_at > start),
            )
            .order_by(OfflinePeriod.id)
        )
        out.extend(session.scalars(stmt))
    return out


def failing_months(session: Session, provider_id: int, months: Sequence[str], below: float) -> int:
    """Closed months among ``months`` whose current score of the provider is under ``below``."""
    if not months:
        return 0
    stmt = (
        select(func.count())
        .select_from(AssessmentScore)
        .join(
            AssessmentMonth,
            and_(
                AssessmentMonth.month == AssessmentScore.month,
                AssessmentMonth.version == AssessmentScore.version,
            ),
        )
        .where(
            AssessmentMonth.state == "closed",
            AssessmentScore.month.in_(list(months)),
            AssessmentScore.kind == "provider",
            AssessmentScore.party_id == provider_id,
            AssessmentScore.score < below,
        )
    )
    return int(session.scalar(stmt) or 0)


# ---------------------------------------------------------------------------- stored scores


def score_clause(p: Principal) -> ColumnElement[bool]:
    """Which stored scores ``p`` may read: L1 all; an L2 unit its own score and the parties
    it answers for (its officer groups and officers, the inspector groups of its district);
    L3 its grids' groups and officers; officers and inspectors their own group, an officer
    their own score too; a provider its own score."""
    if p.is_city_wide:
        return true()
    match p.role:
        case Role.district_admin | Role.viewer if p.unit_level == 2:
            own = or_(
                AssessmentScore.unit_id == p.org_unit_id,
                and_(
                    AssessmentScore.kind == "inspector_group",
                    AssessmentScore.district_id == p.district_id,
                ),
            )
            return own if p.district_id is not None else AssessmentScore.unit_id == p.org_unit_id
        case Role.station_staff:
            return and_(
                AssessmentScore.kind.in_(["officer_group", "officer", "inspector_group"]),
                AssessmentScore.grid_id.in_(sorted(p.grid_ids) or [-1]),
            )
        case Role.officer | Role.inspector:
            groups = and_(
                AssessmentScore.kind.in_(["officer_group", "inspector_group"]),
                AssessmentScore.grid_id.in_(sorted(p.grid_ids) or [-1]),
            )
            own = and_(AssessmentScore.kind == "officer", AssessmentScore.party_id == p.user_id)
            return or_(groups, own)
        case Role.provider if p.enterprise_id is not None:
            return and_(
                AssessmentScore.kind == "provider", AssessmentScore.party_id == p.enterprise_id
            )
    return false()


def month_row(session: Session, month: str) -> AssessmentMonth | None:
    return session.scalars(select(AssessmentMonth).where(AssessmentMonth.month == month)).first()


def add(session: Session, row: object) -> None:
    session.add(row)
    session.flush()


def add_scores(session: Session, rows: Sequence[AssessmentScore]) -> None:
    session.add_all(rows)
    session.flush()


def scores(
    session: Session,
    month: str,
    version: int,
    clause: ColumnElement[bool] | None = None,
    kind: str | None = None,
) -> list[AssessmentScore]:
    stmt = select(AssessmentScore).where(
        AssessmentScore.month == month, AssessmentScore.version == version
    )
    if clause is not None:
        stmt = stmt.where(clause)
    if kind is not None:
        stmt = stmt.where(AssessmentScore.kind == kind)
    stmt = stmt.order_by(AssessmentScore.kind, AssessmentScore.score, AssessmentScore.party_id)
    return list(session.scalars(stmt))


def score_history(
    session: Session, month: str, kind: str, party_id: int
) -> list[tuple[AssessmentScore, AssessmentRun]]:
    stmt = (
        select(AssessmentScore, AssessmentRun)
        .join(AssessmentRun, AssessmentRun.id == AssessmentScore.run_id)
        .where(
            AssessmentScore.month == month,
            AssessmentScore.kind == kind,
            AssessmentScore.party_id == party_id,
        )
        .order_by(AssessmentScore.version)
    )
    return [(row[0], row[1]) for row in session.execute(stmt)]


def runs(session: Session, month: str) -> list[AssessmentRun]:
    stmt = select(AssessmentRun).where(AssessmentRun.month == month).order_by(AssessmentRun.version)
    return list(session.scalars(stmt))


def appeals(
    session: Session, month: str, kind: str | None = None, party_id: int | None = None
) -> list[AssessmentAppeal]:
    stmt = select(AssessmentAppeal).where(AssessmentAppeal.month == month)
    if kind is not None:
        stmt = stmt.where(AssessmentAppeal.kind == kind)
    if party_id is not None:
        stmt = stmt.where(AssessmentAppeal.party_id == party_id)
    return list(session.scalars(stmt.order_by(AssessmentAppeal.id)))


def appeal(session: Session, appeal_id: int) -> AssessmentAppeal | None:
    return session.get(AssessmentAppeal, appeal_id)


def accepted_waivers(session: Session, month: str) -> list[AssessmentAppeal]:
    stmt = select(AssessmentAppeal).where(
        AssessmentAppeal.month == month, AssessmentAppeal.state == "accepted"
    )
    return list(session.scalars(stmt))


# ---------------------------------------------------------------------------- demo loader
# Reads of the demo's assessment history (``demo/assessments.py``): no scope, no request.


def unit_site_ids(session: Session) -> dict[int, list[int]]:
    """Each L2 unit's sites in service."""
    stmt = select(Site.l2_unit_id, Site.id).where(Site.retired_at.is_(None)).order_by(Site.id)
    out: dict[int, list[int]] = defaultdict(list)
    for unit_id, site_id in session.execute(stmt):
        out[unit_id].append(site_id)
    return out


def devices_of_kind(session: Session, kind: DeviceKind) -> list[Device]:
    stmt = select(Device).where(Device.kind == kind, Device.removed_at.is_(None))
    return list(session.scalars(stmt.order_by(Device.id)))


def first_grades(session: Session) -> list[SiteGradeHistory]:
    """Each site's earliest grade history row."""
    first = select(func.min(SiteGradeHistory.id)).group_by(SiteGradeHistory.site_id)
    stmt = select(SiteGradeHistory).where(SiteGradeHistory.id.in_(first))
    return list(session.scalars(stmt.order_by(SiteGradeHistory.site_id)))
