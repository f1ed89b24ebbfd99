"""The hotline's response, resolution and satisfaction rates on constructed data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.errors import Invalid
from dustgrid.intake.hotline_stats import Row, month_bounds, rates
from dustgrid.intake.models import Channel, Complaint, ComplaintStatus
from dustgrid.intake.policy import DEFAULT_INTAKE_POLICY, IntakePolicy
from tests.cases.case_kit import report
from tests.fixtures.city import City

T0 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shenyang
H = timedelta(hours=1)


def test_rates_pure() -> None:
    rows = [
        Row(T0, response_at=T0 + 2 * H, resolved_at=T0 + 30 * H, satisfaction=5),
        Row(T0, response_at=T0 + 30 * H, satisfaction=3),  # late answer, not satisfied
        Row(T0, response_at=T0 + H, satisfied=True, satisfaction=2),  # the yes wins
        Row(T0, case_closed_at=T0 + 48 * H, case_disposition="fix_on_site"),  # case handled
        Row(T0, case_closed_at=T0 + 5 * H, case_disposition=None),  # dismissed case
    ]
    s = rates(rows, DEFAULT_INTAKE_POLICY, "2026-03")
    assert (s.received, s.responded, s.responded_in_time) == (5, 3, 2)
    assert (s.resolved, s.rated, s.satisfied) == (2, 3, 2)
    assert s.response_rate == 0.4 and s.resolution_rate == 0.4
    assert s.satisfaction_rate == round(2 / 3, 4)
    strict = rates(rows, IntakePolicy(hotline_response_limit=H, satisfied_min_score=5), "x")
    assert strict.responded_in_time == 1 and strict.satisfied == 2


def test_rates_of_nothing_are_none() -> None:
    s = rates([], DEFAULT_INTAKE_POLICY, "2026-03")
    assert s.received == 0 and s.response_rate is None and s.satisfaction_rate is None


def test_month_bounds_local_time(settings: Settings) -> None:
    label, start, end = month_bounds("2026-03", settings, T0)
    assert label == "2026-03"
    assert start == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)  # 00:00 on 1 March, UTC+8
    assert end == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)
    assert month_bounds("2026-12", settings, T0)[2] == datetime(2026, 12, 31, 16, tzinfo=UTC)
    with pytest.raises(Invalid):
        month_bounds("2026-13", settings, T0)


def _add(db: Session, city: City, received: datetime, **kw: object) -> Complaint:
    fields: dict[str, object] = {"channel": Channel.phone_12319,
                                 "status": ComplaintStatus.received, "received_at": received,
                                 "content": "扬尘", "place_text": "某路",
                                 "district_id": city.districts["heping"], **kw}  # fmt: skip
    c = Complaint(**fields)
    db.add(c)
    db.flush()
    return c


def test_stats_api_counts_the_month_in_scope(
    api_as: Callable[[str], TestClient], db: Session, city: City, settings: Settings
) -> None:
    closed_case = report(db, city, settings, now=T0)
    closed_case.closed_at, closed_case.disposition = T0 + 50 * H, "fix_on_site"
    _add(db, city, T0, response_at=T0 + H, resolved_at=T0 + 5 * H, satisfied=True)
    _add(db, city, T0, response_at=T0 + 40 * H, satisfaction=2)
    _add(db, city, T0, case_id=closed_case.id, status=ComplaintStatus.linked)
    _add(db, city, T0 - timedelta(days=20))  # February: not counted
    other = _add(db, city, T0, response_at=T0 + H)
    other.district_id = city.districts["shenhe"]
    db.commit()

    s = api_as("d_heping").get("/api/v1/hotline/stats", params={"month": "2026-03"}).json()
    assert (s["received"], s["responded"], s["responded_in_time"]) == (3, 2, 1)
    assert (s["resolved"], s["rated"], s["satisfied"]) == (2, 2, 1)
    assert s["response_rate"] == round(1 / 3, 4) and s["satisfaction_rate"] == 0.5
    city_wide = api_as("admin").get("/api/v1/hotline/stats", params={"month": "2026-03"}).json()
    assert city_wide["received"] >= 4
    bad = api_as("admin").get("/api/v1/hotline/stats", params={"month": "March"})
    assert bad.status_code == 422
