"""Replay stored history with a profile, read-only: the dry run and audits.

``replay`` judges every site's stored readings over local days ``[start, end]`` with the
pure engine alone (windows, day verdicts, alert episodes), exactly as the live evaluator
would with an empty history before ``start``. It only reads: live alerts, windows and
cases are never touched, so a city can ask "how many alerts would this profile have raised
last month" before switching to it, and an auditor can re-derive a verdict.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.alerts.engine.profiles import ContextError, Profile
from dustgrid.alerts.engine.rules import (
    AlertEpisode,
    DayVerdict,
    WindowResult,
    alert_episodes,
    day_verdicts,
    evaluate_windows,
)
from dustgrid.alerts.engine.windows import local_day
from dustgrid.alerts.repository import sources
from dustgrid.alerts.series import (
    monitors_by_site,
    reference_devices,
    reference_series,
    site_context,
    site_series,
    stations_for,
)
from dustgrid.errors import Invalid
from dustgrid.sites.models import Site

MAX_DAYS: Final = 62
DIGITS: Final = 3


@dataclass
class SiteReplay:
    site: Site
    results: list[WindowResult] = field(default_factory=list)
    episodes: list[AlertEpisode] = field(default_factory=list)
    days: list[DayVerdict] = field(default_factory=list)
    error: str | None = None


def period(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC bounds of the local days ``start`` … ``end`` (inclusive)."""
    if end < start:
        raise Invalid("alerts.error.end_must_not_before_start")
    if (end - start).days + 1 > MAX_DAYS:
        raise Invalid("alerts.error.replay_most_days", days=MAX_DAYS)
    lo = datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC)
    hi = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
    return lo, hi


def replay(
    session: Session,
    profile: Profile,
    *,
    start: date,
    end: date,
    tz: ZoneInfo,
    site_ids: list[int] | None = None,
) -> Iterator[SiteReplay]:
    """Per site with dust monitors (in ``site_ids`` when given), the replayed results."""
    lo, hi = period(start, end, tz)
    monitors = monitors_by_site(session, site_ids)
    refs = reference_devices(session)
    ref_cache: dict[tuple[int, ...], list[Any]] = {}
    for site in sources.sites_by_project_code(session, monitors):
        out = SiteReplay(site)
        rows = site_series(session, monitors[site.id], [profile.metric], lo, hi)
        ref = None
        if profile.kind == "difference":
            stations = stations_for(refs, site.district_id)
            key = tuple(d for d, _ in stations)
            if key not in ref_cache:
                ref_cache[key] = reference_series(session, stations, [profile.metric], lo, hi)
            ref = ref_cache[key]
        try:
            out.results = evaluate_windows(profile, rows, ref, site_context(site, tz))
        except ContextError as exc:
            out.error = str(exc)
            yield out
            continue
        out.episodes = alert_episodes(profile, out.results, site.project_code)
        out.days = day_verdicts(profile, out.results, tz)
        yield out


def _num(x: float | None) -> float | None:
    return None if x is None else round(x, DIGITS)


def json_lines(item: SiteReplay, tz: ZoneInfo) -> Iterator[dict[str, Any]]:
    """The ``alerts check`` line shapes, with the site: windows, alerts, days."""
    code = item.site.project_code
    if item.error:
        yield {"type": "error", "site": code, "error": item.error}
        return
    by_day: dict[date, list[WindowResult]] = defaultdict(list)
    for r in item.results:
        if r.exceeded:
            by_day[local_day(r.start, tz)].append(r)
    for verdict in item.days:
        for r in by_day.get(verdict.date, []):
            yield {
                "type": "window",
                "site": code,
                "start": r.start.isoformat(),
                "end": r.end.isoformat(),
                "metric": r.metric,
                "value": _num(r.value),
                "reference": _num(r.reference),
                "reference_used": _num(r.reference_used),
                "limit": _num(r.limit),
                "excess": _num(r.excess),
                "held": r.held,
            }
        yield {
            "type": "day",
            "site": code,
            "date": verdict.date.isoformat(),
            "exceedances": verdict.exceedances,
            "windows": verdict.windows,
            "verdict": verdict.verdict,
        }
    for ep in item.episodes:
        yield {
            "type": "alert",
            "site": code,
            "first_window": ep.first_window.isoformat(),
            "raised_at": ep.raised_at.isoformat(),
            "cleared_at": ep.cleared_at.isoformat() if ep.cleared_at else None,
            "held": ep.held,
            "peak_excess": _num(ep.peak_excess),
        }


def dry_run(
    session: Session,
    profile: Profile,
    *,
    start: date,
    end: date,
    tz: ZoneInfo,
    site_ids: list[int] | None,
) -> dict[str, Any]:
    """Counts per site and per day of what ``profile`` would have raised (read-only)."""
    per_day: Counter[date] = Counter()
    held_day: Counter[date] = Counter()
    sites: list[dict[str, Any]] = []
    totals = Counter[str]()
    for item in replay(session, profile, start=start, end=end, tz=tz, site_ids=site_ids):
        exceeding = sum(1 for r in item.results if r.exceeded)
        held = sum(1 for e in item.episodes if e.held)
        for ep in item.episodes:
            day = local_day(ep.raised_at - timedelta(microseconds=1), tz)
            per_day[day] += 1
            held_day[day] += ep.held
        failed = sum(1 for d in item.days if d.verdict == "fail")
        totals.update(
            {
                "alerts": len(item.episodes),
                "held": held,
                "windows": len(item.results),
                "exceeding_windows": exceeding,
                "days_failed": failed,
                "sites_with_alerts": 1 if item.episodes else 0,
            }
        )
        sites.append(
            {
                "site_id": item.site.id,
                "project_code": item.site.project_code,
                "name": item.site.name,
                "alerts": len(item.episodes),
                "held": held,
                "windows": len(item.results),
                "exceeding_windows": exceeding,
                "days_failed": failed,
                "error": item.error,
            }
        )
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    return {
        "profile": profile.describe(),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "totals": {
            k: int(totals.get(k, 0))
            for k in (
                "alerts",
                "held",
                "windows",
                "exceeding_windows",
                "days_failed",
                "sites_with_alerts",
            )
        },
        "per_site": sorted(sites, key=lambda s: (-s["alerts"], s["project_code"])),
        "per_day": [
            {"date": d.isoformat(), "alerts": per_day.get(d, 0), "held": held_day.get(d, 0)}
            for d in days
        ],
    }
