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
    assert heping.score == 56.0
    assert _item(heping, "city_rectified")["points"] == -20.0
    assert [e["id"] for e in _item(heping, "city_rectified")["evidence"]] == [ids["dispatched"]]
    # connect-before-waste at the month's end: HP-001 has both devices in service (the
    # monitor's outage ended on 4 Nov); HP-002 and HP-003 have nothing connected
    gate = _item(heping, "connect_gate")
    assert gate["value"] == 2 and gate["points"] == -4.0
    assert gate["evidence"] == [
        {"kind": "gate", "id": city.sites[s], "key": f"gate:{city.sites[s]}",
         "detail": "nothing_connected"} for s in ("HP-002", "HP-003")]  # fmt: skip
    assert _by(result, "l2_unit", city.units["bureau_shenhe"]).score == 94.0
    assert _by(result, "l2_unit", city.units["safety"]).score == 98.0

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
    # the job scores every kind: the officers on their own, the units' gate item
    closed = svc.repo.scores(db, "2026-11", 1)
    by = {(s.kind, s.party_id): s for s in closed}
    assert by[("officer", city.users["off_hp1"])].score == 81.67
    unit = by[("l2_unit", city.units["bureau_heping"])]
    assert _item(unit, "connect_gate")["points"] == -4.0
    assert svc.close_previous(db, settings, AFTER) == 0


def test_each_officer_is_scored_from_their_own_records(
    db: Session, city: City, settings: Settings
) -> None:
    """off_hp1 filed the visit that passed HP-001 before the sensor found it: the missed
    report is theirs, not their partner's (helpers.build_november)."""
    ids = build_november(db, city)
    result = svc.run(db, NOV, settings, now=AFTER)
    hp1 = _by(result, "officer", city.users["off_hp1"])
    assert hp1.name == "E-HP off_hp1" and hp1.grid_id == city.grids["E-HP"]
    assert hp1.unit_id == city.units["bureau_heping"]  # the station's L2 unit assesses
    assert _item(hp1, "coverage")["value"] == pytest.approx(1 / 3, abs=1e-4)
    assert _item(hp1, "coverage")["points"] == -13.33  # 66.67 points below × 0.2
    missed = _item(hp1, "missed_reports")
    assert missed["evidence"] == [{"kind": "case", "id": ids["sensor"],
                                   "key": f"case:{ids['sensor']}",
                                   "detail": f"visit:{ids['visit']}"}]  # fmt: skip
    assert hp1.score == 81.67
    hp2 = _by(result, "officer", city.users["off_hp2"])
    assert _item(hp2, "missed_reports")["points"] == 0
    assert _item(hp2, "coverage")["points"] == -20.0 and hp2.score == 80.0
    sf1 = _by(result, "officer", city.users["off_sf1"])
    assert sf1.unit_id == city.units["safety"] and sf1.score == 80.0


def test_an_officers_plan_days_cases_and_finds(db: Session, city: City, settings: Settings) -> None:
    """A walked-together plan day counts for each officer by their own visits; a case the
    officer is responsible for, closed late, is theirs; a case they reported earns."""
    from dustgrid.cases.models import Case
    from dustgrid.cases.states import CaseSource, CaseState
    from dustgrid.inspections.models import Inspection, InspectionMode, InspectionResult
    from dustgrid.patrols.models import PatrolPlan, PatrolStop

    build_november(db, city)
    grid, hp = city.grids["E-HP"], [city.sites[f"HP-00{i}"] for i in (1, 2, 3)]
    group = next(s for s in svc.run(db, NOV, settings, now=AFTER).scores
                 if s.kind == "officer_group" and s.grid_id == grid)  # fmt: skip
    plan = PatrolPlan(grid_id=grid, group_id=group.party_id, period_start=local(16).date(),
                      period_end=local(29).date(), kind="fortnightly", policy_version="2026.1",
                      shortfall=0, shortfall_site_ids=[])  # fmt: skip
    db.add(plan)
    db.flush()
    # 17 Nov: three stops together; off_hp2 files two visits, off_hp1 none
    db.add_all([PatrolStop(plan_id=plan.id, member_user_id=None, day=local(17).date(), seq=n,
                           site_id=s) for n, s in enumerate(hp, 1)])  # fmt: skip
    db.add_all([Inspection(
        idempotency_key=f"officer-{s}", site_id=s, inspector_id=city.users["off_hp2"],
        group_id=group.party_id, mode=InspectionMode.on_site,
        result=InspectionResult.nothing_found, template_version="2026.1",
        checked_in_at=local(17, 9 + n), submitted_at=local(17, 10 + n),
    ) for n, s in enumerate(hp[1:])])  # fmt: skip
    late = Case(
        source=CaseSource.enforcement_officer, state=CaseState.handling, site_id=hp[1],
        district_id=city.districts["heping"], category="bare_soil_uncovered",
        description="裸土未覆盖", severity="medium", reporter_id=city.users["off_hp2"],
        responsible_user_id=city.users["off_hp2"], opened_at=local(17, 11),
        deadline_at=local(24), closed_at=local(26),
    )  # fmt: skip
    db.add(late)
    db.flush()
    result = svc.run(db, NOV, settings, now=AFTER)
    hp1 = _by(result, "officer", city.users["off_hp1"])
    hp2 = _by(result, "officer", city.users["off_hp2"])
    # off_hp1: 17 Nov short (0 of the quota 2) → −1 more: 81.67 − 1
    assert [e["detail"] for e in _item(hp1, "patrol_frequency")["evidence"]] == ["0/2"]
    assert hp1.score == 80.67
    # off_hp2: 2 of 3 sites (−6.67), the day met (2/2), the find (+0.5), late (−2)
    assert _item(hp2, "patrol_frequency")["points"] == 0
    assert _item(hp2, "coverage")["points"] == -6.67
    assert _item(hp2, "problems_found")["evidence"][0]["id"] == late.id
    assert [e["id"] for e in _item(hp2, "handled_on_time")["evidence"]] == [late.id]
    assert hp2.score == pytest.approx(100 - 6.67 + 0.5 - 2, abs=0.001)


