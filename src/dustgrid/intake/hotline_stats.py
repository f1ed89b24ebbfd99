"""The hotline's three rates (domain.md §8: 响应率, 解决率, 满意率) for a month.

Definitions (platform defaults, versioned with ``IntakePolicy``):

* response rate = complaints answered within ``hotline_response_limit`` of being
  received / complaints received in the month;
* resolution rate = complaints resolved / received, where resolved means the desk
  recorded a resolution, or the linked case was closed after handling (a disposition was
  reached; a case dismissed as a false alarm does not resolve anything);
* satisfaction rate = satisfied / complaints with a satisfaction answer, where satisfied
  is the caller's yes, or else a score at or above ``satisfied_min_score``.

The month is a calendar month in the city's time zone. The counting is a pure function
over plain rows (``rates``), so it is tested without a database.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.config import Settings, get_settings
from dustgrid.errors import Invalid
from dustgrid.identity.principal import Principal
from dustgrid.intake import repository as repo
from dustgrid.intake.policy import IntakePolicy, intake_policy
from dustgrid.intake.schemas import HotlineStats


@dataclass(frozen=True, slots=True)
class Row:
    received_at: datetime
    response_at: datetime | None = None
    resolved_at: datetime | None = None
    satisfaction: int | None = None
    satisfied: bool | None = None
    case_closed_at: datetime | None = None
    case_disposition: str | None = None


def _rate(n: int, d: int) -> float | None:
    return round(n / d, 4) if d else None


def rates(rows: Iterable[Row], policy: IntakePolicy, month: str) -> HotlineStats:
    received = responded = in_time = resolved = rated = satisfied = 0
    for r in rows:
        received += 1
        if r.response_at is not None:
            responded += 1
            if r.response_at - r.received_at <= policy.hotline_response_limit:
                in_time += 1
        if r.resolved_at is not None or (
            r.case_closed_at is not None and r.case_disposition is not None
        ):
            resolved += 1
        if r.satisfied is not None or r.satisfaction is not None:
            rated += 1
            yes = (
                r.satisfied
                if r.satisfied is not None
                else (r.satisfaction or 0) >= policy.satisfied_min_score
            )
            satisfied += int(bool(yes))
    return HotlineStats(
        month=month,
        received=received,
        responded=responded,
        responded_in_time=in_time,
        resolved=resolved,
        rated=rated,
        satisfied=satisfied,
        response_rate=_rate(in_time, received),
        resolution_rate=_rate(resolved, received),
        satisfaction_rate=_rate(satisfied, rated),
        response_limit_hours=policy.hotline_response_limit.total_seconds() / 3600,
        policy_version=policy.version,
    )


def month_bounds(
    month: str | None, settings: Settings, now: datetime
) -> tuple[str, datetime, datetime]:
    """``YYYY-MM`` (default: this month) → (label, start, end) as UTC instants."""
    tz = ZoneInfo(settings.timezone)
    if not month:
        local = now.astimezone(tz)
        year, mon = local.year, local.month
    else:
        m = re.fullmatch(r"(\d{4})-(\d{2})", month.strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise Invalid("intake.error.month_must_yyyy_mm", month=month,
                          details={"field": "month"})  # fmt: skip
        year, mon = int(m.group(1)), int(m.group(2))
    start = datetime(year, mon, 1, tzinfo=tz)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=tz)
    return f"{year:04d}-{mon:02d}", start.astimezone(UTC), end.astimezone(UTC)


def monthly(
    session: Session,
    principal: Principal,
    month: str | None = None,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    policy: IntakePolicy | None = None,
) -> HotlineStats:
    settings = settings or get_settings()
    policy = policy or intake_policy(settings)
    label, start, end = month_bounds(month, settings, now or datetime.now(UTC))
    rows = repo.month_rows(session, principal, since=start, until=end)
    return rates((Row(*r) for r in rows), policy, label)
