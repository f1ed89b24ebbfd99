"""The MQTT subscriber against the real Mosquitto on 127.0.0.1:1883 (CI runs one).

Never skipped: without a broker these tests fail and say so. Each test uses its own
topic prefix and client id, and commits its rows through the session engine (the
subscriber works in its own thread and transactions), then deletes them.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from dustgrid.config import Settings
from dustgrid.devices.models import Device, QuarantinedMN
from dustgrid.ingest.deadletter.models import DeadLetter
from dustgrid.ingest.hj212 import DataItem, build_data_frame
from dustgrid.ingest.mqtt import subscriber as subscriber_module
from dustgrid.ingest.mqtt.subscriber import Subscriber
from dustgrid.ingest.mqtt.topics import topic_for
from dustgrid.telemetry.models import Reading, RollupDirty
from tests.fixtures.city import City
from tests.telemetry.telemetry_support import add_device, add_key

HOST, PORT = "127.0.0.1", 1883
WAIT_S = 15.0


@pytest.fixture(scope="module", autouse=True)
def broker() -> None:
    try:
        socket.create_connection((HOST, PORT), timeout=3).close()
    except OSError as exc:
        pytest.fail(
            f"MQTT broker not reachable at {HOST}:{PORT} ({exc}). These tests need the "
            "Mosquitto broker CI runs (apt install mosquitto; systemctl start mosquitto); "
            "they are never skipped.",
            pytrace=False,
        )


@pytest.fixture
def mq(settings: Settings, engine: Engine, city: City) -> Iterator[dict[str, Any]]:
    """A device with a key, committed; settings with a private prefix and client id."""
    tag = uuid.uuid4().hex[:10]
    mn = f"MQ{tag.upper()}"
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as s:
        dev = add_device(s, mn, site_id=city.sites["HP-001"], password="pw1234")
        key = add_key(s, dev)
        s.commit()
        dev_id = dev.id
    cfg = settings.model_copy(
        update={
            "mqtt_host": HOST,
            "mqtt_port": PORT,
            "mqtt_client_id": f"dustgrid-test-{tag}",
            "mqtt_topic_prefix": f"dgtest-{tag}/dustgrid/v1",
            "telemetry_max_age_days": 36500,  # the readings here are from May 2024
        }
    )
    ctx = {"mn": mn, "id": dev_id, "key": key, "settings": cfg, "factory": factory}
    yield ctx
    with factory() as s:
        s.execute(delete(Reading).where(Reading.device_id == dev_id))
        s.execute(delete(RollupDirty).where(RollupDirty.device_id == dev_id))
        s.execute(delete(QuarantinedMN).where(QuarantinedMN.mn.like("MQ%")))
        s.execute(delete(DeadLetter).where(DeadLetter.mn.like("MQ%")))
        s.execute(delete(Device).where(Device.id == dev_id))
        s.commit()
    _forget_session(cfg.mqtt_client_id)


def _forget_session(client_id: str) -> None:
    """Connect once with a clean session: the broker drops the persistent one."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    c.connect(HOST, PORT)
    c.loop_start()
    c.disconnect()
    c.loop_stop()


class Running:
    """A subscriber in a thread, stopped on exit."""

    def __init__(self, settings: Settings, factory: Callable[[], Session]) -> None:
        self.sub = Subscriber(settings, factory)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.sub.run, args=(self.stop,), daemon=True)

    def __enter__(self) -> Subscriber:
        self.thread.start()
        assert self.sub.subscribed.wait(WAIT_S), "subscriber did not subscribe"
        return self.sub

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(WAIT_S)
        assert not self.thread.is_alive()


def publish(topic: str, payload: bytes | str, qos: int = 1) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    c.connect(HOST, PORT)
    c.loop_start()
    info = c.publish(topic, payload, qos=qos)
    info.wait_for_publish(WAIT_S)
    assert info.is_published()
    c.disconnect()
    c.loop_stop()


def count(mq: dict[str, Any]) -> int:
    with mq["factory"]() as s:
        stmt = select(func.count()).select_from(Reading).where(Reading.device_id == mq["id"])
        return int(s.scalar(stmt) or 0)


def wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def json_payload(mq: dict[str, Any], minute: int = 0, **extra: Any) -> str:
    readings = [
        {"metric": "pm10", "time": f"2024-05-01T10:{minute:02d}:00+08:00", "value": 85.3},
        {"metric": "noise", "time": f"2024-05-01T10:{minute:02d}:00+08:00", "value": 63.4},
    ]
    return json.dumps({"key": mq["key"], "readings": readings, **extra})


def frame(mq: dict[str, Any], *, pw: str = "pw1234", minute: int = 30) -> bytes:
    items = [DataItem("a34002", "rtd", 90.1, "N"), DataItem("a34004", "rtd", 40.2, "D")]
    return build_data_frame(
        mn=mq["mn"],
        pw=pw,
        data_time=datetime(2024, 5, 1, 10, minute),  # noqa: DTZ001 - HJ 212: device-local
        items=items,
    )


def test_json_and_hj212_frames_are_stored(mq: dict[str, Any]) -> None:
    prefix = mq["settings"].mqtt_topic_prefix
    with Running(mq["settings"], mq["factory"]) as sub:
        publish(topic_for(prefix, mq["mn"], "readings"), json_payload(mq))
        publish(topic_for(prefix, mq["mn"], "hj212"), frame(mq))
        wait_for(lambda: count(mq) == 4, "4 readings")
        wait_for(lambda: sub.stats["acked"] == 2, "2 acks")
    assert sub.stats["stored"] == 2 and sub.stats["readings_stored"] == 4
    with mq["factory"]() as s:
        rows = {
            (r.metric, r.source): (r.value, r.valid, r.data_time)
            for r in s.scalars(select(Reading).where(Reading.device_id == mq["id"]))
        }
        device = s.get(Device, mq["id"])
        assert device is not None and device.online
    assert rows[("pm10", "mqtt")] == (85.3, True, datetime(2024, 5, 1, 2, 0, tzinfo=UTC))
    assert rows[("pm10", "mqtt212")][:2] == (90.1, True)
    assert rows[("pm25", "mqtt212")][:2] == (40.2, False)  # flag D: stored, not valid


def test_messages_published_while_down_are_delivered(mq: dict[str, Any]) -> None:
    prefix = mq["settings"].mqtt_topic_prefix
    with Running(mq["settings"], mq["factory"]):
        pass  # the first run creates the persistent session on the broker
    publish(topic_for(prefix, mq["mn"], "readings"), json_payload(mq, minute=5))
    publish(topic_for(prefix, mq["mn"], "hj212"), frame(mq, minute=6))
    assert count(mq) == 0
    with Running(mq["settings"], mq["factory"]) as sub:
        wait_for(lambda: count(mq) == 4, "the queued messages")
        wait_for(lambda: sub.stats["acked"] == 2, "2 acks")


def test_bad_payloads_are_counted_and_do_not_stop_it(mq: dict[str, Any]) -> None:
    prefix = mq["settings"].mqtt_topic_prefix
    readings, hj212 = (topic_for(prefix, mq["mn"], c) for c in ("readings", "hj212"))
    with Running(mq["settings"], mq["factory"]) as sub:
        publish(readings, b"\xff not json")
        publish(readings, json.dumps({"readings": "nope", "key": mq["key"]}))
        publish(readings, json.dumps({"key": "dgk_wrong", "readings": []}))
        publish(readings, json.dumps({"readings": []}))  # no key
        publish(hj212, b"##0010garbage\r\n")
        publish(hj212, frame(mq, pw="wrong"))
        publish(topic_for(prefix, "MQUNKNOWN0001", "hj212"), frame(mq))
        publish(readings, json_payload(mq, minute=7))
        wait_for(lambda: count(mq) == 2, "the good message after the bad ones")
        wait_for(lambda: sub.stats["acked"] == 8, "every message acknowledged")
        assert sub.stats["bad_payload"] == 3
        assert sub.stats["unauthorized"] == 3
        assert sub.stats["unknown_device"] == 1
    with mq["factory"]() as s:
        assert s.scalar(select(QuarantinedMN.reason).where(QuarantinedMN.mn == "MQUNKNOWN0001"))


