"""Two closed months of records for the demo city, so the monthly assessment has content.

For the two calendar months before today it writes, in bulk and deterministically:
- every grid group's patrol plan days and visits (officer pairs cover their grid each
  fortnight, each officer filing their own visit record, now and then only one of the
  pair; inspector pairs each week), with a few missed stops;
- per L2 unit a handful of cases the city dispatched (most closed in time, some late,
  most with the result's photo on file), a sensor case at a site a group had just passed
  (信息漏报) now and then, and a City Brain find of an unregistered site;
- the demo's dust monitors under the demo provider, in service before the months, with
  offline periods of various repair times, and four cameras registered at 1920×1080 /
  704×576 whose weekly stream checks measure what they send: one main stream at
  1280×720, one sub stream at 640×480 from the second month (below the lines);
- each site's grade as of the first month (its current grade, dated back);
then closes both months (scored from those records, frozen). Everything it writes is
closed or ended, so today's pages (open cases, grades, online devices) are unchanged.
"""

from __future__ import annotations

import hashlib
import io
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert
from sqlalchemy.orm import Session

from dustgrid.assessments import repository as arepo
from dustgrid.assessments import service as assessments
from dustgrid.assessments.months import Month
from dustgrid.cases.attachments import path_for, write_file
from dustgrid.cases.events import new_event
from dustgrid.cases.models import Case, CaseAttachment
from dustgrid.cases.states import CaseSource, CaseState
from dustgrid.config import Settings
from dustgrid.devices.models import CameraStreamCheck, Device, DeviceKind, OfflinePeriod
from dustgrid.devices.states import Lifecycle
from dustgrid.grids.models import GridKind
from dustgrid.inspections import repository as irepo
from dustgrid.inspections.checklist import template_for
from dustgrid.inspections.grading.models import SiteGradeHistory
from dustgrid.inspections.models import (
    Inspection,
    InspectionItem,
    InspectionMode,
    InspectionResult,
    ItemOutcome,
)
from dustgrid.patrols.models import PatrolPlan, PatrolStop
from dustgrid.patrols.policy import DEFAULT_PATROL_POLICY

MONTHS = 2
MISS_SHARE = 0.03  # planned stops not visited
LATE_SHARE = 0.2  # dispatched cases closed after their month
NO_PHOTO_SHARE = 0.1  # closed cases without the result on file
MISSED_REPORT_SHARE = 0.3  # units with a sensor case at a site just passed
SOLO_SHARE = 0.06  # officers' stops where only one of the pair filed a visit record
CAMERAS = 4  # demo cameras, at the first monitors' sites
# what the weekly stream checks measure: (main, sub) per camera, and from which month on
# (0: both months) a camera sends less than it was registered with
REGISTERED = ((1920, 1080), (704, 576))
MEASURED = {1: (((1280, 720), (704, 576)), 0), 2: (((1920, 1080), (640, 480)), 1)}
KEY = "demo-assess"


@dataclass
class _Ctx:
    s: Session
    rng: random.Random
    tz: ZoneInfo
    settings: Settings

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=self.tz)


def _workdays(first: date, last: date) -> list[date]:
    n = (last - first).days + 1
    return [
        first + timedelta(days=k) for k in range(n) if (first + timedelta(days=k)).weekday() < 5
    ]


def add_assessment_history(
    session: Session, settings: Settings, now: datetime, seed: int = 1
) -> list[str]:
    """Write the two months' records and close them; returns the months closed."""
    ctx = _Ctx(session, random.Random(seed * 104729 + 7), ZoneInfo(settings.timezone), settings)
    this = Month.of(now.astimezone(ctx.tz).date())
    months = [this.previous.previous, this.previous]
    first, last = months[0].first, months[-1].last
    points = {p.id: p for p in irepo.site_points(session)}
    passed = _patrols(ctx, first, last, points)
    _cases(ctx, months, passed)
    _devices(ctx, first, last)
    _stream_checks(ctx, months, now)
    _grades_back(ctx, first)
    session.flush()
    for m in months:
        assessments.close(session, m, settings, now=now)
    return [str(m) for m in months]


# ---------------------------------------------------------------------------- patrols


def _patrols(
    ctx: _Ctx, first: date, last: date, points: dict[int, Any]
) -> list[tuple[int, datetime]]:
    """Plans and visits of every group; returns (site, when) of each passed visit."""
    visits: list[dict[str, Any]] = []
    stops: list[tuple[PatrolPlan, list[dict[str, Any]]]] = []
    for kind in (GridKind.enforcement, GridKind.inspector):
        groups = arepo.groups(ctx.s, kind)
        people = arepo.members(ctx.s, [g.group_id for g in groups])
        sites = arepo.grid_sites(ctx.s, kind, ctx.at(last, 23))
        for g in groups:
            crew = sorted(people.get(g.group_id, set()))
            if crew and sites.get(g.grid_id):
                _group_periods(ctx, g, kind, crew, sites[g.grid_id], first, last, visits, stops)
    ctx.s.add_all([plan for plan, _ in stops])
    ctx.s.flush()
    ctx.s.execute(insert(PatrolStop), [
        {**row, "plan_id": plan.id} for plan, rows in stops for row in rows
    ])  # fmt: skip
    _write_visits(ctx, visits, points)
    return [(v["site_id"], v["submitted_at"]) for v in visits]


