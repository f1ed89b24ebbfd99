"""Quarantine (issue 9): one row per MN and reason, samples any backend stores, and an
adoption list without registered devices. Runs on PostgreSQL with ``--dburl`` too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.devices import quarantine, service
from dustgrid.devices.models import QuarantinedMN
from tests.devices.conftest import Fleet

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
NUL_FRAME = "##0101QN=20160801085857223;ST=39;CN=2011;PW=1\x00\x00;MN=NUL0001;CP=&&&&1C80\r\n"


def _rows(db: Session, mn: str) -> list[QuarantinedMN]:
    stmt = select(QuarantinedMN).where(QuarantinedMN.mn == mn).order_by(QuarantinedMN.reason)
    return list(db.scalars(stmt))


def test_a_later_reason_does_not_overwrite_the_first(db: Session, fleet: Fleet) -> None:
    mn = fleet.mns["hp1"]
    for minutes, reason in ((0, "bad_password"), (1, "bad_password"), (2, "crc_variant")):
        service.record_quarantine(
            db, mn=mn, reason=reason, peer=f"10.0.0.1:{minutes}", frame_text=f"frame {minutes}",
            at=T0 + timedelta(minutes=minutes),
        )  # fmt: skip
    db.flush()
    rows = _rows(db, mn)
    assert [(r.reason, r.frames) for r in rows] == [("bad_password", 2), ("crc_variant", 1)]
    bad_pw = rows[0]
    assert (bad_pw.first_seen_at, bad_pw.last_seen_at) == (T0, T0 + timedelta(minutes=1))
    assert bad_pw.last_frame == "frame 1" and bad_pw.last_peer == "10.0.0.1:1"


def test_a_sample_with_nul_bytes_is_stored_escaped(db: Session) -> None:
    row = service.record_quarantine(
        db, mn="NUL0001\x00", reason="unknown_mn", peer="10.0.0.9:1", frame_text=NUL_FRAME
    )
    db.flush()  # psycopg.DataError on PostgreSQL before: text cannot hold NUL
    db.expire_all()
    stored = db.get(QuarantinedMN, row.id)
    assert stored is not None and stored.mn == "NUL0001\\x00"
    assert "PW=1\\x00\\x00;" in stored.last_frame and stored.last_frame.endswith("1C80\\r\\n")


def test_registered_devices_are_not_in_the_adoption_list(
    db: Session, fleet: Fleet, principal_of: Callable, api_as: Callable[[str], TestClient]
) -> None:
    service.record_quarantine(db, mn="UNKNOWN0001", reason="unknown_mn", peer="p", frame_text="f")
    service.record_quarantine(
        db, mn=fleet.mns["hp1"], reason="bad_password", peer="p", frame_text="f"
    )
    db.commit()
    admin = principal_of("admin")
    adoptable = {q.mn for q in quarantine.list_quarantine(db, admin)}
    held = {q.mn for q in quarantine.list_quarantine(db, admin, registered=True)}
    assert "UNKNOWN0001" in adoptable and fleet.mns["hp1"] not in adoptable
    assert fleet.mns["hp1"] in held and "UNKNOWN0001" not in held
    c = api_as("admin")
    listed = {row["mn"] for row in c.get("/api/v1/devices/quarantine").json()}
    assert "UNKNOWN0001" in listed and fleet.mns["hp1"] not in listed
    listed = c.get("/api/v1/devices/quarantine", params={"registered": "true"}).json()
    assert [row["reason"] for row in listed if row["mn"] == fleet.mns["hp1"]] == ["bad_password"]


def test_the_page_lists_registered_devices_apart_without_an_adopt_form(
    db: Session, fleet: Fleet, web_as: Callable[[str], TestClient]
) -> None:
    service.record_quarantine(
        db, mn=fleet.mns["hp1"], reason="crc_variant", peer="p", frame_text="f"
    )
    db.commit()
    page = web_as("d_heping").get("/devices/quarantine").text
    adoption, _, registered = page.partition('data-testid="quarantine-registered"')
    assert f'data-mn="{fleet.mns["hp1"]}"' not in adoption
    assert f'data-mn="{fleet.mns["hp1"]}" data-reason="crc_variant"' in registered
    assert "已登记设备被拒收的数据帧" in page


def test_device_api_takes_a_64_character_password_and_refuses_65(
    fleet: Fleet, api_as: Callable[[str], TestClient]
) -> None:
    c = api_as("admin")
    dev = fleet.devices["hp1"]
    r = c.patch(f"/api/v1/devices/{dev}", json={"password": "Zq7Lw2Vd9Kp4Rt6Hy1Nm8Xc3" * 2})
    assert r.status_code == 200, r.text
    r = c.patch(f"/api/v1/devices/{dev}", json={"password": "P" * 65})
    assert r.status_code == 422 and "64" in r.text
    r = c.patch(f"/api/v1/devices/{dev}", json={"password": "a;b"})
    assert r.status_code == 422
