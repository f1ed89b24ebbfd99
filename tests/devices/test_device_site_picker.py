"""Issue 13: the device forms name a site with the searchable site picker (no select box of
every site): a move request and adopting a quarantined device, without a script."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.devices import service
from dustgrid.devices.models import Device, DeviceChangeRequest
from tests.devices.conftest import Fleet
from tests.fixtures.city import City

Web = Callable[[str], TestClient]


def test_a_move_request_names_the_new_site_by_text(
    web_as: Web, fleet: Fleet, db: Session, city: City
) -> None:
    hp1 = fleet.devices["hp1"]
    con = web_as("con_alpha")
    page = con.get(f"/devices/{hp1}").text
    assert 'name="new_site_id_q"' in page and 'select name="new_site_id"' not in page
    form = {"csrf_token": con.csrf, "kind": "move", "reason": "基坑开挖"}  # type: ignore[attr-defined]
    con.post(f"/devices/{hp1}/requests", data={**form, "new_site_id_q": "沈河区"})
    assert "未找到与“沈河区”相符的工地" in con.get(f"/devices/{hp1}").text  # not its site
    r = con.post(f"/devices/{hp1}/requests", data={**form, "new_site_id_q": "南京街"})
    assert r.status_code == 303
    req = db.scalar(select(DeviceChangeRequest).where(DeviceChangeRequest.device_id == hp1))
    assert req is not None and req.new_site_id == city.sites["HP-002"]


def test_adopting_a_quarantined_device_names_its_site_by_text(
    web_as: Web, db: Session, city: City, fleet: Fleet
) -> None:
    service.record_quarantine(
        db, mn="UNK00077", reason="unknown_mn", peer="1.2.3.4:5", frame_text="##0101QN"
    )
    db.commit()
    c = web_as("admin")
    page = c.get("/devices/quarantine").text
    qid = re.search(r'action="/devices/quarantine/(\d+)/adopt"', page)
    assert qid is not None and f'id="site_id-{qid.group(1)}-q"' in page
    r = c.post(
        f"/devices/quarantine/{qid.group(1)}/adopt",
        data={"csrf_token": c.csrf, "kind": "dust_monitor", "site_id_q": "SH-003"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 303
    device = db.scalar(select(Device).where(Device.mn == "UNK00077"))
    assert device is not None and device.site_id == city.sites["SH-003"]
