"""Electronic archives (电子档案) from the records, in the reader's scope.

The records (:class:`SiteRecords`, :class:`MemberRecords`) feed both the JSON API and the
files: :func:`site_archive` and :func:`member_archive` lay them out as an :class:`Archive`
(the page, the .xlsx and the PDF, in Chinese: an official document).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session

from dustgrid.alerts.models import Alert
from dustgrid.assessments.models import AssessmentScore
from dustgrid.cases.models import Case
from dustgrid.config import Settings
from dustgrid.devices.models import Device, OfflinePeriod
from dustgrid.errors import NotFound
from dustgrid.identity.models import User
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.inspections import service as inspections
from dustgrid.inspections.grading.models import SiteGradeHistory
from dustgrid.inspections.models import Inspection, InspectionPhoto
from dustgrid.org.models import OrgUnit
from dustgrid.reports import repository as repo
from dustgrid.reports.archive import (
    PHOTO_HEADERS,
    Archive,
    ArchivePhoto,
    Section,
    archive_pdf,
    archive_xlsx,
)
from dustgrid.reports.figures import monthly_stats
from dustgrid.reports.notice import LANG, t
from dustgrid.sites import service as sites
from dustgrid.sites.models import Site
from dustgrid.workcal.calendar import people_time

EXTENSIONS: Final = ("pdf", "xlsx")


def _alert_kind(kind: str) -> str:
    return t(f"alerts.kind.{kind.split(':', 1)[0]}")


def photo_href(photo: InspectionPhoto) -> str:
    """The watermarked copy's address: the inspection photo route, scoped like the visit."""
    return f"/api/v1/inspections/{photo.inspection_id}/photos/{photo.id}"


# ---------------------------------------------------------------------------- site


@dataclass(frozen=True, slots=True)
class Visit:
    inspection: Inspection
    inspector: str  # the inspector's name
    photos: list[InspectionPhoto]


@dataclass(frozen=True, slots=True)
class SiteRecords:
    site: Site
    visits: list[Visit]  # newest first
    cases: list[Case]
    grades: list[SiteGradeHistory]
    alerts: list[Alert]
    periods: list[tuple[OfflinePeriod, Device]]
    stats: list[list[object]]  # figures.monthly_stats rows


def site_records(session: Session, principal: Principal, site_id: int) -> SiteRecords:
    """One site's records. 404 outside the reader's scope (the site ledger's: L1 all, a
    district its own, a contractor its own sites)."""
    site = sites.get_site(session, principal, site_id)
    photos: dict[int, list[InspectionPhoto]] = {}
    for ph in repo.site_photos(session, site.id):
        photos.setdefault(ph.inspection_id, []).append(ph)
    visits = [Visit(i, name, photos.get(i.id, [])) for i, name in
              repo.site_inspections(session, site.id)]  # fmt: skip
    stats = monthly_stats(
        (people_time(day)[:10], metric, mean, peak)
        for day, metric, mean, peak in repo.site_daily_rollups(session, site.id)
    )
    return SiteRecords(
        site, visits, repo.site_cases(session, site.id), repo.site_grades(session, site.id),
        repo.site_alerts(session, site.id), repo.site_offline_periods(session, site.id), stats,
    )  # fmt: skip


def archive_photo(visit: Inspection, photo: InspectionPhoto, settings: Settings) -> ArchivePhoto:
    path = inspections.photo_path(settings, photo.stamped_path) if photo.stamped_path else None
    return ArchivePhoto(
        inspection_id=visit.id,
        photo_id=photo.id,
        time=people_time(photo.exif_taken_at or visit.checked_in_at),
        visit_time=people_time(visit.checked_in_at),
        item=inspections.item_label(photo.item_code, LANG) if photo.item_code else "",
        href=photo_href(photo),
        file_name=Path(photo.stamped_path).name,
        path=path,
    )


def _cases_section(cases: list[Case]) -> Section:
    return Section(
        "reports.archive.cases",
        ["reports.col.id", "reports.col.opened", "reports.col.description",
         "reports.col.state", "reports.col.closed"],
        [[c.id, people_time(c.opened_at), c.description[:60], t(f"case_state.{c.state}"),
          people_time(c.closed_at)] for c in cases],
    )  # fmt: skip


