"""The assessment pages: a month per kind, a party's items with links to the records,
an appeal filed from the page and decided by L1 from the page."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.assessments import service as svc
from dustgrid.assessments.months import Month
from dustgrid.config import Settings
from tests.assessments.helpers import AFTER, MONTH, build_november
from tests.fixtures.city import City

Web = Callable[[str], TestClient]


def _no_raw_keys(html: str) -> None:
    assert not re.search(r">[^<]*assessments\.[a-z_]+\.[a-z_]+", html), "a raw message key"


def test_month_page_per_kind_and_party_drill_down(
    db: Session, city: City, settings: Settings, web_as: Web
) -> None:
    ids = build_november(db, city)
    svc.close(db, Month(2026, 11), settings, now=AFTER)
    admin = web_as("admin")
    page = admin.get("/assessments", params={"month": MONTH, "kind": "provider"})
    assert page.status_code == 200
    assert (
        "已关账" in page.text
        and "设备服务商" in page.text
        and 'data-testid="score-row"' in page.text
    )
    _no_raw_keys(page.text)
    gamma = city.enterprises["gamma"]
    detail = admin.get(f"/assessments/{MONTH}/provider/{gamma}")
    assert detail.status_code == 200
    html = detail.text
    assert "80.0" in html and "设备离线率（周检）" in html
    assert f'href="/devices/{ids["monitor"]}"' in html  # the offline period's device
    assert f'href="/devices/{ids["camera"]}"' in html  # the low main stream
    _no_raw_keys(html)

    unit = city.units["bureau_heping"]
    page = admin.get(f"/assessments/{MONTH}/l2_unit/{unit}")
    assert f'href="/cases/{ids["dispatched"]}"' in page.text
    assert 'data-testid="appeal-form"' not in page.text  # L1 decides, does not appeal


def test_appeal_from_the_page_and_decision(
    db: Session, city: City, settings: Settings, web_as: Web
) -> None:
    ids = build_november(db, city)
    svc.close(db, Month(2026, 11), settings, now=AFTER)
    unit = city.units["bureau_heping"]
    url = f"/assessments/{MONTH}/l2_unit/{unit}"
    district = web_as("d_heping")
    page = district.get(url)
    assert 'data-testid="appeal-form"' in page.text
    r = district.post(f"{url}/appeal", data={
        "csrf_token": district.csrf, "rule": "city_rectified", "period": "",  # type: ignore[attr-defined]
        "evidence": f"case:{ids['dispatched']}", "reason": "已移交"})  # fmt: skip
    assert r.status_code == 303
    page = district.get(url)
    assert "申诉已提交" in page.text and 'data-state="pending"' in page.text
    assert 'data-testid="decision-form"' not in page.text

    admin = web_as("admin")
    page = admin.get(url)
    appeal_id = re.search(r"/assessments/appeals/(\d+)/decision", page.text)
    assert appeal_id is not None
    r = admin.post(
        f"/assessments/appeals/{appeal_id.group(1)}/decision",
        data={"csrf_token": admin.csrf, "decision": "accept", "note": "属实"},
    )  # type: ignore[attr-defined]
    assert r.status_code == 303
    page = admin.get(url)
    assert 'data-state="accepted"' in page.text and "属实" in page.text
    assert "56.0 → 76.0" in page.text and "申诉裁定后重算" in page.text


def test_contractors_have_no_assessment_and_others_only_their_own(
    db: Session, city: City, settings: Settings, web_as: Web
) -> None:
    build_november(db, city)
    svc.close(db, Month(2026, 11), settings, now=AFTER)
    provider = web_as("prov_gamma").get("/assessments", params={"month": MONTH})
    assert provider.text.count('data-testid="score-row"') == 1
    shenhe = web_as("d_shenhe").get(f"/assessments/{MONTH}/l2_unit/{city.units['bureau_heping']}")
    assert shenhe.status_code == 404
    assert 'href="/assessments"' not in web_as("con_alpha").get("/sites").text
    c = web_as("admin")
    c.get("/lang/en")
    page = c.get("/assessments", params={"month": MONTH})
    assert "Monthly assessment" in page.text and "L2 units" in page.text


def test_l1_computes_and_reruns_from_the_page(
    db: Session, city: City, settings: Settings, web_as: Web
) -> None:
    build_november(db, city)
    admin = web_as("admin")
    r = admin.post("/assessments/run", data={"csrf_token": admin.csrf, "month": MONTH})  # type: ignore[attr-defined]
    assert r.status_code == 303
    page = admin.get(r.headers["location"])
    assert "已按记录计算" in page.text and "未关账" in page.text
    svc.close(db, Month(2026, 11), settings, now=AFTER)
    r = admin.post("/assessments/run", data={"csrf_token": admin.csrf, "month": MONTH,  # type: ignore[attr-defined]
                                             "reason": "补录结案"})  # fmt: skip
    page = admin.get(r.headers["location"])
    assert "得分没有变化" in page.text  # nothing changed in the records: no new version
    district = web_as("d_heping")
    r = district.post("/assessments/run", data={"csrf_token": district.csrf, "month": MONTH})  # type: ignore[attr-defined]
    assert r.status_code == 403


def test_officer_gate_and_measured_stream_pages(
    db: Session, city: City, settings: Settings, web_as: Web
) -> None:
    """The officers' tab and an officer's drill-down (the case and the visit that passed
    the site); the L2 unit's gate evidence links each site; a measured stream names the
    day it was measured."""
    from dustgrid.devices.models import CameraStreamCheck
    from tests.assessments.helpers import local

    ids = build_november(db, city)
    db.add(CameraStreamCheck(device_id=ids["camera"], checked_at=local(20), ok=True,
                             main_stream_width=1919, main_stream_height=1080,
                             recorded_at=local(20)))  # fmt: skip
    db.flush()
    svc.close(db, Month(2026, 11), settings, now=AFTER)
    admin = web_as("admin")
    page = admin.get("/assessments", params={"month": MONTH, "kind": "officer"})
    assert page.status_code == 200 and "执法监督网格员" in page.text
    assert "E-HP off_hp1" in page.text and page.text.count('data-testid="score-row"') == 6
    _no_raw_keys(page.text)
    me = city.users["off_hp1"]
    detail = admin.get(f"/assessments/{MONTH}/officer/{me}").text
    assert "81.7" in detail and "信息漏报" in detail
    assert f'href="/cases/{ids["sensor"]}"' in detail
    assert f'href="/inspections/{ids["visit"]}"' in detail
    _no_raw_keys(detail)
    unit = admin.get(f"/assessments/{MONTH}/l2_unit/{city.units['bureau_heping']}").text
    assert "先接入后产生建筑垃圾" in unit
    assert f'href="/sites/{city.sites["HP-002"]}"' in unit
    assert "视频和扬尘监测设备均未接入" in unit
    _no_raw_keys(unit)
    gamma = admin.get(f"/assessments/{MONTH}/provider/{city.enterprises['gamma']}").text
    assert "1919×1080（2026-11-20 实测）" in gamma
    # the officer sees and may appeal their own score, not their partner's
    own = web_as("off_hp1")
    assert 'data-testid="appeal-form"' in own.get(f"/assessments/{MONTH}/officer/{me}").text
    partner = city.users["off_hp2"]
    assert own.get(f"/assessments/{MONTH}/officer/{partner}").status_code == 404
    c = web_as("admin")
    c.get("/lang/en")
    page = c.get(f"/assessments/{MONTH}/l2_unit/{city.units['bureau_heping']}")
    assert "Connect before waste" in page.text and "nothing_connected" not in page.text
