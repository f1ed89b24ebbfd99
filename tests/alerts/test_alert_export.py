"""The alert list's export: the page's filters, the reader's scope, labels not keys."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from tests.alerts.alert_kit import add_device, alerts_of, local, rows, run, store, use_rule
from tests.fixtures.city import City

Client = Callable[[str], TestClient]
SHANGHAI = "shanghai-db31-964-2016"


@pytest.fixture
def alerted(db: Session, city: City) -> dict[str, int]:
    """An active exceedance alert at HP-001 and one at SH-001."""
    use_rule(db, city, SHANGHAI)
    for code in ("HP-001", "SH-001"):
        district = "heping" if code.startswith("HP") else "shenhe"
        dev = add_device(db, city, f"EXP{code.replace('-', '')}00001", site=code, district=district)
        store(
            db,
            rows(dev.id, "pm10", local(2026, 11, 20, 10, 0), [180.0] * 30),
            local(2026, 11, 20, 10, 31),
        )
    run(db, local(2026, 11, 20, 10, 33))
    ids = {code: alerts_of(db, city.sites[code])[0].id for code in ("HP-001", "SH-001")}
    db.commit()
    return ids


def table(content: bytes) -> list[tuple[object, ...]]:
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def api_ids(client: TestClient, **params: str) -> list[int]:
    return [a["id"] for a in client.get("/api/v1/alerts", params=params).json()["items"]]


def test_export_is_the_scoped_filtered_list(
    web_as: Client, api_as: Client, city: City, alerted: dict[str, int]
) -> None:
    admin = web_as("admin")
    sh = str(city.districts["shenhe"])
    page = admin.get("/alerts", params={"district_id": sh})
    assert f"/alerts/export.xlsx?district_id={sh}" in page.text
    rows_ = table(admin.get("/alerts/export.xlsx", params={"district_id": sh}).content)
    assert rows_[0][:4] == ("告警编号", "状态", "严重程度", "类型")
    assert [r[0] for r in rows_[1:]] == api_ids(api_as("admin"), district_id=sh)
    assert [r[0] for r in rows_[1:]] == [alerted["SH-001"]]
    row = rows_[1]
    assert row[4] == "沈河区" and "active" not in row and "exceedance" not in row
    everything = table(admin.get("/alerts/export.xlsx").content)
    assert {r[0] for r in everything[1:]} == set(alerted.values())


def test_export_keeps_to_the_readers_scope(web_as: Client, alerted: dict[str, int]) -> None:
    rows_ = table(web_as("d_heping").get("/alerts/export.xlsx").content)
    assert [r[0] for r in rows_[1:]] == [alerted["HP-001"]]


def test_export_in_english(web_as: Client, alerted: dict[str, int]) -> None:
    client = web_as("admin")
    client.cookies.set("lang", "en")
    rows_ = table(client.get("/alerts/export.xlsx").content)
    assert rows_[0][:2] == ("Alert no.", "State")
