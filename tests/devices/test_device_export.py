"""The device list's export: the page's filters, the reader's scope, labels not keys."""

from __future__ import annotations

import io
from collections.abc import Callable

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.devices.conftest import Fleet

Client = Callable[[str], TestClient]


def table(content: bytes) -> list[tuple[object, ...]]:
    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    return [tuple(r) for r in ws.iter_rows(values_only=True)]


def api_mns(client: TestClient, **params: str) -> list[str]:
    items = client.get("/api/v1/devices", params={"size": "100", **params}).json()["items"]
    return [i["mn"] for i in items]


def test_export_is_the_filtered_list(web_as: Client, api_as: Client, fleet: Fleet) -> None:
    admin = web_as("admin")
    page = admin.get("/devices", params={"kind": "dust_monitor"})
    assert "/devices/export.xlsx?kind=dust_monitor" in page.text
    rows = table(admin.get("/devices/export.xlsx", params={"kind": "dust_monitor"}).content)
    assert rows[0][:3] == ("设备编号（MN）", "设备名称", "设备类型")
    assert [r[0] for r in rows[1:]] == api_mns(api_as("admin"), kind="dust_monitor")
    assert {r[0] for r in rows[1:]} == {fleet.mns[k] for k in ("hp1", "sh1", "m01")}
    hp1 = next(r for r in rows if r[0] == fleet.mns["hp1"])
    assert hp1[2] == "扬尘监测仪" and hp1[6] == "离线" and hp1[7] == "从未上报"
    assert "dust_monitor" not in hp1 and "active" not in hp1


def test_export_keeps_to_the_readers_scope(web_as: Client, api_as: Client, fleet: Fleet) -> None:
    rows = table(web_as("con_beta").get("/devices/export.xlsx").content)
    assert [r[0] for r in rows[1:]] == api_mns(api_as("con_beta"))
    assert fleet.mns["hp1"] not in {r[0] for r in rows}


def test_export_in_english(web_as: Client, fleet: Fleet) -> None:
    client = web_as("admin")
    client.cookies.set("lang", "en")
    rows = table(client.get("/devices/export.xlsx").content)
    assert rows[0][0] == "Device (MN)"
    assert len(rows) - 1 == len(fleet.devices)
