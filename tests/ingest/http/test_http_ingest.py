"""POST /api/v1/telemetry: per-device keys, bad items by index, idempotent resends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.devices.models import Device, DeviceApiKey, Lifecycle, MetricState
from dustgrid.identity.deps import app_settings
from dustgrid.models import utcnow
from dustgrid.telemetry.models import Reading
from tests.fixtures.city import City
from tests.telemetry.telemetry_support import add_device, add_key, reading_count

URL = "/api/v1/telemetry"
#: These readings are from May 2024: the window reaches back far enough for them (the
#: window itself is tested in test_http_ingest_checks.py with times around now).
WIDE_WINDOW = {"telemetry_max_age_days": 36500}


@pytest.fixture(autouse=True)
def wide_window(app: Any, settings: Settings) -> None:
    app.dependency_overrides[app_settings] = lambda: settings.model_copy(update=WIDE_WINDOW)


def item(**over: Any) -> dict[str, Any]:
    base = {
        "device": "HTTP00000000001",
        "metric": "pm10",
        "time": "2024-05-01T10:00:00+08:00",
        "value": 85.3,
        "flag": "N",
        "kind": "rtd",
    }
    return {**base, **over}


@pytest.fixture
def keyed(db: Session, city: City) -> dict[str, Any]:
    dev = add_device(db, "HTTP00000000001", site_id=city.sites["HP-001"])
    other = add_device(db, "HTTP00000000002", site_id=city.sites["SH-001"])
    key = add_key(db, dev)
    db.commit()
    return {"device": dev, "other": other, "key": key}


def push(client: TestClient, key: str | None, readings: Any) -> Any:
    headers = {"X-API-Key": key} if key is not None else {}
    return client.post(URL, json={"readings": readings}, headers=headers)


def test_good_and_bad_items_by_index(anon: TestClient, db: Session, keyed: dict[str, Any]) -> None:
    readings = [
        item(),  # 0 good
        item(metric="ozone"),  # 1 unknown metric
        item(time="2024-05-01T10:01:00+08:00", value="not a number"),  # 2 invalid value
        item(metric="a34004", time="2024-05-01T10:00:00+08:00", value=41.7),  # 3 HJ 212 code
        item(device="HTTP00000000002"),  # 4 another device's MN
        42,  # 5 not an object
        item(kind="hourly"),  # 6 unknown kind
        item(time="2999-01-01T00:00:00+08:00"),  # 7 in the future
        {"metric": "noise", "time": "2024-05-01T10:00:00+08:00", "value": 63.4},  # 8 implied
        item(metric="tsp", flag="D", value=152.0),  # 9 stored, invalid
        item(metric="pm25", value=None, time="2024-05-01T10:05:00+08:00"),  # 10 no value
    ]
    r = push(anon, keyed["key"], readings)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["stored"], body["duplicates"]) == (5, 0)
    errors = {e["index"]: e for e in body["errors"]}
    assert sorted(errors) == [1, 2, 4, 5, 6, 7]
    assert errors[1]["code"] == "unknown_metric" and "ozone" in errors[1]["reason"]
    assert errors[2]["code"] == "invalid" and "value" in errors[2]["reason"]
    assert errors[4]["code"] == "forbidden_device"
    assert errors[5]["code"] == "invalid"
    assert errors[6]["code"] == "unknown_kind"
    assert errors[7]["code"] == "time_ahead"
    # one language (zh-CN unless asked), the key and parameters alongside
    assert errors[1]["reason"] == "未知监测项 ozone" and " / " not in errors[2]["reason"]
    assert all(e["msg"]["key"].startswith("ingest.reason.") for e in body["errors"])
    dev = keyed["device"]
    assert reading_count(db, dev.id) == 5
    assert reading_count(db, keyed["other"].id) == 0
    t = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
    pm25 = db.get(Reading, (dev.id, t, "pm25", "rtd"))
    assert pm25 is not None and pm25.value == 41.7 and pm25.source == "http"
    tsp = db.get(Reading, (dev.id, t, "tsp", "rtd"))
    assert tsp is not None and (tsp.flag, tsp.valid) == ("D", False)
    empty = db.get(Reading, (dev.id, datetime(2024, 5, 1, 2, 5, tzinfo=UTC), "pm25", "rtd"))
    assert empty is not None and empty.value is None and empty.valid is False


def test_resending_the_batch_stores_nothing_twice(
    anon: TestClient, db: Session, keyed: dict[str, Any]
) -> None:
    readings = [item(time=f"2024-05-01T10:0{i}:00+08:00", value=80.0 + i) for i in range(5)]
    first = push(anon, keyed["key"], readings).json()
    assert (first["stored"], first["duplicates"], first["errors"]) == (5, 0, [])
    again = push(anon, keyed["key"], readings + [item(time="2024-05-01T10:09:00+08:00")]).json()
    assert (again["stored"], again["duplicates"]) == (1, 5)
    assert reading_count(db, keyed["device"].id) == 6


def test_times_without_offset_are_city_local(
    anon: TestClient, db: Session, keyed: dict[str, Any]
) -> None:
    r = push(anon, keyed["key"], [item(time="2024-05-01T10:00:00")]).json()
    assert r["stored"] == 1
    t = db.scalar(select(Reading.data_time).where(Reading.device_id == keyed["device"].id))
    assert t == datetime(2024, 5, 1, 2, 0, tzinfo=UTC)


def test_mg_per_m3_devices_are_converted(anon: TestClient, db: Session, city: City) -> None:
    dev = add_device(db, "HTTPMG000000001", unit="mg/m3")
    key = add_key(db, dev)
    db.commit()
    readings = [
        item(device=dev.mn, metric="pm10", value=0.085),
        item(device=dev.mn, metric="noise", value=63.0),
    ]
    assert push(anon, key, readings).json()["stored"] == 2
    values = dict(
        db.execute(select(Reading.metric, Reading.value).where(Reading.device_id == dev.id)).all()
    )
    assert values["pm10"] == pytest.approx(85.0)
    assert values["noise"] == 63.0


@pytest.mark.parametrize("key", [None, "", "dgk_nonsense", "Bearer abc"])
def test_missing_or_wrong_key_is_401(anon: TestClient, keyed: dict[str, Any], key: str) -> None:
    assert push(anon, key, [item()]).status_code == 401


def test_revoked_keys_and_removed_devices_are_401(
    anon: TestClient, db: Session, keyed: dict[str, Any]
) -> None:
    dev: Device = keyed["device"]
    dev.lifecycle = Lifecycle.removed
    db.commit()
    assert push(anon, keyed["key"], [item()]).status_code == 401
    dev.lifecycle = Lifecycle.active
    for row in db.scalars(select(DeviceApiKey).where(DeviceApiKey.device_id == dev.id)):
        row.revoked_at = utcnow()
    db.commit()
    assert push(anon, keyed["key"], [item()]).status_code == 401


def test_one_key_writes_only_its_device(
    anon: TestClient, db: Session, keyed: dict[str, Any]
) -> None:
    other_key = add_key(db, keyed["other"])
    db.commit()
    r = push(anon, other_key, [item(), item(device="HTTP00000000002")]).json()
    assert r["stored"] == 1
    assert [(e["index"], e["code"]) for e in r["errors"]] == [(0, "forbidden_device")]
    assert reading_count(db, keyed["device"].id) == 0


def test_batch_limits(
    anon: TestClient, keyed: dict[str, Any], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "telemetry_http_max_items", 3)
    r = push(anon, keyed["key"], [item()] * 4)
    assert r.status_code == 413 and "3" in r.json()["detail"]
    assert push(anon, keyed["key"], [item()] * 3).status_code == 200
    assert (
        anon.post(URL, json={"items": []}, headers={"X-API-Key": keyed["key"]}).status_code == 422
    )
    bad = anon.post(URL, json={"readings": {"a": 1}}, headers={"X-API-Key": keyed["key"]})
    assert bad.status_code == 422


def test_pushing_marks_the_device_online(
    anon: TestClient, db: Session, keyed: dict[str, Any]
) -> None:
    dev: Device = keyed["device"]
    assert not dev.online
    push(anon, keyed["key"], [item(value=70.0), item(time="2024-05-01T10:01:00+08:00", value=71.0)])
    db.refresh(dev)
    assert dev.online and dev.last_seen_at is not None
    state = db.get(MetricState, (dev.id, "pm10"))
    assert state is not None and state.last_value == 71.0
