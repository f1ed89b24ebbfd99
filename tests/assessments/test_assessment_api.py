"""`/api/v1/assessments`: scope per role; an appeal changes a score with the decision on
record."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.assessments import service as svc
from dustgrid.assessments.months import Month
from dustgrid.audit.models import AuditEntry
from dustgrid.config import Settings
from tests.assessments.helpers import AFTER, MONTH, build_november
from tests.fixtures.city import City

WALKED = {
    ("GET", "/api/v1/assessments"),
    ("GET", "/api/v1/assessments/appeals"),
    ("POST", "/api/v1/assessments/appeals"),
    ("POST", "/api/v1/assessments/appeals/{appeal_id}/decision"),
}

Api = Callable[[str], TestClient]


def _closed_november(db: Session, city: City, settings: Settings) -> dict[str, int]:
    ids = build_november(db, city)
    svc.close(db, Month(2026, 11), settings, now=AFTER)
    return ids


def _parties(c: TestClient) -> set[tuple[str, int]]:
    r = c.get("/api/v1/assessments", params={"month": MONTH})
    assert r.status_code == 200, r.text
    return {(s["kind"], s["id"]) for s in r.json()["scores"]}


def test_each_role_sees_its_own_scores(
    db: Session, city: City, settings: Settings, api_as: Api
) -> None:
    _closed_november(db, city, settings)
    every = _parties(api_as("admin"))
    kinds = {k for k, _ in every}
    assert kinds == {"l2_unit", "officer_group", "officer", "inspector_group", "provider"}
    assert ("provider", city.enterprises["gamma"]) in every

    heping = _parties(api_as("d_heping"))
    assert ("l2_unit", city.units["bureau_heping"]) in heping
    assert ("l2_unit", city.units["bureau_shenhe"]) not in heping
    assert not any(k == "provider" for k, _ in heping)
    assert {k for k, _ in heping} == {"l2_unit", "officer_group", "officer", "inspector_group"}
    # its officers (of E-HP, whose station answers to it), not the safety station's
    assert ("officer", city.users["off_hp1"]) in heping
    assert ("officer", city.users["off_sf1"]) not in heping
    # the city safety station's group in 和平 is not the district bureau's
    assert ("l2_unit", city.units["safety"]) in _parties(api_as("safety_admin"))

    assert _parties(api_as("prov_gamma")) == {("provider", city.enterprises["gamma"])}
    assert _parties(api_as("con_alpha")) == set()
    officer = _parties(api_as("off_hp1"))
    # their group and their own score, not their partner's
    assert {k for k, _ in officer} == {"officer_group", "officer"} and len(officer) == 2
    assert ("officer", city.users["off_hp1"]) in officer
    # the station (L3) sees its grid's officers, not another station's
    station = _parties(api_as("st_heping"))
    assert {("officer", city.users["off_hp1"]), ("officer", city.users["off_hp2"])} <= station
    assert ("officer", city.users["off_sh1"]) not in station


def test_bad_month_and_kind_say_what_is_wrong(api_as: Api) -> None:
    c = api_as("admin")
    r = c.get("/api/v1/assessments", params={"month": "2026-13"})
    assert r.status_code == 422 and "2026-13" in r.text
    r = c.get("/api/v1/assessments", params={"month": MONTH, "kind": "people"})
    assert r.status_code == 422 and "people" in r.text
    r = c.get("/api/v1/assessments", params={"month": MONTH})
    assert r.status_code == 200 and r.json()["scores"] == []  # not run yet


def test_an_accepted_appeal_changes_the_score_with_the_decision_on_record(
    db: Session, city: City, settings: Settings, api_as: Api
) -> None:
    ids = _closed_november(db, city, settings)
    unit = city.units["bureau_heping"]
    district, admin = api_as("d_heping"), api_as("admin")

    def heping() -> dict:  # type: ignore[type-arg]
        r = admin.get("/api/v1/assessments", params={"month": MONTH, "kind": "l2_unit"})
        return next(s for s in r.json()["scores"] if s["id"] == unit)

    assert heping()["score"] == 56.0
    body = {
        "month": MONTH,
        "kind": "l2_unit",
        "party_id": unit,
        "rule": "city_rectified",
        "evidence": f"case:{ids['dispatched']}",
        "reason": "该案件已转市安全监督站办理",
    }
    # L1 does not appeal; another district cannot appeal 和平's deduction
    assert admin.post("/api/v1/assessments/appeals", json=body).status_code == 403
    assert api_as("d_shenhe").post("/api/v1/assessments/appeals", json=body).status_code == 404
    # an item without a deduction cannot be appealed
    nothing = {**body, "rule": "ledger_missing", "evidence": ""}
    assert district.post("/api/v1/assessments/appeals", json=nothing).status_code == 422

    r = district.post("/api/v1/assessments/appeals", json=body)
    assert r.status_code == 201, r.text
    appeal = r.json()
    assert appeal["state"] == "pending" and appeal["score_before"] == 56.0
    assert district.post("/api/v1/assessments/appeals", json=body).status_code == 409

    decision = f"/api/v1/assessments/appeals/{appeal['id']}/decision"
    assert district.post(decision, json={"accept": True, "note": "x"}).status_code == 403
    r = admin.post(decision, json={"accept": True, "note": "经核实，案件已移交"})
    assert r.status_code == 200, r.text
    decided = r.json()
    assert decided["state"] == "accepted" and decided["note"] == "经核实，案件已移交"
    assert decided["score_after"] == 76.0 and decided["version_after"] == 2

    now = heping()
    assert now["score"] == 76.0
    item = next(i for i in now["items"] if i["rule"] == "city_rectified")
    assert item["points"] == 0.0 and item["value"] == 1.0
    month = admin.get("/api/v1/assessments", params={"month": MONTH}).json()
    assert month["state"] == "closed" and month["version"] == 2
    assert [(r["version"], r["reason"], r["appeal_id"]) for r in month["runs"]] == [
        (1, "closed", None), (2, "appeal", appeal["id"])]  # fmt: skip
    # every other score is the closed month's, unchanged
    before = {(s.kind, s.party_id): s.score for s in svc.repo.scores(db, MONTH, 1)}
    after = {(s["kind"], s["id"]): s["score"] for s in month["scores"]}
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {("l2_unit", unit)}
    # decided once; the district sees the decision
    assert admin.post(decision, json={"accept": False, "note": "再议"}).status_code == 409
    seen = district.get("/api/v1/assessments/appeals", params={"month": MONTH}).json()
    assert [(a["id"], a["state"]) for a in seen] == [(appeal["id"], "accepted")]
    other = api_as("d_shenhe").get("/api/v1/assessments/appeals", params={"month": MONTH})
    assert other.json() == []
    audit = set(db.scalars(select(AuditEntry.action).where(
        AuditEntry.entity_type == "assessment_appeal")))  # fmt: skip
    assert audit == {"assessment.appeal", "assessment.appeal_decided"}


def test_a_rejected_appeal_keeps_the_score(
    db: Session, city: City, settings: Settings, api_as: Api
) -> None:
    _closed_november(db, city, settings)
    gamma = city.enterprises["gamma"]
    body = {"month": MONTH, "kind": "provider", "party_id": gamma, "rule": "main_stream",
            "reason": "摄像机已更换"}  # fmt: skip
    r = api_as("prov_gamma").post("/api/v1/assessments/appeals", json=body)
    assert r.status_code == 201, r.text
    r = api_as("admin").post(
        f"/api/v1/assessments/appeals/{r.json()['id']}/decision",
        json={"accept": False, "note": "无更换记录"},
    )
    assert r.json()["state"] == "rejected" and r.json()["score_after"] == 80.0
    month = api_as("prov_gamma").get("/api/v1/assessments", params={"month": MONTH}).json()
    assert month["version"] == 1 and month["scores"][0]["score"] == 80.0


def test_an_officer_appeals_their_own_deduction(
    db: Session, city: City, settings: Settings, api_as: Api
) -> None:
    """off_hp1 appeals the missed report charged to them; their partner cannot; L1 accepts
    and only off_hp1's score moves (the group keeps its own deduction)."""
    ids = _closed_november(db, city, settings)
    me = city.users["off_hp1"]
    body = {"month": MONTH, "kind": "officer", "party_id": me, "rule": "missed_reports",
            "evidence": f"case:{ids['sensor']}", "reason": "超标发生在巡查一周后"}  # fmt: skip
    # the partner does not see off_hp1's score, so cannot appeal it
    assert api_as("off_hp2").post("/api/v1/assessments/appeals", json=body).status_code == 404
    r = api_as("off_hp1").post("/api/v1/assessments/appeals", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["score_before"] == 81.67
    # the L2 unit answering for the officer sees the appeal
    seen = api_as("d_heping").get("/api/v1/assessments/appeals", params={"month": MONTH})
    assert [a["id"] for a in seen.json()] == [r.json()["id"]]
    r = api_as("admin").post(f"/api/v1/assessments/appeals/{r.json()['id']}/decision",
                             json={"accept": True, "note": "经核实，超标与巡查无关"})  # fmt: skip
    assert r.status_code == 200 and r.json()["score_after"] == 86.67
    month = api_as("admin").get("/api/v1/assessments", params={"month": MONTH}).json()
    assert month["version"] == 2 and month["runs"][-1]["reason"] == "appeal"
    before = {(s.kind, s.party_id): s.score for s in svc.repo.scores(db, MONTH, 1)}
    after = {(s["kind"], s["id"]): s["score"] for s in month["scores"]}
    assert {k for k in before if before[k] != after[k]} == {("officer", me)}
    mine = next(s for s in month["scores"] if (s["kind"], s["id"]) == ("officer", me))
    item = next(i for i in mine["items"] if i["rule"] == "missed_reports")
    assert item["points"] == 0 and item["evidence"] == []
