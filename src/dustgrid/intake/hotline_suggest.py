"""What the 12319 desk is shown for a complaint: nearest sites and possible duplicates.

Nearest sites: haversine over the active sites the caller sees (a city has a few thousand;
measuring them all takes milliseconds and needs no spatial index), top N by distance.
Without a point, sites are ranked by how much of the place text their name or address
shares (character bigrams: Chinese place names have no spaces to split on).

Possible duplicates: complaints and open cases within ``DedupPolicy.hotline_radius_m`` and
``hotline_window`` of the complaint (complaints: either side of its time; cases: opened
since the window began), plus complaints already linked to the same site in the window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.cases import deadlines
from dustgrid.config import Settings, get_settings
from dustgrid.geo.coords import haversine_m
from dustgrid.identity.principal import Principal
from dustgrid.intake import repository as repo
from dustgrid.intake.models import Complaint
from dustgrid.intake.policy import IntakePolicy, intake_policy
from dustgrid.intake.schemas import CaseDuplicate, ComplaintDuplicate, SiteSuggestion, Suggestions


def bigrams(text: str) -> set[str]:
    """Character pairs of the text without spaces and punctuation (single chars if short)."""
    chars = [ch for ch in text.lower() if ch.isalnum()]
    if len(chars) < 2:
        return set(chars)
    return {chars[i] + chars[i + 1] for i in range(len(chars) - 1)}


def text_score(place: set[str], name: str, address: str) -> float:
    """Share of the place text's bigrams found in the site's name or address (0–1)."""
    if not place:
        return 0.0
    return len(place & (bigrams(name) | bigrams(address))) / len(place)


def rank_sites(
    rows: Sequence[Any], *, lat: float | None, lon: float | None, place_text: str, n: int
) -> list[SiteSuggestion]:
    """Pure ranking: by distance when there is a point, else by text score (ties by id)."""
    place = bigrams(place_text)
    scored = []
    for r in rows:
        dist = haversine_m(lat, lon, r.lat, r.lon) if lat is not None and lon is not None else None
        score = round(text_score(place, r.name, r.address or ""), 3)
        scored.append((dist, score, r))
    if lat is not None:
        scored.sort(key=lambda t: (t[0], -t[1], t[2].id))
    else:
        scored = [t for t in scored if t[1] > 0]
        scored.sort(key=lambda t: (-t[1], t[2].id))
    return [
        SiteSuggestion(
            site_id=r.id,
            project_code=r.project_code,
            name=r.name,
            address=r.address or "",
            distance_m=round(d) if d is not None else None,
            text_score=s,
        )
        for d, s, r in scored[:n]
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
    exclude_id: int | None = None,
    site_id: int | None = None,
    settings: Settings | None = None,
    policy: IntakePolicy | None = None,
) -> Suggestions:
    settings = settings or get_settings()
    policy = policy or intake_policy(settings)
    dedup = deadlines.case_policy(settings).dedup
    radius, window = dedup.hotline_radius_m, dedup.hotline_window
    sites = rank_sites(repo.visible_sites(session, principal), lat=lat, lon=lon,
                       place_text=place_text, n=policy.suggestion_count)  # fmt: skip
    since, until = at - window, at + window
    found: dict[int, tuple[float | None, Complaint]] = {}
    if lat is not None and lon is not None:
        for c in repo.complaints_near(session, principal, lat, lon, radius_m=radius,
                                      since=since, until=until, exclude_id=exclude_id):  # fmt: skip
            d = _dist(lat, lon, c.lat, c.lon)
            if d is not None and d <= radius:
                found[c.id] = (d, c)
    if site_id is not None:
        for c in repo.complaints_of_site(session, principal, site_id, since=since, until=until,
                                         exclude_id=exclude_id):  # fmt: skip
            found.setdefault(c.id, (_dist(lat, lon, c.lat, c.lon), c))
    complaints = [
        ComplaintDuplicate(
            complaint_id=c.id,
            status=c.status.value,
            received_at=c.received_at,
            place_text=c.place_text,
            distance_m=round(d) if d is not None else None,
            case_id=c.case_id,
        )  # fmt: skip
        for d, c in sorted(found.values(), key=lambda t: (t[0] is None, t[0] or 0, t[1].id))
    ]
    cases: list[CaseDuplicate] = []
    if lat is not None and lon is not None:
        near = []
        for case in repo.open_cases_near(session, principal, lat, lon, radius_m=radius,
                                         since=since):  # fmt: skip
            d = _dist(lat, lon, case.lat, case.lon)
            if d is not None and d <= radius:
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
        sites=sites,
        complaints=complaints,
        cases=cases,
        radius_m=radius,
        window_hours=window.total_seconds() / 3600,
        policy_version=f"{policy.version}/{dedup.version}",
    )


def for_complaint(
    session: Session, principal: Principal, c: Complaint, *, settings: Settings | None = None
) -> Suggestions:
    return suggest(session, principal, lat=c.lat, lon=c.lon, place_text=c.place_text,
                   at=c.received_at, exclude_id=c.id, site_id=c.site_id,
                   settings=settings)  # fmt: skip