def test_unacknowledged_after_a_database_failure_then_redelivered(mq: dict[str, Any]) -> None:
    failures = {"left": 1}

    def flaky() -> Session:
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("INSERT", {}, Exception("database is down"))
        return mq["factory"]()

    prefix = mq["settings"].mqtt_topic_prefix
    with Running(mq["settings"], flaky) as sub:
        publish(topic_for(prefix, mq["mn"], "readings"), json_payload(mq, minute=9))
        wait_for(lambda: count(mq) == 2, "the message, redelivered after the failure")
        assert sub.stats["store_errors"] == 1 and sub.stats["acked"] == 1


def letters(mq: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """(status, item error codes) of the device's dead letters, oldest first."""
    with mq["factory"]() as s:
        found = s.scalars(
            select(DeadLetter).where(DeadLetter.mn == mq["mn"]).order_by(DeadLetter.id)
        )
        return [(d.status, [e["code"] for e in d.errors]) for d in found]


def test_a_poisoned_message_does_not_hold_up_the_good_one(mq: dict[str, Any]) -> None:
    """Year 1 (and 9999 west of UTC) cannot be placed in UTC: the item is refused, the
    message answered and dead-lettered, and the next message is stored - across restarts."""
    topic = topic_for(mq["settings"].mqtt_topic_prefix, mq["mn"], "readings")
    poisoned = [
        {"metric": "pm10", "time": "0001-01-01T00:00:00", "value": 80.0},
        {"metric": "pm25", "time": "9999-12-31T23:59:59-12:00", "value": 40.0},
    ]
    with Running(mq["settings"], mq["factory"]) as sub:
        publish(topic, json.dumps({"key": mq["key"], "readings": poisoned}))
        publish(topic, json_payload(mq, minute=11))
        wait_for(lambda: count(mq) == 2, "the good message after the poisoned one")
        wait_for(lambda: sub.stats["acked"] == 2, "both messages acknowledged")
        assert sub.stats["items_out_of_window"] == 2 and sub.stats["store_errors"] == 0
    assert letters(mq) == [("items_refused", ["time_invalid", "time_invalid"])]
    with Running(mq["settings"], mq["factory"]) as again:  # nothing left to redeliver
        time.sleep(1.0)
        assert again.stats["messages"] == 0


def test_a_message_that_breaks_the_handler_is_dead_lettered(
    mq: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = subscriber_module.handle

    def fragile(session: Session, topic: str, payload: bytes, **kw: Any) -> Any:
        if b"boom" in payload:
            raise RuntimeError("a bug this message hits")
        return real(session, topic, payload, **kw)

    monkeypatch.setattr(subscriber_module, "handle", fragile)
    topic = topic_for(mq["settings"].mqtt_topic_prefix, mq["mn"], "readings")
    with Running(mq["settings"], mq["factory"]) as sub:
        publish(topic, json.dumps({"key": mq["key"], "boom": 1, "readings": []}))
        publish(topic, json_payload(mq, minute=12))
        wait_for(lambda: count(mq) == 2, "the good message after the failing one")
        wait_for(lambda: sub.stats["acked"] == 2, "both messages acknowledged")
        assert sub.stats["failed"] == 1
    assert letters(mq) == [("failed", [])]


def test_a_message_that_keeps_failing_is_given_up(
    mq: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = subscriber_module.handle

    def stuck(session: Session, topic: str, payload: bytes, **kw: Any) -> Any:
        if b"stuck" in payload:
            raise OperationalError("INSERT", {}, Exception("this message always fails"))
        return real(session, topic, payload, **kw)

    monkeypatch.setattr(subscriber_module, "handle", stuck)
    cfg = mq["settings"].model_copy(update={"mqtt_max_attempts": 2})
    topic = topic_for(cfg.mqtt_topic_prefix, mq["mn"], "readings")
    with Running(cfg, mq["factory"]) as sub:
        publish(topic, json.dumps({"key": mq["key"], "stuck": 1, "readings": []}))
        publish(topic, json_payload(mq, minute=13))
        wait_for(lambda: count(mq) == 2, "the good message after the stuck one")
        wait_for(lambda: sub.stats["acked"] == 2, "both messages acknowledged")
        assert sub.stats["store_errors"] == 2 and sub.stats["gave_up"] == 1
    assert letters(mq) == [("gave_up", [])]
