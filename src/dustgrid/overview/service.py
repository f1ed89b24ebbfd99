"""The overview's figures for one principal: the city (L1) or one district (L2 and below).

Definitions (``docs/overview.md``): the compliance rate is the share of graded sites that
are 基本达标 or 完全达标; the handling rate (办理率) the share of this month's cases that
someone has taken on (past dispatch and acceptance); the closure rate (办结率) the share of
them closed; a light is red past the case's due time and yellow past its warning time.
Districts are ranked by compliance rate, then closure rate, then online rate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy.orm import Session

from dustgrid.errors import NotFound
from dustgrid.identity.principal import Principal
from dustgrid.overview import repository as repo
from dustgrid.overview.policy import DEFAULT_OVERVIEW_POLICY, OverviewPolicy
from dustgrid.overview.schemas import DistrictRow, Overview, TrendPoint
from dustgrid.sites.models import Grade

LIGHTS = ("green", "yellow", "red")
COMPLIANT = (Grade.basic.value, Grade.full.value)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _local_midnight(now: datetime, tz: tzinfo) -> datetime:
    return datetime.combine(now.astimezone(tz).date(), time(), tz)


def _compliance(grades: dict[str, int]) -> float | None:
    graded = sum(n for g, n in grades.items() if g != Grade.ungraded.value)
    return _rate(sum(grades.get(g, 0) for g in COMPLIANT), graded)


class _Tally:
    """Per-district sums of the grouped rows the repository returns."""

    def __init__(self) -> None:
        self.grades: dict[int | None, dict[str, int]] = defaultdict(dict)
        self.monitors: dict[int | None, list[int]] = defaultdict(lambda: [0, 0])
        self.lights: dict[int | None, dict[str, int]] = defaultdict(dict)
        self.flow: dict[int | None, list[int]] = defaultdict(lambda: [0, 0, 0])

    def add_grades(self, rows: Iterable[tuple[int | None, object, int]]) -> None:
        for district, grade, n in rows:
            key = str(getattr(grade, "value", grade))
            self.grades[district][key] = self.grades[district].get(key, 0) + n

    def add_monitors(self, rows: Iterable[tuple[int | None, bool, int]]) -> None:
        for district, online, n in rows:
            self.monitors[district][0] += n
            self.monitors[district][1] += n if online else 0

    def add_lights(self, rows: Iterable[tuple[int | None, str, int]]) -> None:
        for district, light, n in rows:
            self.lights[district][light] = self.lights[district].get(light, 0) + n

    def add_flow(self, rows: Iterable[tuple[int | None, int, int, int]]) -> None:
        for district, received, handled, closed in rows:
            acc = self.flow[district]
            acc[0], acc[1], acc[2] = acc[0] + received, acc[1] + int(handled), acc[2] + int(closed)


def _sum_maps(maps: Iterable[dict[str, int]], keys: Iterable[str]) -> dict[str, int]:
    out = dict.fromkeys(keys, 0)
    for m in maps:
        for k, n in m.items():
            out[k] = out.get(k, 0) + n
    return out


def _district_rows(session: Session, p: Principal, tally: _Tally) -> list[DistrictRow]:
    rows = []
    for district_id, name, name_en in repo.districts(session, p):
        grades = _sum_maps([tally.grades.get(district_id, {})], [g.value for g in Grade])
        monitors, online = tally.monitors.get(district_id, [0, 0])
        lights = _sum_maps([tally.lights.get(district_id, {})], LIGHTS)
        received, handled, closed = tally.flow.get(district_id, [0, 0, 0])
        rows.append(
            DistrictRow(
                district_id=district_id,
                name=name,
                name_en=name_en,
                sites=sum(grades.values()),
                grades=grades,
                compliance_rate=_compliance(grades),
                monitors=monitors,
                online=online,
                online_rate=_rate(online, monitors),
                open_cases=sum(lights.values()),
                lights=lights,
                received=received,
                handling_rate=_rate(handled, received),
                closure_rate=_rate(closed, received),
                rank=0,
            )
        )
    ranked = sorted(
        rows,
        key=lambda r: (
            -(r.compliance_rate or 0.0),
            -(r.closure_rate or 0.0),
            -(r.online_rate or 0.0),
            r.name,
        ),
    )
    for place, row in enumerate(ranked, start=1):
        row.rank = place
    return ranked


def _trend(
    session: Session,
    p: Principal,
    since: datetime,
    district_id: int | None,
    days: int,
    tz: tzinfo,
) -> list[TrendPoint]:
    site_rows, reference_rows = repo.pm10_daily(session, p, since, district_id)

    def by_day(rows: list[tuple[datetime, float | None]]) -> dict[date, float | None]:
        return {start.astimezone(tz).date(): mean for start, mean in rows}

    sites, reference = by_day(site_rows), by_day(reference_rows)
    first = since.astimezone(tz).date()
    points = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        s, r = sites.get(day), reference.get(day)
        points.append(
            TrendPoint(
                day=day,
                sites=round(s, 1) if s is not None else None,
                reference=round(r, 1) if r is not None else None,
            )
        )
    return points


def overview(
    session: Session,
    p: Principal,
    *,
    now: datetime,
    tz: tzinfo,
    district_id: int | None = None,
    policy: OverviewPolicy = DEFAULT_OVERVIEW_POLICY,
) -> Overview:
    """The figures of the caller's scope, or of one district inside it (a district
    outside the scope is "not found", as if it did not exist). Days, today and this month
    are the city's: ``tz`` is its time zone (``Settings.timezone``)."""
    if district_id is not None and district_id not in {d for d, _, _ in repo.districts(session, p)}:
        raise NotFound("org.error.district_not_found", district_id=district_id)
    midnight = _local_midnight(now, tz)
    month_start = midnight.replace(day=1)
    tally = _Tally()
    tally.add_grades(repo.grades_by_district(session, p, district_id))
    tally.add_monitors(repo.monitors_by_district(session, p, district_id))
    tally.add_lights(repo.open_case_lights(session, p, now, district_id))
    tally.add_flow(repo.case_flow(session, p, month_start, district_id))
    alerts = repo.alerts_since(session, p, midnight, district_id)
    districts = [
        row
        for row in _district_rows(session, p, tally)
        if district_id is None or row.district_id == district_id
    ]
    grades = _sum_maps(tally.grades.values(), [g.value for g in Grade])
    lights = _sum_maps(tally.lights.values(), LIGHTS)
    monitors = sum(m[0] for m in tally.monitors.values())
    online = sum(m[1] for m in tally.monitors.values())
    received = sum(f[0] for f in tally.flow.values())
    handled = sum(f[1] for f in tally.flow.values())
    closed = sum(f[2] for f in tally.flow.values())
    return Overview(
        district_id=district_id,
        generated_at=now,
        month_start=month_start.date(),
        sites=sum(grades.values()),
        grades=grades,
        compliance_rate=_compliance(grades),
        monitors=monitors,
        online=online,
        online_rate=_rate(online, monitors),
        alerts_today=sum(n for _, n, _ in alerts),
        alerts_open_today=sum(int(o or 0) for _, _, o in alerts),
        alerts_by_kind={str(kind): n for kind, n, _ in alerts},
        open_cases=sum(lights.values()),
        lights=lights,
        received=received,
        handled=handled,
        closed=closed,
        handling_rate=_rate(handled, received),
        closure_rate=_rate(closed, received),
        districts=districts,
        trend=_trend(
            session,
            p,
            midnight - timedelta(days=policy.trend_days - 1),
            district_id,
            policy.trend_days,
            tz,
        ),
        refresh_seconds=policy.screen_refresh_seconds,
    )
