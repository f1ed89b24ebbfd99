"""What the 12319 desk is shown for a complaint: the sites it is likely about and the
complaints and cases it likely repeats, each with the reasons (``hotline_match``).

Sites: every active site the caller sees is scored (a city has a few thousand; scoring
them all takes milliseconds and needs no index) by the place text, the distance and the
district; the best ``IntakePolicy.suggestion_count`` above ``suggestion_min_score`` are shown.

Possible duplicates: complaints in scope received within the widest duplicate window of
this one, judged by ``hotline_match.duplicates`` (point within ``DedupPolicy.hotline_radius_m``,
the same caller, a similar place, the same site); open cases within the radius, opened since
``DedupPolicy.hotline_window`` before the complaint.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid.cases import deadlines
from dustgrid.config import Settings, get_settings
from dustgrid.geo.coords import haversine_m
from dustgrid.identity.principal import Principal
from dustgrid.intake import hotline_match as match
from dustgrid.intake import repository as repo
from dustgrid.intake.models import Complaint
from dustgrid.intake.policy import IntakePolicy, intake_policy
from dustgrid.intake.schemas import CaseDuplicate, ComplaintDuplicate, SiteSuggestion, Suggestions

bigrams = match.bigrams  # kept for callers of the former name


def site_suggestions(found: list[match.SiteMatch]) -> list[SiteSuggestion]:
    return [
        SiteSuggestion(
            site_id=m.row.id,
            project_code=m.row.project_code,
            name=m.row.name,
            address=m.row.address or "",
            distance_m=round(m.distance_m) if m.distance_m is not None else None,
            score=m.score,
            text_score=m.text_score,
            matched=list(m.matched),
            same_district=m.same_district,
        )
        for m in found
    ]


def _dist(lat: float | None, lon: float | None, c_lat: float | None, c_lon: float | None
          ) -> float | None:  # fmt: skip
    if lat is None or lon is None or c_lat is None or c_lon is None:
        return None
    return haversine_m(lat, lon, c_lat, c_lon)


def suggest(
    session: Session,
    principal: Principal,
    *,
    lat: float | None,
    lon: float | None,
    place_text: str,
    at: datetime,
    caller_phone: str = "",
    content: str = "",
    district_id: int | None = None,
    exclude_id: int | None = None,
    site_id: int | None = None,
    settings: Settings | None = None,
    policy: IntakePolicy | None = None,
) -> Suggestions:
    """Sites and likely duplicates for a complaint (saved, or being typed on the form)."""
    settings = settings or get_settings()
    policy = policy or intake_policy(settings)
    dedup = deadlines.case_policy(settings).dedup
    radius, window = dedup.hotline_radius_m, dedup.hotline_window
    if district_id is None and lat is not None and lon is not None:
        district_id = repo.district_at(session, lat, lon)
    if district_id is None:
        district_id = principal.district_id
    ranked = match.rank_sites(repo.visible_sites(session, principal), place_text=place_text,
                              lat=lat, lon=lon, district_id=district_id,
                              policy=policy)  # fmt: skip
    widest = max(window, policy.duplicate_window, policy.duplicate_caller_window)
    me = match.ComplaintFacts(id=exclude_id, caller_phone=caller_phone, place_text=place_text,
                              content=content, received_at=at, lat=lat, lon=lon,
                              site_id=site_id)  # fmt: skip
    rows = {c.id: c for c in repo.complaints_between(session, principal, since=at - widest,
                                                     until=at + widest,
                                                     exclude_id=exclude_id)}  # fmt: skip
    found = match.duplicates(me, (match.facts(c) for c in rows.values()), policy=policy,
                             radius_m=radius, near_window=window)  # fmt: skip
    complaints = []
    for m in found:
        c = rows[m.other_id or 0]
        complaints.append(ComplaintDuplicate(
            complaint_id=c.id, status=c.status.value, received_at=c.received_at,
            place_text=c.place_text,
            distance_m=round(m.distance_m) if m.distance_m is not None else None,
            case_id=c.case_id, rules=list(m.rules), gap_minutes=int(m.gap.total_seconds() // 60),
            place_similarity=m.place_similarity, content_similarity=m.content_similarity,
        ))  # fmt: skip
    cases: list[CaseDuplicate] = []
    if lat is not None and lon is not None:
        near = []
        for case in repo.open_cases_near(session, principal, lat, lon, radius_m=radius,
                                         since=at - window):  # fmt: skip
            if case.lat is None or case.lon is None:
                continue
            d = haversine_m(lat, lon, case.lat, case.lon)
            if d <= radius:
                near.append((d, case))
        near.sort(key=lambda t: (t[0], t[1].id))
        cases = [
            CaseDuplicate(
                case_id=c.id,
                state=c.state.value,
                source=c.source.value,
                category=c.category,
                site_id=c.site_id,
                opened_at=c.opened_at,
                distance_m=round(d),
            )  # fmt: skip
            for d, c in near
        ]
    return Suggestions(
        sites=site_suggestions(ranked),
        complaints=complaints,
        cases=cases,
        radius_m=radius,
        window_hours=window.total_seconds() / 3600,
        duplicate_window_hours=policy.duplicate_window.total_seconds() / 3600,
        caller_window_hours=policy.duplicate_caller_window.total_seconds() / 3600,
        policy_version=f"{policy.version}/{dedup.version}",
    )


def for_complaint(
    session: Session, principal: Principal, c: Complaint, *, settings: Settings | None = None
) -> Suggestions:
    return suggest(session, principal, lat=c.lat, lon=c.lon, place_text=c.place_text,
                   at=c.received_at, caller_phone=c.caller_phone, content=c.content,
                   district_id=c.district_id, exclude_id=c.id, site_id=c.site_id,
                   settings=settings)  # fmt: skip


def earlier_duplicates(
    session: Session,
    principal: Principal,
    rows: list[Complaint],
    *,
    settings: Settings | None = None,
) -> dict[int, ComplaintDuplicate]:
    """For a page of complaints: the earlier complaint each one most likely repeats (the
    list's 「疑似重复」 flag), judged by the same rules, from one query."""
    if not rows:
        return {}
    settings = settings or get_settings()
    policy = intake_policy(settings)
    dedup = deadlines.case_policy(settings).dedup
    widest = max(dedup.hotline_window, policy.duplicate_window, policy.duplicate_caller_window)
    since = min(c.received_at for c in rows) - widest
    until = max(c.received_at for c in rows)
    pool = repo.complaints_between(session, principal, since=since, until=until, exclude_id=None)
    facts = [(c, match.facts(c)) for c in pool]
    out: dict[int, ComplaintDuplicate] = {}
    for row in rows:
        me = match.facts(row)
        before = [f for c, f in facts
                  if (c.received_at, c.id) < (row.received_at, row.id)]  # fmt: skip
        found = match.duplicates(me, before, policy=policy, radius_m=dedup.hotline_radius_m,
                                 near_window=dedup.hotline_window)  # fmt: skip
        if found:
            m = found[0]
            other = next(c for c, _ in facts if c.id == m.other_id)
            out[row.id] = ComplaintDuplicate(
                complaint_id=other.id, status=other.status.value, received_at=other.received_at,
                place_text=other.place_text,
                distance_m=round(m.distance_m) if m.distance_m is not None else None,
                case_id=other.case_id, rules=list(m.rules),
                gap_minutes=int(m.gap.total_seconds() // 60),
                place_similarity=m.place_similarity, content_similarity=m.content_similarity,
            )  # fmt: skip
    return out