def site_archive(
    session: Session, principal: Principal, site_id: int, settings: Settings
) -> Archive:
    """One site's archive: visits and their photos, cases, grades, alerts, device offline
    periods, monthly sensor statistics (scoped like :func:`site_records`)."""
    r = site_records(session, principal, site_id)
    visits = [
        [v.inspection.id, people_time(v.inspection.checked_in_at), v.inspector,
         t(f"inspections.mode.{v.inspection.mode}"),
         t(f"inspections.result.{v.inspection.result}"), len(v.photos)]
        for v in r.visits
    ]  # fmt: skip
    photos = [archive_photo(v.inspection, ph, settings) for v in r.visits for ph in v.photos]
    grades = [
        [people_time(g.changed_at), t(f"grade.{g.previous_grade}") if g.previous_grade else "",
         t(f"grade.{g.grade}")]
        for g in r.grades
    ]  # fmt: skip
    alerts = [
        [a.id, people_time(a.started_at), _alert_kind(a.kind), a.metric or "",
         people_time(a.ended_at)]
        for a in r.alerts
    ]  # fmt: skip
    periods = [
        [d.name or str(d.id), people_time(p.started_at), people_time(p.ended_at),
         round((p.repair_seconds or 0) / 86400, 1) if p.repair_seconds is not None else ""]
        for p, d in r.periods
    ]  # fmt: skip
    return Archive(
        title=t("reports.archive.site_title").format(name=r.site.name),
        facts=[
            ("reports.archive.project_code", r.site.project_code),
            ("reports.archive.address", r.site.address),
            ("reports.archive.grade", t(f"grade.{r.site.grade}")),
        ],
        sections=[
            Section("reports.archive.visits", ["reports.col.id", "reports.col.time",
                    "reports.col.inspector", "reports.col.mode", "reports.col.result",
                    "reports.col.photos"], visits),
            Section("reports.archive.photos", list(PHOTO_HEADERS), photos=photos),
            _cases_section(r.cases),
            Section("reports.archive.grades", ["reports.col.time", "reports.col.before",
                    "reports.col.after"], grades),
            Section("reports.archive.alerts", ["reports.col.id", "reports.col.time",
                    "reports.col.kind", "reports.col.metric", "reports.col.ended"], alerts),
            Section("reports.archive.offline", ["reports.col.device", "reports.col.time",
                    "reports.col.ended", "reports.col.repair_days"], periods),
            Section("reports.archive.sensor", ["reports.col.month", "reports.col.metric",
                    "reports.col.mean", "reports.col.peak", "reports.col.days_data"], r.stats),
        ],
    )  # fmt: skip


# ---------------------------------------------------------------------------- member

_DISTRICT_READERS = frozenset({Role.district_admin, Role.station_staff, Role.viewer})


def _may_read_member(principal: Principal, user_id: int, district_id: int | None) -> bool:
    """L1 every member, a district (admin, station, viewer) the members of its units, a
    member their own archive."""
    if principal.is_city_wide or principal.user_id == user_id:
        return True
    return (
        principal.role in _DISTRICT_READERS
        and principal.district_id is not None
        and district_id == principal.district_id
    )


def readable_members(session: Session, principal: Principal, user_ids: Iterable[int]) -> set[int]:
    """Those of ``user_ids`` whose archive the reader may open (grid members in scope):
    the pages link a name to its archive only for these."""
    found = repo.members_districts(session, sorted(set(user_ids)))
    return {uid for uid, district in found if _may_read_member(principal, uid, district)}


@dataclass(frozen=True, slots=True)
class GroupMember:
    user_id: int
    name: str
    archive: bool  # the reader may open their archive


def group_members(session: Session, principal: Principal, group_id: int) -> list[GroupMember]:
    """A grid group's current members, each marked with whether the reader may open
    their archive (for the assessment drill-down; the caller has checked the score's
    scope)."""
    members = repo.group_members(session, group_id)
    readable = readable_members(session, principal, (uid for uid, _ in members))
    return [GroupMember(uid, name, uid in readable) for uid, name in members]


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


@dataclass(frozen=True, slots=True)
class MemberVisit:
    inspection: Inspection
    site_name: str
    photo_count: int


@dataclass(frozen=True, slots=True)
class MemberRecords:
    user: User
    unit: OrgUnit | None
    visits: list[MemberVisit]  # newest first
    coverage: list[list[object]]  # coverage_rows
    cases: list[Case]
    scores: list[AssessmentScore]  # their groups', current version of every month
    own_scores: list[AssessmentScore]  # their own (officers), current version of every month


