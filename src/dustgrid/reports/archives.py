"""Electronic archives (电子档案) from the records, in the reader's scope."""

from __future__ import annotations

from sqlalchemy.orm import Session

from dustgrid.errors import NotFound
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.org.models import OrgUnit
from dustgrid.reports import repository as repo
from dustgrid.reports.archive import Archive, Section
from dustgrid.reports.figures import monthly_stats
from dustgrid.reports.notice import t
from dustgrid.sites import service as sites
from dustgrid.workcal.calendar import people_time


def _alert_kind(kind: str) -> str:
    return t(f"alerts.kind.{kind.split(':', 1)[0]}")


def site_archive(session: Session, principal: Principal, site_id: int) -> Archive:
    """One site's archive: visits (with their photos), cases, grades, alerts, device
    offline periods. 404 outside the reader's scope (district its own, contractor its
    own sites)."""
    site = sites.get_site(session, principal, site_id)
    visits = [
        [i.id, people_time(i.checked_in_at), t(f"inspections.mode.{i.mode}"),
         t(f"inspections.result.{i.result}"), photos]
        for i, photos in repo.site_inspections(session, site.id)
    ]  # fmt: skip
    cases = [
        [c.id, people_time(c.opened_at), c.description[:60], t(f"case_state.{c.state}"),
         people_time(c.closed_at)]
        for c in repo.site_cases(session, site.id)
    ]  # fmt: skip
    grades = [
        [people_time(g.changed_at), t(f"grade.{g.previous_grade}") if g.previous_grade else "",
         t(f"grade.{g.grade}")]
        for g in repo.site_grades(session, site.id)
    ]  # fmt: skip
    alerts = [
        [a.id, people_time(a.started_at), _alert_kind(a.kind), a.metric or "",
         people_time(a.ended_at)]
        for a in repo.site_alerts(session, site.id)
    ]  # fmt: skip
    periods = [
        [d.name or str(d.id), people_time(p.started_at), people_time(p.ended_at),
         round((p.repair_seconds or 0) / 86400, 1) if p.repair_seconds is not None else ""]
        for p, d in repo.site_offline_periods(session, site.id)
    ]  # fmt: skip
    stats = monthly_stats(
        (people_time(day)[:10], metric, mean, peak)
        for day, metric, mean, peak in repo.site_daily_rollups(session, site.id)
    )
    return Archive(
        title=t("reports.archive.site_title").format(name=site.name),
        facts=[
            ("reports.archive.project_code", site.project_code),
            ("reports.archive.address", site.address),
            ("reports.archive.grade", t(f"grade.{site.grade}")),
        ],
        sections=[
            Section("reports.archive.visits", ["reports.col.id", "reports.col.time",
                    "reports.col.mode", "reports.col.result", "reports.col.photos"], visits),
            Section("reports.archive.cases", ["reports.col.id", "reports.col.opened",
                    "reports.col.description", "reports.col.state", "reports.col.closed"], cases),
            Section("reports.archive.grades", ["reports.col.time", "reports.col.before",
                    "reports.col.after"], grades),
            Section("reports.archive.alerts", ["reports.col.id", "reports.col.time",
                    "reports.col.kind", "reports.col.metric", "reports.col.ended"], alerts),
            Section("reports.archive.offline", ["reports.col.device", "reports.col.time",
                    "reports.col.ended", "reports.col.repair_days"], periods),
            Section("reports.archive.sensor", ["reports.col.month", "reports.col.metric",
                    "reports.col.mean", "reports.col.peak", "reports.col.days_data"], stats),
        ],
    )  # fmt: skip


_DISTRICT_READERS = frozenset({Role.district_admin, Role.station_staff, Role.viewer})


def _may_read_member(principal: Principal, user_id: int, unit: OrgUnit | None) -> bool:
    if principal.is_city_wide or principal.user_id == user_id:
        return True
    return (
        principal.role in _DISTRICT_READERS
        and principal.district_id is not None
        and unit is not None
        and unit.district_id == principal.district_id
    )


def coverage_rows(visits: list[tuple[str, int]]) -> list[list[object]]:
    """Per month (newest first): visits, distinct sites visited, days in the field, from
    (local time ``YYYY-MM-DD HH:MM``, site id) pairs."""
    months: dict[str, tuple[int, set[int], set[str]]] = {}
    for when, site_id in visits:
        n, sites_seen, days = months.get(when[:7], (0, set(), set()))
        sites_seen.add(site_id)
        days.add(when[:10])
        months[when[:7]] = (n + 1, sites_seen, days)
    return [[m, n, len(s), len(d)] for m, (n, s, d) in sorted(months.items(), reverse=True)]


def member_archive(session: Session, principal: Principal, user_id: int) -> Archive:
    """A grid member's archive: visits, monthly coverage, cases, their own scores (an
    officer) and their groups' scores.
    404 outside the reader's scope (L1 all; a district its own; the member themself)."""
    found = repo.member(session, user_id)
    if found is None or not _may_read_member(principal, user_id, found[1]):
        raise NotFound("reports.error.member_not_found")
    user, unit = found
    visits = repo.member_visits(session, user.id)
    scores = repo.group_scores(session, repo.member_group_ids(session, user.id))
    mine = repo.own_scores(session, user.id)
    own = [Section("reports.archive.own_scores", ["reports.col.month", "reports.col.score",
                   "reports.col.lost"],
                   [[s.month, round(s.score, 1),
                     round(sum(float(i["points"]) for i in s.items if float(i["points"]) < 0), 1)]
                    for s in mine])] if mine else []  # fmt: skip
    return Archive(
        title=t("reports.archive.member_title").format(name=user.display_name),
        facts=[
            ("reports.archive.role", t(f"role.{user.role}")),
            ("reports.archive.unit", unit.name if unit else ""),
        ],
        sections=[
            Section("reports.archive.visits", ["reports.col.id", "reports.col.time",
                    "reports.col.site", "reports.col.mode", "reports.col.result",
                    "reports.col.photos"],
                    [[i.id, people_time(i.checked_in_at), name,
                      t(f"inspections.mode.{i.mode}"), t(f"inspections.result.{i.result}"), n]
                     for i, name, n in visits]),
            Section("reports.archive.coverage", ["reports.col.month", "reports.col.visits",
                    "reports.col.sites", "reports.col.days"],
                    coverage_rows([(people_time(i.checked_in_at), i.site_id)
                                   for i, _, _ in visits])),
            Section("reports.archive.cases", ["reports.col.id", "reports.col.opened",
                    "reports.col.description", "reports.col.state", "reports.col.closed"],
                    [[c.id, people_time(c.opened_at), c.description[:60],
                      t(f"case_state.{c.state}"), people_time(c.closed_at)]
                     for c in repo.member_cases(session, user.id)]),
            *own,
            Section("reports.archive.scores", ["reports.col.month", "reports.col.group",
                    "reports.col.score", "reports.col.consequence"],
                    [[s.month, s.name, round(s.score, 1),
                      t(f"assessments.consequence.{s.consequence}") if s.consequence else ""]
                     for s in scores]),
        ],
    )  # fmt: skip
