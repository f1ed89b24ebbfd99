"""POST /api/v1/telemetry: the reading time window, strict values and flags, plausible
ranges and the dead letters of refused items (times here are around the real clock)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.devices.models import Device, MetricState
from dustgrid.identity.deps import app_settings
from dustgrid.models import utcnow
from dustgrid.telemetry.models import Reading
from tests.fixtures.city import City
from tests.telemetry.telemetry_support import add_device, add_key

URL = "/api/v1/telemetry"
MN = "HTTPCHK00000001"
WALKED = {("GET", "/api/v1/ingest/dead-letters")}


def at(delta: timedelta) -> str:
    """A data time ``delta`` from now, whole minutes (UTC offset)."""
    return (utcnow() + delta).replace(second=0, microsecond=0).isoformat()


def item(**over: Any) -> dict[str, Any]:
    return {"metric": "pm10", "time": at(timedelta(minutes=-5)), "value": 85.3, **over}


@pytest.fixture
def keyed(db: Session, city: City) -> dict[str, Any]:
    dev = add_device(db, MN, site_id=city.sites["HP-001"])
    key = add_key(db, dev)
    db.commit()
    return {"device": dev, "key": key}


def push(client: TestClient, key: str, readings: list[Any]) -> Any:
    r = client.post(URL, json={"readings": readings}, headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    return r.json()


def rows(db: Session, device: Device) -> dict[tuple[str, datetime], Reading]:
    found = db.scalars(select(Reading).where(Reading.device_id == device.id))
    return {(r.metric, r.data_time): r for r in found}


def test_impossible_times_are_per_item_errors_and_the_rest_is_stored(
    anon: TestClient, db: Session, keyed: dict[str, Any]
) -> None:
    readings = [
        item(),  # 0 good
        item(time="0001-01-01T00:00:00"),  # 1 city time: before year 1 in UTC
        item(time="9999-12-31T23:59:59-12:00"),  # 2 after year 9999 in UTC
        item(metric="noise", value=60.0),  # 3 good
    ]
    body = push(anon, keyed["key"], readings)
    assert (body["stored"], body["out_of_window"]) == (2, 2)
    assert [(e["index"], e["code"]) for e in body["errors"]] == [
        (1, "time_invalid"),
        (2, "time_invalid"),
    ]
    assert all(e["msg"]["key"].startswith("ingest.reason.") for e in body["errors"])
    assert {m for m, _ in rows(db, keyed["device"])} == {"pm10", "noise"}


def test_the_window_ahead_and_behind_is_a_setting(
    app: Any, anon: TestClient, db: Session, keyed: dict[str, Any], settings: Settings
) -> None:
    dev: Device = keyed["device"]
    old, ahead = item(time=at(timedelta(days=-40))), item(time=at(timedelta(hours=1)))
    body = push(anon, keyed["key"], [old, ahead])
    assert body["stored"] == 0 and body["out_of_window"] == 2
    assert [e["code"] for e in body["errors"]] == ["time_behind", "time_ahead"]
    db.refresh(dev)
    assert dev.last_seen_at is None and not dev.online  # refused items do not move last-seen
    assert rows(db, dev) == {}
    wider = settings.model_copy(
        update={"telemetry_max_age_days": 60, "telemetry_future_tolerance_s": 7200}
    )
    app.dependency_overrides[app_settings] = lambda: wider
    body = push(anon, keyed["key"], [old, ahead])
    assert (body["stored"], body["out_of_window"], body["errors"]) == (2, 0, [])


def test_values_must_be_numbers_and_flags_known(
    anon: TestClient, db: Session, keyed: dict[str, Any]
) -> None:
    readings = [
        item(flag="Q"),  # 0 not an HJ 212 flag
        item(metric="noise", value=True),  # 1 a boolean is not a number
        item(metric="tsp", value="85.3"),  # 2 nor a string
        item(metric="pm25", value=40.0, flag="n"),  # 3 good (flag normalised)
        item(metric="humidity", value=55, flag="D"),  # 4 stored, not valid (instrument fault)
    ]
    body = push(anon, keyed["key"], readings)
    errors = {e["index"]: e for e in body["errors"]}
    assert sorted(errors) == [0, 1, 2] and body["stored"] == 2
    assert errors[0]["code"] == "unknown_flag" and "Q" in errors[0]["reason"]
    assert errors[1]["code"] == errors[2]["code"] == "invalid"
    assert "value" in errors[1]["reason"] and "value" in errors[2]["reason"]
    stored = {m: (r.value, r.flag, r.valid) for (m, _), r in rows(db, keyed["device"]).items()}
    assert stored == {"pm25": (40.0, "N", True), "humidity": (55.0, "D", False)}


def test_implausible_values_are_stored_as_invalid_with_a_flag(
    anon: TestClient, db: Session, keyed: dict[str, Any]
) -> None:
    dev: Device = keyed["device"]
    t1, t2 = at(timedelta(minutes=-3)), at(timedelta(minutes=-2))
    readings = [
        item(time=t1, value=-50.0),  # 0 a negative concentration
        item(time=t2, value=1e300),  # 1 absurd
        item(metric="humidity", value=140.0),  # 2 above 100 %
        item(metric="noise", value=62.0),  # 3 fine
    ]
    body = push(anon, keyed["key"], readings)
    assert body["errors"] == [] and body["stored"] == 4
    assert [(f["index"], f["code"]) for f in body["flagged"]] == [
        (0, "implausible"),
        (1, "implausible"),
        (2, "implausible"),
    ]
    stored = {(m, r.value): (r.flag, r.valid) for (m, _), r in rows(db, dev).items()}
    assert stored == {
        ("pm10", -50.0): ("X", False),
        ("pm10", 1e300): ("X", False),
        ("humidity", 140.0): ("X", False),
        ("noise", 62.0): ("N", True),
    }
    assert db.get(MetricState, (dev.id, "pm10")) is None  # never the latest valid value
    assert db.get(MetricState, (dev.id, "humidity")) is None


def test_refused_items_are_dead_letters_for_city_admins_only(
    anon: TestClient,
    api_as: Callable[[str], TestClient],
    keyed: dict[str, Any],
) -> None:
    push(anon, keyed["key"], [item(), item(flag="Q", value=1.5)])
    admin = api_as("admin").get("/api/v1/ingest/dead-letters", params={"mn": MN})
    assert admin.status_code == 200, admin.text
    [letter] = admin.json()
    assert (letter["channel"], letter["status"], letter["device_id"]) == (
        "http",
        "items_refused",
        keyed["device"].id,
    )
    assert [(e["index"], e["code"]) for e in letter["errors"]] == [(1, "unknown_flag")]
    assert '"Q"' in letter["payload"] and "85.3" not in letter["payload"]  # refused items only
    for user in ("d_heping", "st_heping", "off_hp1", "con_alpha", "prov_gamma", "viewer_city"):
        r = api_as(user).get("/api/v1/ingest/dead-letters")
        assert r.status_code == 403, (user, r.status_code)


def test_dead_letter_page(
    anon: TestClient, api_as: Callable[[str], TestClient], keyed: dict[str, Any]
) -> None:
    push(anon, keyed["key"], [item(time="0001-01-01T00:00:00")])
    admin = api_as("admin")
    admin.cookies.set("lang", "zh-CN")
    page = admin.get("/ingest/dead-letters")
    assert page.status_code == 200
    assert "接入死信" in page.text and MN in page.text and "time_invalid" in page.text
    assert "部分读数被拒收" in page.text
    admin.cookies.set("lang", "en")
    en = admin.get("/ingest/dead-letters")
    assert "Ingest dead letters" in en.text and "Some readings refused" in en.text
    assert api_as("d_heping").get("/ingest/dead-letters").status_code == 403


def test_every_metric_has_a_plausible_range() -> None:
    from dustgrid.telemetry.metrics import METRICS
    from dustgrid.telemetry.plausibility import DEFAULT_PLAUSIBLE_RANGES

    assert set(DEFAULT_PLAUSIBLE_RANGES.ranges) == set(METRICS)
    assert DEFAULT_PLAUSIBLE_RANGES.check("pm10", "cou", -1.0) is None  # totals not checked
    assert DEFAULT_PLAUSIBLE_RANGES.check("pm10", "rtd", float("inf")) is not None


def test_a_device_repeating_a_refusal_adds_one_dead_letter_not_one_per_request(
    anon: TestClient,
    api_as: Callable[[str], TestClient],
    keyed: dict[str, Any],
) -> None:
    """A device stuck on a bad flag sends it every few seconds: the list counts the repeats
    on one row instead of growing a row per request (it would fill the database)."""
    for _ in range(12):
        push(anon, keyed["key"], [item(), item(flag="Q", value=1.5)])
    push(anon, keyed["key"], [item(time="0001-01-01T00:00:00")])  # same status: same row
    letters = api_as("admin").get("/api/v1/ingest/dead-letters", params={"mn": MN}).json()
    assert [(d["status"], d["repeats"]) for d in letters] == [("items_refused", 13)]
    assert letters[0]["last_at"] >= letters[0]["received_at"]
    assert [(e["index"], e["code"]) for e in letters[0]["errors"]] == [(1, "unknown_flag")]
    page = api_as("admin")
    page.cookies.set("lang", "zh-CN")
    assert "共 13 次" in page.get("/ingest/dead-letters").text


def test_repeats_merge_only_within_the_window_and_old_letters_are_purged(db: Session) -> None:
    from dustgrid.ingest.deadletter import service
    from dustgrid.ingest.deadletter.models import DeadLetter
    from dustgrid.ingest.deadletter.policy import DeadLetterPolicy

    policy = DeadLetterPolicy(
        merge_window=timedelta(minutes=10), retention=timedelta(days=30), purge_every=timedelta(0)
    )
    t0 = utcnow() - timedelta(days=40)

    def letter(at: datetime, mn: str = "MERGE0001", status: str = "bad_payload") -> DeadLetter:
        return service.record(
            db, channel="mqtt", status=status, reason="r", payload=b"x", at=at, mn=mn,
            policy=policy,
        )  # fmt: skip

    first = letter(t0)
    assert letter(t0 + timedelta(minutes=9)) is first  # within the window of the last one
    assert letter(t0 + timedelta(minutes=18)) is first  # ... counted from the last time seen
    assert first.repeats == 3
    other = letter(t0 + timedelta(minutes=19), status="unknown_device")
    elsewhere = letter(t0 + timedelta(minutes=19), mn="MERGE0002")
    later = letter(t0 + timedelta(minutes=40))  # 22 minutes of silence: a new row
    assert len({first.id, other.id, elsewhere.id, later.id}) == 4
    # 40 days on, every one of them is past the 30-day retention: the next record purges
    fresh = letter(utcnow(), mn="MERGE0003")
    left = db.scalars(select(DeadLetter.mn).where(DeadLetter.mn.like("MERGE%"))).all()
    assert left == [fresh.mn]
