"""Video-AI webhook: a case per site and kind within the window, and every refusal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.cases.models import Case, CaseAttachment
from dustgrid.cases.states import CaseSource
from dustgrid.config import Settings
from dustgrid.devices.models import DeviceKind
from dustgrid.intake.models import VideoAiEvent
from tests.fixtures.city import City
from tests.intake.intake_kit import JPEG, NOT_IMAGE, PNG, b64, camera, hours_ago, iso

URL = "/api/v1/webhooks/video-ai"


@pytest.fixture
def cam(db: Session, city: City) -> Iterator[tuple[str, str]]:
    d, key = camera(db, city)
    db.commit()
    yield d.mn, key


def _event(mn: str, *, kind: str = "bare_soil_uncovered", h: float = 1.0, conf: float = 0.9,
           snapshot: str | None = None, event_id: str | None = None) -> dict:  # fmt: skip
    body: dict[str, object] = {"kind": kind, "device_mn": mn, "time": iso(hours_ago(h)),
                               "confidence": conf, "snapshot": snapshot or b64(JPEG)}  # fmt: skip
    if event_id:
        body["event_id"] = event_id
    return body


def _n_cases(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Case)) or 0)


def test_case_opened_merged_in_window_new_after(
    anon: TestClient, db: Session, city: City, cam: tuple[str, str]
) -> None:
    mn, key = cam
    h = {"X-API-Key": key}
    r = anon.post(URL, json=_event(mn, h=20), headers=h)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["outcome"] == "opened" and first["created"]
    case = db.get(Case, first["case_id"])
    assert case is not None and case.source == CaseSource.video_ai
    assert case.site_id == city.sites["HP-001"] and case.category == "bare_soil_cover"
    assert case.dedup_key == f"video:{city.sites['HP-001']}:bare_soil_uncovered"
    photos = db.scalar(select(func.count()).where(CaseAttachment.case_id == case.id))
    assert photos == 1

    r = anon.post(URL, json=_event(mn, h=17, snapshot=b64(PNG)), headers=h)  # 3 h later
    assert r.status_code == 200 and r.json()["outcome"] == "merged"
    assert r.json()["case_id"] == case.id
    db.refresh(case)
    assert case.merged_count == 1

    other_kind = anon.post(URL, json=_event(mn, kind="dust_plume", h=17), headers=h).json()
    assert other_kind["outcome"] == "opened" and other_kind["case_id"] != case.id

    r = anon.post(URL, json=_event(mn, h=2), headers=h)  # 18 h after the first: new case
    assert r.status_code == 201 and r.json()["case_id"] not in (case.id, other_kind["case_id"])


def test_low_confidence_is_recorded_without_a_case(
    anon: TestClient, db: Session, cam: tuple[str, str]
) -> None:
    mn, key = cam
    before = _n_cases(db)
    r = anon.post(URL, json=_event(mn, conf=0.3), headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["outcome"] == "below_threshold" and out["case_id"] is None
    assert _n_cases(db) == before
    ev = db.get(VideoAiEvent, out["event_id"])
    assert ev is not None and ev.confidence == 0.3 and ev.snapshot_sha256


def test_vendor_event_id_makes_a_resend_harmless(
    anon: TestClient, db: Session, cam: tuple[str, str]
) -> None:
    mn, key = cam
    body = _event(mn, event_id="evt-0001")
    a = anon.post(URL, json=body, headers={"X-API-Key": key}).json()
    b = anon.post(URL, json=body, headers={"X-API-Key": key})
    assert b.status_code == 200
    assert b.json()["duplicate"] and b.json()["case_id"] == a["case_id"]
    assert b.json()["event_id"] == a["event_id"]
    case = db.get(Case, a["case_id"])
    assert case is not None and case.merged_count == 0


def test_bad_snapshots_are_422_naming_the_field_and_leave_nothing(
    anon: TestClient, db: Session, cam: tuple[str, str], settings: Settings
) -> None:
    mn, key = cam
    h = {"X-API-Key": key}
    before = (_n_cases(db), db.scalar(select(func.count()).select_from(VideoAiEvent)))
    r = anon.post(URL, json=_event(mn, snapshot=b64(NOT_IMAGE)), headers=h)
    assert r.status_code == 422 and "snapshot" in r.text
    r = anon.post(URL, json=_event(mn, snapshot="not base64 !!"), headers=h)
    assert r.status_code == 422 and "snapshot" in r.text
    big = JPEG + b"\x00" * (5 * 1024 * 1024)
    r = anon.post(URL, json=_event(mn, snapshot=b64(big)), headers=h)
    assert r.status_code == 422 and "snapshot" in r.text
    r = anon.post(URL, data={k: str(v) for k, v in _event(mn).items() if k != "snapshot"},
                  files={"snapshot": ("s.jpg", NOT_IMAGE, "image/jpeg")}, headers=h)  # fmt: skip
    assert r.status_code == 422 and "snapshot" in r.text
    r = anon.post(URL, json={**_event(mn), "kind": "aliens"}, headers=h)
    assert r.status_code == 422 and "kind" in r.text
    r = anon.post(URL, json=_event(mn, conf=1.5), headers=h)
    assert r.status_code == 422 and "confidence" in r.text
    r = anon.post(URL, json=_event(mn, h=48), headers=h)  # too old
    assert r.status_code == 422 and "time" in r.text
    after = (_n_cases(db), db.scalar(select(func.count()).select_from(VideoAiEvent)))
    assert after == before


def test_multipart_upload_opens_a_case(anon: TestClient, db: Session, cam: tuple[str, str]) -> None:
    mn, key = cam
    fields = {k: str(v) for k, v in _event(mn, kind="hoarding_broken").items() if k != "snapshot"}
    r = anon.post(URL, data=fields, files={"snapshot": ("s.png", PNG, "image/png")},
                  headers={"X-API-Key": key})  # fmt: skip
    assert r.status_code == 201, r.text
    case = db.get(Case, r.json()["case_id"])
    assert case is not None and case.category == "hoarding"


def test_wrong_key_unknown_device_and_non_camera(
    anon: TestClient, db: Session, city: City, cam: tuple[str, str]
) -> None:
    mn, key = cam
    assert anon.post(URL, json=_event(mn)).status_code == 401
    wrong = {"X-API-Key": "dgk_" + "x" * 40}
    assert anon.post(URL, json=_event(mn), headers=wrong).status_code == 401
    assert anon.post(URL, json=_event("OTHERMN"), headers={"X-API-Key": key}).status_code == 401
    _d, monitor_key = camera(db, city, mn="HP001DUSTX", kind=DeviceKind.dust_monitor)
    db.commit()
    r = anon.post(URL, json=_event("HP001DUSTX"), headers={"X-API-Key": monitor_key})
    assert r.status_code == 403


def test_camera_without_site_records_only(anon: TestClient, db: Session, city: City) -> None:
    d, key = camera(db, city, site=None, mn="LOOSECAM01")
    db.commit()
    r = anon.post(URL, json=_event(d.mn), headers={"X-API-Key": key})
    assert r.status_code == 200 and r.json()["outcome"] == "no_site"


def test_key_is_checked_before_the_body_is_read(anon: TestClient) -> None:
    r = anon.post(URL, content=b"\x00" * 1024, headers={"Content-Type": "application/json"})
    assert r.status_code == 401
