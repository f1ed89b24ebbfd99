"""Issue 10 §13: a device provider sees its devices' cases only (lists, details, the map,
counts and penalty proposals), not every case of the sites where it has a device."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.alerts.models import Alert
from dustgrid.cases.credit.models import SiteProblem
from dustgrid.cases.models import Case
from dustgrid.cases.states import CaseSource
from dustgrid.config import Settings
from dustgrid.devices.models import Device, DeviceKind, Lifecycle
from tests.cases.case_kit import MONDAY, report
from tests.fixtures.city import City


@pytest.fixture
def cases(db: Session, city: City, settings: Settings) -> dict[str, Case]:
    device = Device(
        mn="PROV-GAMMA-01",
        kind=DeviceKind.dust_monitor,
        site_id=city.sites["HP-001"],
        provider_id=city.enterprises["gamma"],
        lifecycle=Lifecycle.active,
    )
    db.add(device)
    db.flush()
    sensor = report(db, city, settings, by="insp_hp1", description="扬尘监测超标")
    sensor.source = CaseSource.sensor
    db.add(
        Alert(
            kind="offline",
            rule_key="offline",
            site_id=city.sites["HP-001"],
            district_id=city.districts["heping"],
            device_id=device.id,
            started_at=MONDAY,
            case_id=sensor.id,
        )
    )
    # the same site, a case the device has nothing to do with
    other = report(db, city, settings, by="insp_hp1", category="tyre_washing")
    for case in (sensor, other):  # a penalty-ladder proposal on each
        db.add(
            SiteProblem(
                site_id=case.site_id,
                case_id=case.id,
                problem_date=MONDAY.date(),
                nth=1,
                action="warning",
                policy_version="test",
            )
        )
    db.commit()
    return {"device": sensor, "other": other}


def test_provider_sees_only_its_devices_cases(
    api_as: Callable[[str], TestClient], cases: dict[str, Case], city: City
) -> None:
    c = api_as("prov_gamma")
    mine, other = cases["device"].id, cases["other"].id
    assert c.get(f"/api/v1/sites/{city.sites['HP-001']}").status_code == 200  # sees the site
    listed = {i["id"] for i in c.get("/api/v1/cases", params={"size": 200}).json()["items"]}
    assert listed == {mine}
    assert c.get(f"/api/v1/cases/{mine}").status_code == 200
    assert c.get(f"/api/v1/cases/{other}").status_code == 404
    assert {m["id"] for m in c.get("/api/v1/cases/map").json()} <= {mine}
    att = api_as("admin").get(f"/api/v1/cases/{other}").json()["attachments"][0]["url"]
    assert c.get(att).status_code == 404
    board = c.get("/api/v1/cases/board").json()
    assert sum(row["open"] for row in board) <= 1  # aggregates count its cases only
    assert {p["case_id"] for p in c.get("/api/v1/penalties").json()} == {mine}
    # the site's other staff still see both
    both = {i["id"] for i in api_as("d_heping").get("/api/v1/cases").json()["items"]}
    assert {mine, other} <= both


def test_provider_case_pages(
    web_as: Callable[[str], TestClient], cases: dict[str, Case], city: City
) -> None:
    c = web_as("prov_gamma")
    assert c.get(f"/cases/{cases['other'].id}").status_code == 404
    assert c.get(f"/cases/{cases['device'].id}").status_code == 200
    page = c.get("/cases")
    assert f'href="/cases/{cases["other"].id}"' not in page.text
    assert f'href="/cases/{cases["device"].id}"' in page.text