def _group_periods(
    ctx: _Ctx, g: arepo.GroupRow, kind: GridKind, crew: list[int], sites: list[int],
    first: date, last: date, visits: list[dict[str, Any]],
    stops: list[tuple[PatrolPlan, list[dict[str, Any]]]],
) -> None:  # fmt: skip
    days = 14 if kind == GridKind.enforcement else 7
    for start in _period_starts(first, last, days):
        end = start + timedelta(days=days - 1)
        work = [d for d in _workdays(start, end) if first <= d <= last]
        plan = PatrolPlan(
            grid_id=g.grid_id, group_id=g.group_id, period_start=start, period_end=end,
            kind="fortnightly" if days == 14 else "weekly", policy_version="2026.1",
            shortfall=0, shortfall_site_ids=[],
        )  # fmt: skip
        rows = _assign(ctx, g, kind, crew, sites, work, visits)
        if rows:
            stops.append((plan, rows))


def _period_starts(first: date, last: date, days: int) -> list[date]:
    """Periods (on the planner's fortnight anchor, a Monday) that end by ``last``: the
    current period is left to the planner."""
    anchor = DEFAULT_PATROL_POLICY.fortnight_anchor
    start = anchor + timedelta(days=(first - anchor).days // days * days)
    out = []
    while start + timedelta(days=days - 1) <= last:
        out.append(start)
        start += timedelta(days=days)
    return out


def _assign(
    ctx: _Ctx, g: arepo.GroupRow, kind: GridKind, crew: list[int], sites: list[int],
    work: list[date], visits: list[dict[str, Any]],
) -> list[dict[str, Any]]:  # fmt: skip
    """Spread the grid's sites over the period's working days (officers together, each
    inspector their own share), visiting all but a few."""
    if not work:
        return []
    order = ctx.rng.sample(sites, len(sites))
    lanes = [None] if kind == GridKind.enforcement else crew
    rows = []
    for n, site in enumerate(order):
        day = work[n % len(work)]
        lane = lanes[(n // len(work)) % len(lanes)]
        seq = n // (len(work) * len(lanes)) + 1
        rows.append({"member_user_id": lane, "day": day, "seq": seq, "site_id": site})
        if ctx.rng.random() >= MISS_SHARE:
            for who in _filers(ctx, lane, crew, n):
                visits.append(_visit(ctx, g, kind, who, site, day, seq))
    return rows


def _filers(ctx: _Ctx, lane: int | None, crew: list[int], n: int) -> list[int]:
    """Who files the visit: the inspector of the lane; each officer of a pair walking
    together files their own, now and then only one of them (their own score counts the
    visits they filed)."""
    if lane is not None:
        return [lane]
    if ctx.rng.random() < SOLO_SHARE:
        return [crew[n % len(crew)]]
    return list(crew)


def _visit(
    ctx: _Ctx, g: arepo.GroupRow, kind: GridKind, who: int, site: int, day: date, seq: int
) -> dict[str, Any]:
    at = ctx.at(day, 8, 30) + timedelta(minutes=40 * seq)
    video = kind == GridKind.enforcement and ctx.rng.random() < 0.2
    return {
        "idempotency_key": f"{KEY}-{g.group_id}-{day.isoformat()}-{site}-{who}",
        "site_id": site, "inspector_id": who, "group_id": g.group_id,
        "mode": InspectionMode.video if video else InspectionMode.on_site,
        "result": InspectionResult.nothing_found, "template_version": template_for(day).version,
        "checked_in_at": at, "submitted_at": at + timedelta(minutes=20), "note": "",
        "created_at": at, "updated_at": at, "video": video,
    }  # fmt: skip


def _write_visits(ctx: _Ctx, visits: list[dict[str, Any]], points: dict[int, Any]) -> None:
    rows = []
    for v in visits:
        video = v.pop("video")
        p = None if video else points.get(v["site_id"])
        offset = ctx.rng.uniform(5, 150)
        on_site = p is not None
        rows.append({
            **v,
            "check_in_lat": p.lat + offset / 111_320.0 if p is not None else None,
            "check_in_lon": p.lon if p is not None else None,
            "check_in_accuracy_m": round(ctx.rng.uniform(6, 35), 1) if on_site else None,
            "check_in_distance_m": round(offset, 1) if on_site else None,
        })  # fmt: skip
    if not rows:
        return
    ctx.s.execute(insert(Inspection), rows)
    ctx.s.flush()
    ids = {key: vid for vid, key in irepo.demo_visits(ctx.s)}
    ctx.s.execute(insert(InspectionItem), [
        {"inspection_id": ids[v["idempotency_key"]], "item_code": code,
         "outcome": ItemOutcome.passed, "note": ""}
        for v in rows for code in template_for(v["checked_in_at"].date()).codes()
    ])  # fmt: skip


# ---------------------------------------------------------------------------- cases


def _photo(ctx: _Ctx) -> tuple[str, int]:
    """One small PNG on file, shared by every demo case's result (content-addressed)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 110)).save(buf, format="PNG")
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    write_file(ctx.s, path_for(ctx.settings, sha), data)
    return sha, len(data)


def _cases(ctx: _Ctx, months: Sequence[Month], passed: list[tuple[int, datetime]]) -> None:
    units = arepo.l2_units(ctx.s)
    by_unit = arepo.unit_site_ids(ctx.s)
    photo = _photo(ctx)
    for m in months:
        for u in units:
            sites = by_unit.get(u.unit_id, [])
            if sites:
                _unit_month(ctx, m, u, sites, photo, passed)


def _unit_month(
    ctx: _Ctx, m: Month, u: arepo.UnitRow, sites: list[int], photo: tuple[str, int],
    passed: list[tuple[int, datetime]],
) -> None:  # fmt: skip
    days = _workdays(m.first, m.last)
    for _ in range(ctx.rng.randint(3, 6)):
        day = ctx.rng.choice(days[:-3] or days)
        late = ctx.rng.random() < LATE_SHARE
        closed = ctx.at(day + timedelta(days=ctx.rng.randint(2, 6) + (30 if late else 0)), 16)
        _closed_case(
            ctx,
            u,
            ctx.rng.choice(sites),
            CaseSource.higher_assignment,
            "bare_soil_uncovered",
            ctx.at(day, 10),
            closed,
            photo,
            dispatched=True,
        )
    if ctx.rng.random() < MISSED_REPORT_SHARE:
        mine = set(sites)
        seen = [(s, t) for s, t in passed if s in mine and Month.of(t.date()) == m]
        if seen:
            site, when = ctx.rng.choice(seen)
            opened = when + timedelta(days=ctx.rng.randint(2, 9))
            _closed_case(
                ctx,
                u,
                site,
                CaseSource.sensor,
                "dust_exceedance",
                opened,
                opened + timedelta(days=2),
                photo,
                dispatched=False,
            )
    if ctx.rng.random() < 0.25:
        opened = ctx.at(ctx.rng.choice(days), 11)
        _closed_case(ctx, u, None, CaseSource.city_brain, "unpermitted_construction", opened,
                     opened + timedelta(days=5), photo, dispatched=True)  # fmt: skip


def _closed_case(
    ctx: _Ctx, u: arepo.UnitRow, site: int | None, source: CaseSource, category: str,
    opened: datetime, closed: datetime, photo: tuple[str, int], *, dispatched: bool,
) -> None:  # fmt: skip
    case = Case(
        source=source, state=CaseState.closed, site_id=site, district_id=u.district_id,
        category=category, description=_TEXT[category], severity="medium",
        assigned_unit_id=u.unit_id, dispatched_at=opened if dispatched else None,
        deadline_at=opened + timedelta(days=7) if dispatched else None,
        disposition="rectification", opened_at=opened, closed_at=closed,
        policy_version="demo", created_at=opened, updated_at=closed,
    )  # fmt: skip
    ctx.s.add(case)
    ctx.s.flush()
    steps = [("case.reported", None, "reported", opened),
             ("case.accepted", "accept", "handling", opened + timedelta(hours=2)),
             ("case.closed", "verify_pass", "closed", closed)]  # fmt: skip
    events = [
        new_event(case.id, k, actor=None, now=at, policy_version="demo", move=mv, to_state=to)
        for k, mv, to, at in steps
    ]
    ctx.s.add_all(events)
    if ctx.rng.random() >= NO_PHOTO_SHARE:
        ctx.s.flush()
        ctx.s.add(CaseAttachment(
            case_id=case.id, event_id=events[-1].id, kind="photo", filename="整改结果.png",
            mime="image/png", size=photo[1], sha256=photo[0], created_at=closed,
        ))  # fmt: skip


_TEXT = {
    "bare_soil_uncovered": "市级交办：裸土未覆盖",
    "dust_exceedance": "扬尘监测超标",
    "unpermitted_construction": "城市大脑发现疑似未批先建工地，经现场核实确认",
}


# ---------------------------------------------------------------------------- devices


def _devices(ctx: _Ctx, first: date, last: date) -> None:
    providers = arepo.providers(ctx.s)
    if not providers:
        return
    provider_id = providers[0][0]
    since = ctx.at(first - timedelta(days=30), 0)
    monitors = arepo.devices_of_kind(ctx.s, DeviceKind.dust_monitor)
    for d in monitors:
        d.provider_id = d.provider_id or provider_id
        d.activated_at = min(d.activated_at or since, since)
    for n, d in enumerate(monitors):
        if n % 3 == 0:
            _outage(ctx, d, first, last)
    _cameras(ctx, monitors[:CAMERAS], provider_id, since)


def _outage(ctx: _Ctx, d: Device, first: date, last: date) -> None:
    start = ctx.at(first + timedelta(days=ctx.rng.randint(0, (last - first).days - 20)), 7)
    repair = timedelta(days=ctx.rng.choice([1, 2, 3, 5, 9, 16]), hours=ctx.rng.randint(1, 8))
    ctx.s.add(OfflinePeriod(
        device_id=d.id, started_at=start, detected_at=start + timedelta(minutes=15),
        notified_at=start + timedelta(hours=1), ended_at=start + timedelta(hours=1) + repair,
        repair_seconds=int((repair + timedelta(hours=1)).total_seconds()),
    ))  # fmt: skip


def _cameras(ctx: _Ctx, near: Sequence[Device], provider_id: int, since: datetime) -> None:
    """Cameras registered with streams at the lines (what the form was typed with)."""
    (main_w, main_h), (sub_w, sub_h) = REGISTERED
    for n, d in enumerate(near):
        ctx.s.add(Device(
            mn=f"DEMOCAM{n + 1:04d}", kind=DeviceKind.video_camera, site_id=d.site_id,
            district_id=d.district_id, provider_id=provider_id, name="工地视频监控",
            model="DG-CAM-1", position="塔吊", lat=d.lat, lon=d.lon, lifecycle=Lifecycle.active,
            activated_at=since, online=True, main_stream_width=main_w,
            main_stream_height=main_h, sub_stream_width=sub_w, sub_stream_height=sub_h,
        ))  # fmt: skip


def _measured(n: int, month_index: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """What camera ``n``'s streams measure in the ``month_index``-th month (0, 1, …)."""
    low = MEASURED.get(n)
    return low[0] if low is not None and month_index >= low[1] else REGISTERED


def _stream_checks(ctx: _Ctx, months: Sequence[Month], now: datetime) -> None:
    """The simulated stream checker (a provider's checks, as ``POST /api/v1/cameras/{id}/
    stream-checks`` records them, measuring both streams): every check week's Monday of
    the months, and an hour ago. The checks of the months feed the providers' stream
    scores (two cameras send less than registered); an hour ago the second camera showed
    a black image, so the mandatory-device check opens "video unviewable"."""
    ctx.s.flush()
    cams = arepo.devices_of_kind(ctx.s, DeviceKind.video_camera)
    rows = []
    for n, d in enumerate(cams):
        for i, m in enumerate(months):
            for monday, _ in m.check_weeks():
                at = ctx.at(max(monday, m.first), 10)  # a week begun before: its 1st
                if at < now and (d.activated_at is None or d.activated_at <= at):
                    rows.append(_check(d.id, at, True, _measured(n, i)))
        ok = n != 1
        rows.append(_check(d.id, now - timedelta(hours=1), ok, _measured(n, len(months) - 1),
                           "" if ok else "画面黑屏"))  # fmt: skip
    ctx.s.add_all(rows)


def _check(
    device_id: int, at: datetime, ok: bool, size: tuple[tuple[int, int], tuple[int, int]],
    note: str = "",
) -> CameraStreamCheck:  # fmt: skip
    (main_w, main_h), (sub_w, sub_h) = size
    return CameraStreamCheck(
        device_id=device_id, checked_at=at, ok=ok, note=note, recorded_at=at,
        main_stream_width=main_w, main_stream_height=main_h,
        sub_stream_width=sub_w, sub_stream_height=sub_h,
    )  # fmt: skip


# ---------------------------------------------------------------------------- grades


def _grades_back(ctx: _Ctx, first: date) -> None:
    """Each site's first grade, dated back to before the months (its grade then)."""
    rows = arepo.first_grades(ctx.s)
    at = ctx.at(first - timedelta(days=1), 18)
    ctx.s.add_all([
        SiteGradeHistory(site_id=h.site_id, grade=h.grade, previous_grade=None,
                         policy_version=h.policy_version, reasons=list(h.reasons),
                         inspection_id=None, stale=False, changed_at=at, actor_id=None)
        for h in rows
    ])  # fmt: skip
