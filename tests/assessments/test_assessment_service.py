"""Scores from the records, stored per month with versions; closing; re-runs."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.assessments import service as svc
from dustgrid.assessments.months import Month
from dustgrid.audit.models import AuditEntry
from dustgrid.config import Settings
from dustgrid.errors import Invalid
from tests.assessments.helpers import AFTER, build_november, local
from tests.fixtures.city import City

NOV = Month(2026, 11)


def _by(result: svc.RunResult, kind: str, party_id: int):  # noqa: ANN202
    return next(s for s in result.scores if s.kind == kind and s.party_id == party_id)


def _item(score, rule: str):  # noqa: ANN001, ANN202
    return next(i for i in score.items if i["rule"] == rule)


def test_month_scores_come_from_the_records(db: Session, city: City, settings: Settings) -> None:
    ids = build_november(db, city)
    result = svc.run(db, NOV, settings, now=AFTER)
    assert result.version == 1 and result.state == "open"

    heping = _by(result, "l2_unit", city.units["bureau_heping"])
    assert heping.score == 60.0
    assert _item(heping, "city_rectified")["points"] == -20.0
    assert [e["id"] for e in _item(heping, "city_rectified")["evidence"]] == [ids["dispatched"]]
    assert _by(result, "l2_unit", city.units["bureau_shenhe"]).score == 100.0

    gamma = _by(result, "provider", city.enterprises["gamma"])
    assert gamma.score == 80.0
    week1 = next(i for i in gamma.items if i["rule"] == "offline_rate")
    assert week1["period"] == "2026-11-02" and week1["points"] == -10.0
    assert week1["evidence"][0]["kind"] == "device_period"
    assert week1["evidence"][0]["id"] == ids["period"]
    assert _item(gamma, "main_stream")["evidence"][0]["id"] == ids["camera"]
    assert _item(gamma, "sub_stream")["value"] is None  # not recorded: not scored

    e_hp = next(s for s in result.scores if s.kind == "officer_group" and s.grid_id ==
                city.grids["E-HP"])  # fmt: skip
    missed = _item(e_hp, "missed_reports")
    assert missed["points"] == -5.0
    assert missed["evidence"][0] == {
        "kind": "case",
        "id": ids["sensor"],
        "key": f"case:{ids['sensor']}",
        "detail": f"visit:{ids['visit']}",
    }
    assert _item(e_hp, "coverage")["value"] == pytest.approx(1 / 3, abs=1e-4)
    assert e_hp.score == pytest.approx(100 - 13.33 - 5, abs=0.01)

    # nothing changed: no new version
    again = svc.run(db, NOV, settings, now=AFTER)
    assert again.version == 1 and not again.changed


def test_a_closed_month_keeps_its_scores(db: Session, city: City, settings: Settings) -> None:
    ids = build_november(db, city)
    with pytest.raises(Invalid):
        svc.close(db, NOV, settings, now=local(30))  # not over yet
    closed = svc.close(db, NOV, settings, now=AFTER)
    assert closed.state == "closed" and closed.version == 1
    before = _by(closed, "l2_unit", city.units["bureau_heping"]).score

    # the case is closed later: the closed month does not move ...
    from dustgrid.cases.models import Case

    case = db.get(Case, ids["dispatched"])
    assert case is not None
    case.closed_at = local(20)
    db.flush()
    kept = svc.run(db, NOV, settings, now=AFTER)
    assert kept.version == 1 and _by(kept, "l2_unit", city.units["bureau_heping"]).score == before
    # ... unless a documented re-run says why
    rerun = svc.run(db, NOV, settings, now=AFTER, rerun_reason="结案记录补录")
    assert rerun.version == 2 and rerun.state == "closed"
    assert _by(rerun, "l2_unit", city.units["bureau_heping"]).score > before
    runs = svc.month_scores(db, _admin(db, city), NOV).runs
    assert [(r.version, r.reason, r.note) for r in runs] == [
        (1, "closed", ""), (2, "rerun", "结案记录补录")]  # fmt: skip
    actions = set(db.scalars(select(AuditEntry.action).where(AuditEntry.entity_type ==
                                                             "assessment")))  # fmt: skip
    assert {"assessment.close", "assessment.rerun"} <= actions


def _admin(db: Session, city: City):  # noqa: ANN202
    from dustgrid.auth.models import User
    from dustgrid.auth.service import load_principal

    user = db.get(User, city.users["admin"])
    assert user is not None
    return load_principal(db, user)


def test_the_monthly_job_closes_the_previous_month_once(
    db: Session, city: City, settings: Settings
) -> None:
    from dustgrid import periodic, wiring

    wiring.load()
    assert "assessments.close" in periodic.CHORES
    build_november(db, city)
    assert svc.close_previous(db, settings, AFTER) == 1
    row = svc.repo.month_row(db, "2026-11")
    assert row is not None and row.state == "closed" and row.version == 1
    assert svc.close_previous(db, settings, AFTER) == 0
