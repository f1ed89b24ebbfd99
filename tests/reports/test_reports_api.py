"""The JSON API of notices and archives: the same scope as the pages (published notices for
the officials, drafts for L1; a site's archive for who sees the site, a member's for L1,
their district and themself), in the OpenAPI schema with response models."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.assessments import service as assess
from dustgrid.assessments.months import Month
from dustgrid.audit.models import AuditEntry
from dustgrid.auth.models import User
from dustgrid.cases.models import Case
from dustgrid.cases.states import CaseSource, CaseState
from dustgrid.config import Settings
from dustgrid.reports.models import MonthlyNotice
from dustgrid.telemetry.models import Rollup
from tests.assessments.helpers import AFTER, MONTH, build_november, local
from tests.fixtures.city import City
from tests.reports.photos import RED, add_photo

Client = Callable[[str], TestClient]


# The routes these tests walk for scope (tests/auth/walk_registry.py).
WALKED = {
    ("GET", "/api/v1/notices"),
    ("POST", "/api/v1/notices"),
    ("GET", "/api/v1/notices/drafts"),
    ("GET", "/api/v1/notices/drafts/{month}"),
    ("GET", "/api/v1/notices/drafts/{month}/file.{ext}"),
    ("GET", "/api/v1/notices/{notice_id}"),
    ("GET", "/api/v1/notices/{notice_id}/file.{ext}"),
    ("GET", "/api/v1/archives/sites/{site_id}"),
    ("GET", "/api/v1/archives/members/{user_id}"),
    ("GET", "/api/v1/archives/{kind}/{item_id}/file.{ext}"),
}


def _closed_november(db: Session, city: City, settings: Settings) -> dict[str, int]:
    ids = build_november(db, city)
    assess.close(db, Month(2026, 11), settings, now=AFTER)
    db.commit()
    return ids


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _figures(notice: dict[str, object]) -> dict[str, str]:
    return {f["key"]: f["value"] for f in notice["figures"]}  # type: ignore[attr-defined]


def test_publish_list_read_and_download(
    db: Session, city: City, settings: Settings, api_as: Client
) -> None:
    _closed_november(db, city, settings)
    admin = api_as("admin")
    # before publishing: a draft for L1 only
    drafts = admin.get("/api/v1/notices/drafts")
    assert drafts.status_code == 200
    assert drafts.json() == [{
        "month": MONTH, "assessment_state": "closed", "assessment_version": 1,
        "published_id": None, "published_version": None, "up_to_date": False,
        "draft": f"/api/v1/notices/drafts/{MONTH}",
    }]  # fmt: skip
    draft = admin.get(f"/api/v1/notices/drafts/{MONTH}").json()
    assert draft["draft"] is True and draft["id"] is None
    assert draft["title"] == "2026年11月扬尘管控工作月通报"
    assert _figures(draft)["reports.fig.cases_opened"] == "2"
    labels = {f["key"]: f["label"] for f in draft["figures"]}
    assert labels["reports.fig.online_rate"] == "设备在线率"
    units = next(r for r in draft["rankings"] if r["kind"] == "l2_unit")
    assert units["label"] == "二级网格单位" and units["rows"][0]["rank"] == 1
    heping = next(r for r in units["rows"] if r["score"] == 56.0)  # rule set 2026.2
    assert heping["lost"] == -44.0
    xlsx = admin.get(f"/api/v1/notices/drafts/{MONTH}/file.xlsx")
    assert xlsx.status_code == 200 and xlsx.headers["content-disposition"].endswith(
        f'filename="monthly-notice-{MONTH}-draft.xlsx"'
    )
    assert admin.get(f"/api/v1/notices/drafts/{MONTH}/file.doc").status_code == 422
    assert admin.get("/api/v1/notices/drafts/2026-13").status_code == 422
    assert admin.get("/api/v1/notices").json() == []

    # L1 publishes: kept with what it says, audited
    r = admin.post("/api/v1/notices", json={"month": MONTH})
    assert r.status_code == 201, r.text
    published = r.json()
    notice_id = published["id"]
    assert published["draft"] is False and published["content_kept"] is True
    assert published["published_by"] == "admin"
    assert _figures(published) == _figures(draft)
    entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "notice_publish")).one()
    assert entry.entity_id == notice_id
    drafts = admin.get("/api/v1/notices/drafts").json()
    assert drafts[0]["published_id"] == notice_id and drafts[0]["up_to_date"] is True

    # an official of a district lists and reads it, and downloads the kept files
    district = api_as("d_heping")
    listed = district.get("/api/v1/notices").json()
    assert [(n["id"], n["month"], n["assessment_state"]) for n in listed] == [
        (notice_id, MONTH, "closed")
    ]
    assert listed[0]["files"]["pdf"] == f"/api/v1/notices/{notice_id}/file.pdf"
    one = district.get(f"/api/v1/notices/{notice_id}").json()
    assert _figures(one) == _figures(draft) and one["black"] == draft["black"]
    pdf = district.get(f"/api/v1/notices/{notice_id}/file.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    kept = district.get(f"/api/v1/notices/{notice_id}/file.xlsx")
    sheet = load_workbook(io.BytesIO(kept.content))["主要指标"]
    in_file = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert in_file["本月立案数"] == _figures(one)["reports.fig.cases_opened"]

    # the records change after publishing: the notice says what it said, the draft moves on
    db.add(Case(source=CaseSource.sensor, state=CaseState.reported, site_id=city.sites["HP-002"],
                district_id=city.districts["heping"], category="dust_exceedance",
                description="扬尘监测超标", severity="low", opened_at=local(20)))  # fmt: skip
    db.commit()
    again = district.get(f"/api/v1/notices/{notice_id}").json()
    assert _figures(again)["reports.fig.cases_opened"] == "2"
    assert (
        _figures(admin.get(f"/api/v1/notices/drafts/{MONTH}").json())["reports.fig.cases_opened"]
        == "3"
    )

    # refusals: drafts and publishing are L1's; companies read no notices
    assert district.get("/api/v1/notices/drafts").status_code == 403
    assert district.get(f"/api/v1/notices/drafts/{MONTH}").status_code == 403
    assert district.get(f"/api/v1/notices/drafts/{MONTH}/file.pdf").status_code == 403
    assert district.post("/api/v1/notices", json={"month": MONTH}).status_code == 403
    assert len(db.scalars(select(MonthlyNotice)).all()) == 1
    contractor = api_as("con_alpha")
    assert contractor.get("/api/v1/notices").status_code == 403
    assert contractor.get(f"/api/v1/notices/{notice_id}").status_code == 403
    assert contractor.get(f"/api/v1/notices/{notice_id}/file.pdf").status_code == 403
    assert district.get("/api/v1/notices/999").status_code == 404
    assert district.get(f"/api/v1/notices/{notice_id}/file.doc").status_code == 422
    assert TestClient(district.app).get("/api/v1/notices").status_code == 401


def test_notice_in_the_readers_language_and_one_published_before_content_was_kept(
    db: Session, city: City, settings: Settings, api_as: Client
) -> None:
    _closed_november(db, city, settings)
    user = db.get(User, city.users["d_heping"])
    assert user is not None
    user.locale = "en"
    db.commit()
    notice_id = api_as("admin").post("/api/v1/notices", json={"month": MONTH}).json()["id"]
    english = api_as("d_heping").get(f"/api/v1/notices/{notice_id}").json()
    labels = {f["key"]: f["label"] for f in english["figures"]}
    assert labels["reports.fig.online_rate"] == "Device online rate"
    row = db.get(MonthlyNotice, notice_id)
    assert row is not None
    row.content = None  # as published before migration 0028
    db.commit()
    old = api_as("d_heping").get(f"/api/v1/notices/{notice_id}").json()
    assert old["content_kept"] is False and old["figures"] == [] and old["rankings"] == []
    assert old["month"] == MONTH and old["files"]["pdf"].endswith("/file.pdf")


def test_site_archive_json_and_scope(
    db: Session, city: City, settings: Settings, api_as: Client
) -> None:
    ids = build_november(db, city)
    photo = add_photo(db, settings, ids["visit"], color=RED, item_code="hoarding",
                      taken=local(3, 9))  # fmt: skip
    site = city.sites["HP-001"]
    db.add(Rollup(device_id=ids["monitor"], metric="pm10", period="1d",
                  period_start=datetime(2026, 11, 4, 16, tzinfo=UTC), site_id=site, mean=80.0,
                  max=120.0))  # fmt: skip
    db.commit()
    body = api_as("admin").get(f"/api/v1/archives/sites/{site}").json()
    assert body["site"]["project_code"] == "HP-001" and body["site"]["grade_label"] == "不达标"
    [visit] = body["inspections"]
    assert visit["id"] == ids["visit"] and visit["inspector_name"] == "off_hp1"
    assert visit["mode"] == "on_site" and visit["result"] == "nothing_found"
    [ph] = visit["photos"]
    assert ph["id"] == photo.id and ph["item_label"] == "围挡连续设置"
    assert ph["url"] == f"/api/v1/inspections/{ids['visit']}/photos/{photo.id}"
    assert _moment(ph["taken_at"]) == local(3, 9)
    assert {c["id"] for c in body["cases"]} == {ids["dispatched"], ids["sensor"]}
    [period] = body["device_periods"]
    assert period["device_id"] == ids["monitor"] and period["device_kind"] == "dust_monitor"
    assert _moment(period["started_at"]) == local(2, 0)
    assert _moment(period["ended_at"]) == local(4, 0) and period["repair_days"] == 2.0
    assert body["sensor_stats"] == [
        {"month": "2026-11", "metric": "pm10", "mean": 80.0, "peak": 120.0, "days": 1}
    ]
    assert body["grades"] == [] and body["alerts"] == []
    assert body["files"]["pdf"] == f"/api/v1/archives/sites/{site}/file.pdf"

    # the same scope as the site ledger
    assert api_as("d_heping").get(f"/api/v1/archives/sites/{site}").status_code == 200
    assert api_as("con_alpha").get(f"/api/v1/archives/sites/{site}").status_code == 200
    assert api_as("d_shenhe").get(f"/api/v1/archives/sites/{site}").status_code == 404
    assert api_as("con_beta").get(f"/api/v1/archives/sites/{site}").status_code == 404
    assert api_as("d_shenhe").get(f"/api/v1/archives/sites/{site}/file.pdf").status_code == 404
    assert api_as("con_beta").get(f"/api/v1/archives/sites/{site}/file.xlsx").status_code == 404
    shenhe = city.sites["SH-001"]  # a district never reads another district's site
    assert api_as("d_heping").get(f"/api/v1/archives/sites/{shenhe}").status_code == 404
    assert api_as("d_shenhe").get(f"/api/v1/archives/sites/{shenhe}").status_code == 200
    pdf = api_as("con_alpha").get(f"/api/v1/archives/sites/{site}/file.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"].endswith(f'filename="site-archive-{site}.pdf"')
    xlsx = api_as("admin").get(f"/api/v1/archives/sites/{site}/file.xlsx")
    rows = list(load_workbook(io.BytesIO(xlsx.content))["巡查照片"].iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][4].endswith(f"/photos/{photo.id}")
    assert api_as("admin").get(f"/api/v1/archives/sites/{site}/file.doc").status_code == 422
    assert api_as("admin").get("/api/v1/archives/sites/999999").status_code == 404


def test_member_archive_json_and_scope(
    db: Session, city: City, settings: Settings, api_as: Client
) -> None:
    ids = _closed_november(db, city, settings)
    member = city.users["off_hp1"]
    body = api_as("admin").get(f"/api/v1/archives/members/{member}").json()
    assert body["member"]["display_name"] == "off_hp1" and body["member"]["role"] == "officer"
    assert body["member"]["unit_id"] == city.units["station_heping"]
    assert [(v["id"], v["site_name"], v["photo_count"]) for v in body["visits"]] == [
        (ids["visit"], "和平区中山路住宅项目", 0)
    ]
    assert body["coverage"] == [{"month": MONTH, "visits": 1, "sites": 1, "days": 1}]
    [score] = [s for s in body["scores"] if s["month"] == MONTH]
    assert score["kind"] == "officer_group" and score["group_name"] == "E-HP E-HP 组"
    scored = api_as("admin").get("/api/v1/assessments", params={"month": MONTH}).json()
    group = next(s for s in scored["scores"] if s["kind"] == "officer_group"
                 and s["id"] == score["group_id"])  # fmt: skip
    assert score["score"] == group["score"] < 100  # the group's score, as assessed
    assert body["files"]["xlsx"] == f"/api/v1/archives/members/{member}/file.xlsx"

    # L1, the member's district and the member read it; nobody else
    assert api_as("d_heping").get(f"/api/v1/archives/members/{member}").status_code == 200
    assert api_as("viewer_heping").get(f"/api/v1/archives/members/{member}").status_code == 200
    assert api_as("off_hp1").get(f"/api/v1/archives/members/{member}").status_code == 200
    for who in ("d_shenhe", "off_hp2", "con_alpha", "prov_gamma"):
        assert api_as(who).get(f"/api/v1/archives/members/{member}").status_code == 404, who
    assert api_as("d_shenhe").get(f"/api/v1/archives/members/{member}/file.pdf").status_code == 404
    xlsx = api_as("off_hp1").get(f"/api/v1/archives/members/{member}/file.xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")
    # accounts that are not grid members have no archive
    admin_id = city.users["admin"]
    assert api_as("admin").get(f"/api/v1/archives/members/{admin_id}").status_code == 404


def test_routes_are_in_openapi_with_response_models(anon: TestClient) -> None:
    paths = anon.get("/openapi.json").json()["paths"]
    expected = {
        "/api/v1/notices": ("get", "post"),
        "/api/v1/notices/drafts": ("get",),
        "/api/v1/notices/drafts/{month}": ("get",),
        "/api/v1/notices/{notice_id}": ("get",),
        "/api/v1/archives/sites/{site_id}": ("get",),
        "/api/v1/archives/members/{user_id}": ("get",),
    }
    for path, methods in expected.items():
        for method in methods:
            ok = paths[path][method]["responses"]
            schema = ok.get("200", ok.get("201"))["content"]["application/json"]["schema"]
            assert "$ref" in schema or schema.get("type") == "array", (path, method)
    files = paths["/api/v1/archives/{kind}/{item_id}/file.{ext}"]["get"]
    assert set(files["responses"]["200"]["content"]) >= {"application/pdf"}
    site = paths["/api/v1/archives/sites/{site_id}"]["get"]["responses"]["200"]
    assert site["content"]["application/json"]["schema"]["$ref"].endswith("/SiteArchiveOut")