def test_the_gate_is_the_state_at_the_months_end(
    db: Session, city: City, settings: Settings
) -> None:
    """The L2 unit's connect-before-waste item is read at the month's end from the
    records: a monitor offline over the end closes HP-001's gate (−2 more); a camera
    removed after the month's end still counted for November."""
    from dustgrid.devices.models import Device, OfflinePeriod

    ids = build_november(db, city)
    db.add(OfflinePeriod(device_id=ids["monitor"], started_at=local(30, 20),
                         detected_at=local(30, 20)))  # fmt: skip
    camera = db.get(Device, ids["camera"])
    assert camera is not None
    camera.removed_at = local(5, 9, month=12)  # gone in December
    db.flush()
    heping = _by(svc.run(db, NOV, settings, now=local(6, 9, month=12)), "l2_unit",
                 city.units["bureau_heping"])  # fmt: skip
    gate = _item(heping, "connect_gate")
    assert [(e["id"], e["detail"]) for e in gate["evidence"]] == [
        (city.sites["HP-001"], "no_monitor_connected"),
        (city.sites["HP-002"], "nothing_connected"),
        (city.sites["HP-003"], "nothing_connected")]  # fmt: skip
    assert gate["points"] == -6.0 and heping.score == 54.0


def test_the_provider_score_uses_the_latest_measured_stream(
    db: Session, city: City, settings: Settings
) -> None:
    """The camera is typed 1280×720 (−10). A stream check in the month measuring
    1920×1080 clears it; a later one in the month measuring 1920×1079 costs it again; a
    check after the month's end does not count for November."""
    from dustgrid.devices.models import CameraStreamCheck

    ids = build_november(db, city)
    gamma = city.enterprises["gamma"]

    def main_stream() -> dict:  # type: ignore[type-arg]
        result = svc.run(db, NOV, settings, now=AFTER)
        return _item(_by(result, "provider", gamma), "main_stream")

    typed = main_stream()
    assert typed["points"] == -10.0 and typed["evidence"][0] == {
        "kind": "device", "id": ids["camera"], "key": f"device:{ids['camera']}",
        "detail": "1280x720"}  # fmt: skip

    def check(day: int, size: tuple[int, int], month: int = 11) -> None:
        db.add(CameraStreamCheck(
            device_id=ids["camera"], checked_at=local(day, 10, month=month), ok=True,
            main_stream_width=size[0], main_stream_height=size[1], recorded_at=AFTER,
        ))  # fmt: skip
        db.flush()

    check(10, (1920, 1080))
    assert main_stream()["points"] == 0  # measured at the line: passes
    check(20, (1920, 1079))
    low = main_stream()
    assert low["points"] == -10.0
    assert low["evidence"][0]["day"] == "2026-11-20" and low["evidence"][0]["detail"] == "1920x1079"
    check(1, (1920, 1080), month=12)  # after November: not November's
    assert main_stream()["points"] == -10.0
    # a check that measured nothing leaves the latest measurement standing
    db.add(CameraStreamCheck(device_id=ids["camera"], checked_at=local(25), ok=False,
                             recorded_at=AFTER))  # fmt: skip
    db.flush()
    assert main_stream()["evidence"][0]["day"] == "2026-11-20"
