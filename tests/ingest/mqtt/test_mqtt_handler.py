"""What a message means, without a broker: topics, authentication, frames, ACL mode."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.devices.models import Lifecycle, MetricState, QuarantinedMN
from dustgrid.ingest.deadletter.models import DeadLetter
from dustgrid.ingest.hj212 import DataItem, build_data_frame, build_time_get
from dustgrid.ingest.mqtt.handler import (
    BAD_PAYLOAD,
    BAD_TOPIC,
    NOT_DATA,
    OK,
    UNAUTHORIZED,
    UNKNOWN_DEVICE,
    Config,
    handle,
)
from dustgrid.ingest.mqtt.topics import parse_topic, subscriptions, topic_for
from dustgrid.telemetry.models import Reading
from dustgrid.telemetry.timewindow import DEFAULT_TIME_WINDOW
from tests.fixtures.city import City
from tests.telemetry.telemetry_support import SHANGHAI, add_device, add_key, reading_count

PREFIX = "dustgrid/v1"
NOW = datetime(2024, 5, 2, tzinfo=UTC)
CFG = Config(PREFIX, SHANGHAI, False, 100, DEFAULT_TIME_WINDOW)
ACL = Config(PREFIX, SHANGHAI, True, 100, DEFAULT_TIME_WINDOW)
LOCAL = datetime(2024, 5, 1, 10, 0)  # noqa: DTZ001 - HJ 212 frames carry device-local time


def test_topic_scheme() -> None:
    assert subscriptions(PREFIX) == [
        "dustgrid/v1/devices/+/readings",
        "dustgrid/v1/devices/+/hj212",
    ]
    assert parse_topic(PREFIX, topic_for(PREFIX, "MN1", "hj212")) == ("MN1", "hj212")
    for bad in ("dustgrid/v1/devices/MN1", "dustgrid/v1/devices//readings",
                "dustgrid/v1/devices/MN1/other", "other/devices/MN1/readings",
                f"dustgrid/v1/devices/{'M' * 25}/readings"):  # fmt: skip
        assert parse_topic(PREFIX, bad) is None, bad


def _json(key: str | None, **item: object) -> bytes:
    base = {"metric": "pm10", "time": "2024-05-01T10:00:00", "value": 0.08, **item}
    body: dict[str, object] = {"readings": [base]}
    if key is not None:
        body["key"] = key
    return json.dumps(body).encode()


def test_json_with_the_device_key(db: Session, city: City) -> None:
    dev = add_device(db, "MQH000000000001", unit="mg/m3")
    key = add_key(db, dev)
    topic = topic_for(PREFIX, dev.mn, "readings")
    out = handle(db, topic, _json(key), cfg=CFG, now=NOW)
    assert (out.status, out.stored, out.duplicates) == (OK, 1, 0)
    again = handle(db, topic, _json(key), cfg=CFG, now=NOW)
    assert (again.stored, again.duplicates) == (0, 1)
    other = add_device(db, "MQH000000000002")
    assert handle(db, topic_for(PREFIX, other.mn, "readings"), _json(key), cfg=CFG,
                  now=NOW).status == UNAUTHORIZED  # fmt: skip
    assert handle(db, topic, _json(None), cfg=CFG, now=NOW).status == UNAUTHORIZED
    item_err = handle(db, topic, _json(key, device="MQH000000000002"), cfg=CFG, now=NOW)
    assert item_err.status == OK and item_err.errors[0].code == "forbidden_device"
    assert reading_count(db, dev.id) == 1


def test_broker_acl_mode_needs_no_key(db: Session) -> None:
    dev = add_device(db, "MQH000000000003")
    topic = topic_for(PREFIX, dev.mn, "readings")
    bare = json.dumps([{"metric": "noise", "time": "2024-05-01T10:00:00", "value": 60}]).encode()
    assert handle(db, topic, bare, cfg=ACL, now=NOW).stored == 1
    array = handle(db, topic, bare, cfg=CFG, now=NOW)  # no broker ACL: an array is malformed
    assert array.status == BAD_PAYLOAD and "array" in array.reason
    unknown = topic_for(PREFIX, "MQHNOSUCHDEVICE", "readings")
    assert handle(db, unknown, bare, cfg=ACL, now=NOW).status == UNKNOWN_DEVICE
    dev.lifecycle = Lifecycle.removed
    db.flush()
    assert handle(db, topic, bare, cfg=ACL, now=NOW).status == UNKNOWN_DEVICE


@pytest.mark.parametrize("payload", [b"", b"[1,", b"\xff\xfe", b'{"key": "x"}', b"42"])
def test_bad_json(db: Session, payload: bytes) -> None:
    dev = add_device(db, "MQH000000000004")
    out = handle(db, topic_for(PREFIX, dev.mn, "readings"), payload, cfg=CFG, now=NOW)
    assert out.status in (BAD_PAYLOAD, UNAUTHORIZED) and out.reason


def test_too_many_items(db: Session) -> None:
    dev = add_device(db, "MQH000000000005")
    key = add_key(db, dev)
    body = json.dumps({"key": key, "readings": [{}] * 101}).encode()
    out = handle(db, topic_for(PREFIX, dev.mn, "readings"), body, cfg=CFG, now=NOW)
    assert out.status == BAD_PAYLOAD and "100" in out.reason


def test_hj212_frames(db: Session) -> None:
    dev = add_device(db, "MQH000000000006", password="pw9", unit="mg/m3")
    topic = topic_for(PREFIX, dev.mn, "hj212")
    items = [DataItem("a34002", "rtd", 0.09), DataItem("LA", "rtd", 61.0),
             DataItem("Leq", "rtd", 62.0), DataItem("w99999", "rtd", 1.0)]  # fmt: skip
    good = build_data_frame(mn=dev.mn, pw="pw9", data_time=LOCAL, items=items)
    out = handle(db, topic, good, cfg=CFG, now=NOW)
    assert (out.status, out.stored) == (OK, 2)  # pm10 and noise (LA first); w99999 unmapped
    hour = build_data_frame(mn=dev.mn, pw="pw9", data_time=LOCAL, cn="2061",
                            items=[DataItem("a34002", "avg", 0.07)])  # fmt: skip
    assert handle(db, topic, hour, cfg=CFG, now=NOW).stored == 1  # kind "havg"
    assert reading_count(db, dev.id) == 3
    wrong_pw = build_data_frame(mn=dev.mn, pw="nope", data_time=LOCAL, items=items)
    assert handle(db, topic, wrong_pw, cfg=CFG, now=NOW).status == UNAUTHORIZED
    other_mn = build_data_frame(mn="MQH000000000099", pw="pw9", data_time=LOCAL, items=items)
    assert handle(db, topic, other_mn, cfg=CFG, now=NOW).status == UNAUTHORIZED
    ask = build_time_get(mn=dev.mn, pw="pw9", qn="20240501100000000")
    assert handle(db, topic, ask, cfg=CFG, now=NOW).status == NOT_DATA
    assert handle(db, topic, good[:-6] + b"0000\r\n", cfg=CFG, now=NOW).status == BAD_PAYLOAD
    future = build_data_frame(mn=dev.mn, pw="pw9", data_time=LOCAL + timedelta(days=9),
                              items=items)  # fmt: skip
    assert handle(db, topic, future, cfg=CFG, now=NOW).errors[0].code == "time_ahead"


def test_unknown_mn_frames_are_quarantined(db: Session) -> None:
    frame = build_data_frame(mn="MQHQUARANTINE01", pw="x", data_time=LOCAL,
                             items=[DataItem("a34002", "rtd", 1.0)])  # fmt: skip
    out = handle(db, topic_for(PREFIX, "MQHQUARANTINE01", "hj212"), frame, cfg=CFG, now=NOW)
    assert out.status == UNKNOWN_DEVICE
    row = db.scalar(select(QuarantinedMN).where(QuarantinedMN.mn == "MQHQUARANTINE01"))
    assert row is not None and row.reason == "unknown_mn" and row.last_peer == "mqtt"


def test_foreign_topics_are_refused(db: Session) -> None:
    assert handle(db, "elsewhere/x", b"{}", cfg=CFG, now=NOW).status == BAD_TOPIC


def _letters(db: Session, mn: str) -> list[DeadLetter]:
    return list(db.scalars(select(DeadLetter).where(DeadLetter.mn == mn).order_by(DeadLetter.id)))


def test_a_json_array_is_a_bad_payload_not_a_missing_key(db: Session) -> None:
    dev = add_device(db, "MQH000000000007")
    key = add_key(db, dev)
    body = json.dumps([{"key": key, "metric": "pm10", "time": "2024-05-01T10:00:00"}]).encode()
    out = handle(db, topic_for(PREFIX, dev.mn, "readings"), body, cfg=CFG, now=NOW)
    assert out.status == BAD_PAYLOAD
    assert "missing" not in out.reason and "array" in out.reason
    [letter] = _letters(db, dev.mn)
    assert (letter.channel, letter.status) == ("mqtt", BAD_PAYLOAD)
    assert key not in letter.payload and key[:12] in letter.payload  # the key is masked


@pytest.mark.parametrize(
    ("time", "code"),
    [
        ("0001-01-01T00:00:00", "time_invalid"),  # city time before year 1 in UTC
        ("9999-12-31T23:59:59-12:00", "time_invalid"),  # after year 9999 in UTC
        ("2024-05-03T10:00:00", "time_ahead"),  # a day ahead of NOW
        ("2024-03-01T10:00:00", "time_behind"),  # 62 days before NOW (window: 30)
    ],
)
def test_times_outside_the_window_are_item_errors(db: Session, time: str, code: str) -> None:
    dev = add_device(db, "MQH000000000008")
    key = add_key(db, dev)
    good = {"metric": "noise", "time": "2024-05-01T10:00:00", "value": 60.0}
    body = json.dumps({"key": key, "readings": [{**good, "metric": "pm10", "time": time}, good]})
    out = handle(db, topic_for(PREFIX, dev.mn, "readings"), body.encode(), cfg=CFG, now=NOW)
    assert (out.status, out.stored, out.out_of_window) == (OK, 1, 1)
    assert [(e.index, e.code) for e in out.errors] == [(0, code)]
    assert db.get(MetricState, (dev.id, "pm10")) is None  # nothing valid of pm10
    [letter] = _letters(db, dev.mn)
    assert letter.status == "items_refused" and letter.errors[0]["code"] == code
    assert time in letter.payload


def test_out_of_window_alone_does_not_move_last_seen(db: Session) -> None:
    dev = add_device(db, "MQH000000000009")
    key = add_key(db, dev)
    old = {"metric": "pm10", "time": "2020-01-01T00:00:00", "value": 60.0}
    body = json.dumps({"key": key, "readings": [old]}).encode()
    out = handle(db, topic_for(PREFIX, dev.mn, "readings"), body, cfg=CFG, now=NOW)
    assert (out.stored, out.out_of_window) == (0, 1)
    db.refresh(dev)
    assert dev.last_seen_at is None and not dev.online


def test_hj212_frames_outside_the_window_and_implausible_values(db: Session) -> None:
    dev = add_device(db, "MQH000000000010", password="pw9")
    topic = topic_for(PREFIX, dev.mn, "hj212")
    old = build_data_frame(mn=dev.mn, pw="pw9", data_time=LOCAL - timedelta(days=400),
                           items=[DataItem("a34002", "rtd", 50.0)])  # fmt: skip
    out = handle(db, topic, old, cfg=CFG, now=NOW)
    assert (out.status, out.stored, [e.code for e in out.errors]) == (OK, 0, ["time_behind"])
    db.refresh(dev)
    assert dev.last_seen_at is None
    odd = build_data_frame(mn=dev.mn, pw="pw9", data_time=LOCAL,
                           items=[DataItem("a34002", "rtd", -50.0),
                                  DataItem("a34004", "rtd", 30.0)])  # fmt: skip
    out = handle(db, topic, odd, cfg=CFG, now=NOW)
    assert (out.stored, [e.code for e in out.flagged]) == (2, ["implausible"])
    rows = {r.metric: (r.value, r.flag, r.valid) for r in
            db.scalars(select(Reading).where(Reading.device_id == dev.id))}  # fmt: skip
    assert rows == {"pm10": (-50.0, "X", False), "pm25": (30.0, "N", True)}
    assert db.get(MetricState, (dev.id, "pm10")) is None


def test_only_refusals_leave_dead_letters(db: Session) -> None:
    dev = add_device(db, "MQH000000000011")
    key = add_key(db, dev)
    handle(db, topic_for(PREFIX, dev.mn, "readings"), _json(key), cfg=CFG, now=NOW)
    assert _letters(db, dev.mn) == []