def member_records(session: Session, principal: Principal, user_id: int) -> MemberRecords:
    """A grid member's records. 404 outside the reader's scope (L1 all; a district its
    own; the member themself) and for accounts that are not grid members."""
    found = repo.member(session, user_id)
    district = found[1].district_id if found is not None and found[1] is not None else None
    if found is None or not _may_read_member(principal, user_id, district):
        raise NotFound("reports.error.member_not_found")
    user, unit = found
    visits = [MemberVisit(i, name, n) for i, name, n in repo.member_visits(session, user.id)]
    coverage = coverage_rows([(people_time(v.inspection.checked_in_at), v.inspection.site_id)
                              for v in visits])  # fmt: skip
    return MemberRecords(
        user, unit, visits, coverage, repo.member_cases(session, user.id),
        repo.group_scores(session, repo.member_group_ids(session, user.id)),
        repo.own_scores(session, user.id),
    )  # fmt: skip


def member_archive(
    session: Session, principal: Principal, user_id: int, settings: Settings | None = None
) -> Archive:
    """A grid member's archive: visits, monthly coverage, cases, their groups' scores
    (scoped like :func:`member_records`)."""
    r = member_records(session, principal, user_id)
    own = [Section("reports.archive.own_scores", ["reports.col.month", "reports.col.score",
                   "reports.col.lost"],
                   [[s.month, round(s.score, 1),
                     round(sum(float(i["points"]) for i in s.items if float(i["points"]) < 0), 1)]
                    for s in r.own_scores])] if r.own_scores else []  # fmt: skip
    return Archive(
        title=t("reports.archive.member_title").format(name=r.user.display_name),
        facts=[
            ("reports.archive.role", t(f"role.{r.user.role}")),
            ("reports.archive.unit", r.unit.name if r.unit else ""),
        ],
        sections=[
            Section("reports.archive.visits", ["reports.col.id", "reports.col.time",
                    "reports.col.site", "reports.col.mode", "reports.col.result",
                    "reports.col.photos"],
                    [[v.inspection.id, people_time(v.inspection.checked_in_at), v.site_name,
                      t(f"inspections.mode.{v.inspection.mode}"),
                      t(f"inspections.result.{v.inspection.result}"), v.photo_count]
                     for v in r.visits]),
            Section("reports.archive.coverage", ["reports.col.month", "reports.col.visits",
                    "reports.col.sites", "reports.col.days"], r.coverage),
            _cases_section(r.cases),
            *own,
            Section("reports.archive.scores", ["reports.col.month", "reports.col.group",
                    "reports.col.score", "reports.col.consequence"],
                    [[s.month, s.name, round(s.score, 1),
                      t(f"assessments.consequence.{s.consequence}") if s.consequence else ""]
                     for s in r.scores]),
        ],
    )  # fmt: skip


# ---------------------------------------------------------------------------- files

ArchiveBuilder = Callable[[Session, Principal, int, Settings], Archive]

# The archives by the path segment that names them: (builder, file name stem).
KINDS: Final[dict[str, tuple[ArchiveBuilder, str]]] = {
    "sites": (site_archive, "site-archive"),
    "members": (member_archive, "member-archive"),
}


def archive_of(
    session: Session, principal: Principal, settings: Settings, kind: str, item_id: int
) -> Archive:
    """The archive of a site or member (``kind``: a key of :data:`KINDS`), in scope."""
    if kind not in KINDS:
        raise NotFound("reports.error.archive_not_found")
    return KINDS[kind][0](session, principal, item_id, settings)


def archive_file(
    session: Session,
    principal: Principal,
    settings: Settings,
    kind: str,
    item_id: int,
    ext: str,
    base_url: str = "",
) -> tuple[str, bytes]:
    """(file name, content) of a site's or member's archive as .pdf or .xlsx, in scope;
    ``base_url`` makes the photo addresses of the workbook links."""
    if ext not in EXTENSIONS:
        raise NotFound("reports.error.archive_format", ext=ext)
    archive = archive_of(session, principal, settings, kind, item_id)
    stem = KINDS[kind][1]
    content = archive_pdf(archive) if ext == "pdf" else archive_xlsx(archive, base_url)
    return f"{stem}-{item_id}.{ext}", content
