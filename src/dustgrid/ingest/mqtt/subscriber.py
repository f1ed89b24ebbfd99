"""The MQTT subscriber: readings published by devices and gateways, stored exactly like HTTP.

Topic scheme (``prefix`` = ``DUSTGRID_MQTT_TOPIC_PREFIX``, default ``dustgrid/v1``):

``{prefix}/devices/{MN}/readings``
    JSON ``{"key": "dgk_…", "readings": [{"metric": "pm10", "time": "2024-05-01T10:00:00+08:00",
    "value": 85.3, "flag": "N", "kind": "rtd"}, …]}`` - items as for ``POST /api/v1/telemetry``
    (``device`` may be omitted: the topic names it). ``key`` is the device's API key and
    must belong to ``MN``. With ``DUSTGRID_MQTT_TRUST_BROKER_ACL=true`` the key may be left
    out (a bare list is accepted too): do that only when the broker authenticates each
    device and its ACL lets it publish to its own topic only (Mosquitto:
    ``pattern write dustgrid/v1/devices/%u/#`` with the MN as user name).
``{prefix}/devices/{MN}/hj212``
    One raw HJ 212-2017 frame (``##…&&CRC\\r\\n``), decoded by the codec; the frame's MN must
    be the topic's and its ``PW`` the device's HJ 212 password. Unknown MNs are quarantined
    for an admin, as on the TCP listener.

Delivery: QoS 1 with a persistent session - a fixed client id (``DUSTGRID_MQTT_CLIENT_ID``)
and ``clean_session=False`` - so the broker queues what is published while the subscriber
is down and delivers it on reconnect. Publish with QoS 1.

"Data acknowledged is on disk": paho acknowledges a QoS 1 message (PUBACK) right after
``on_message`` returns unless the client is created with ``manual_ack=True`` (paho-mqtt
2.x, ``Client._handle_publish``). This client uses ``manual_ack=True`` and calls
``ack()`` only after the transaction holding the message's readings has committed (on
SQLite with ``synchronous=FULL``, see ``hj212.writer.make_ingest_engine``). A message the
publisher got wrong (bad JSON or frame, unknown device, wrong key, refused items) is
logged, counted, kept as a dead letter (``ingest.deadletter``, committed with the
message's readings) and acknowledged - resending it would not help. When the database
fails, nothing more is acknowledged (PUBACKs must keep the order of the messages), the
subscriber disconnects, waits and reconnects, and the broker redelivers every
unacknowledged message; storing is idempotent, so a redelivered message stores nothing
twice.

One bad message never holds up the ones behind it (a "poison" message, redelivered for
ever, would): only a *transient* database error (:data:`TRANSIENT`: connection lost,
database locked or down) leaves a message unacknowledged. Any other exception while
handling a message is a fault this message hit: the transaction is rolled back, the
message is dead-lettered with status ``failed`` in a fresh transaction and acknowledged.
And a message whose storing failed ``DUSTGRID_MQTT_MAX_ATTEMPTS`` times in a row is
dead-lettered (``gave_up``) and acknowledged as soon as the database accepts the dead
letter - while the database is down, that fails too and the message stays queued.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, Final
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from dustgrid.config import Settings
from dustgrid.ingest.deadletter.policy import dead_letter_policy_from_settings
from dustgrid.ingest.deadletter.service import FAILED, GAVE_UP
from dustgrid.models import utcnow
from dustgrid.telemetry.timewindow import time_window_from_settings

from .handler import OK, Config, Outcome, handle, record_dead_letter
from .topics import subscriptions

log = logging.getLogger("dustgrid.ingest.mqtt")

QOS: Final = 1
LOOP_TIMEOUT_S: Final = 0.5
BACKOFF_MAX_S: Final = 30.0
LOUD_ERRORS: Final = 20  # bad messages logged at WARNING; the rest at DEBUG
MAX_TRACKED: Final = 1024  # messages whose failed attempts are counted (bounds memory)
#: Failures that are the database's, not the message's: the message stays unacknowledged.
TRANSIENT: Final = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    ConnectionError,
)

SessionFactory = Callable[[], Session]


class Subscriber:
    """One paho client and its loop; :meth:`run` blocks until ``stop`` is set."""

    def __init__(self, settings: Settings, session_factory: SessionFactory | None = None) -> None:
        self.settings = settings
        self.cfg = Config(
            prefix=settings.mqtt_topic_prefix.rstrip("/"),
            tz=ZoneInfo(settings.timezone),
            trust_broker_acl=settings.mqtt_trust_broker_acl,
            max_items=settings.telemetry_http_max_items,
            window=time_window_from_settings(
                settings.telemetry_future_tolerance_s, settings.telemetry_max_age_days
            ),
            dead_letters=dead_letter_policy_from_settings(settings),
        )
        self._attempts: dict[tuple[str, bytes], int] = {}  # failed tries per message
        self._factory = session_factory or _default_factory(settings)
        self.stats: Counter[str] = Counter()
        self.subscribed = threading.Event()  # set once the subscriptions are confirmed
        self._broken = False  # a store failed: ack nothing more, reconnect
        self._client = self._make_client()

    # -- paho ---------------------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.mqtt_client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            manual_ack=True,
        )
        if s.mqtt_username:
            client.username_pw_set(s.mqtt_username, s.mqtt_password or None)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, client: mqtt.Client, _u: Any, flags: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.warning("mqtt: broker refused the connection: %s", rc)
            return
        log.info("mqtt: connected (session present: %s)", flags.session_present)
        client.subscribe([(topic, QOS) for topic in subscriptions(self.cfg.prefix)])

    def _on_subscribe(self, _c: mqtt.Client, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        if any(code.is_failure for code in codes):
            log.error("mqtt: subscription refused: %s", codes)
            return
        self.subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.subscribed.clear()
        if rc.is_failure:
            log.warning("mqtt: disconnected: %s", rc)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if self._broken:
            return  # not acknowledged: redelivered after the reconnect
        self.stats["messages"] += 1
        payload = bytes(msg.payload)
        ident = (msg.topic, hashlib.sha256(payload).digest())
        try:
            outcome = self.process(msg.topic, payload)
        except Exception:  # the database, not the message: keep it unacknowledged
            self.stats["store_errors"] += 1
            attempts = self._attempts.get(ident, 0) + 1
            if len(self._attempts) >= MAX_TRACKED:
                self._attempts.clear()
            self._attempts[ident] = attempts
            given_up = None
            if attempts >= self.settings.mqtt_max_attempts:
                given_up = self._give_up(msg.topic, payload, attempts)
            if given_up is None:
                self._broken = True
                log.exception("mqtt: storing a message from %s failed; will reconnect", msg.topic)
                return
            outcome = given_up
        self._attempts.pop(ident, None)
        client.ack(msg.mid, msg.qos)
        self.stats["acked"] += 1
        self._report(msg.topic, outcome)

    # -- work ---------------------------------------------------------------------------

    def process(self, topic: str, payload: bytes) -> Outcome:
        """Store one message and commit; raises only when the database fails.

        Anything else that goes wrong is this message's fault (or a fault it hit): it is
        rolled back, dead-lettered as ``failed`` and reported, never retried.
        """
        now = utcnow()
        with self._factory() as session:
            try:
                outcome = handle(session, topic, payload, cfg=self.cfg, now=now)
                session.commit()
            except TRANSIENT:
                raise
            except Exception as exc:
                session.rollback()
                log.exception("mqtt: a message from %s cannot be handled; dead-lettered", topic)
                outcome = Outcome(FAILED, f"{type(exc).__name__}: {exc}")
                record_dead_letter(session, topic, payload, outcome, cfg=self.cfg, now=now)
                session.commit()
        return outcome

    def _give_up(self, topic: str, payload: bytes, attempts: int) -> Outcome | None:
        """Dead-letter a message that keeps failing; None when even that fails."""
        outcome = Outcome(GAVE_UP, f"storing failed {attempts} times in a row")
        try:
            with self._factory() as session:
                record_dead_letter(session, topic, payload, outcome, cfg=self.cfg, now=utcnow())
                session.commit()
        except Exception:
            log.warning("mqtt: cannot dead-letter a message from %s either", topic)
            return None
        return outcome

    def _report(self, topic: str, outcome: Outcome) -> None:
        stats = self.stats
        stats[outcome.status] += 1
        stats["readings_stored"] += outcome.stored
        stats["readings_duplicate"] += outcome.duplicates
        stats["items_rejected"] += len(outcome.errors)
        stats["items_out_of_window"] += outcome.out_of_window
        stats["items_flagged"] += len(outcome.flagged)
        if outcome.status == OK and not outcome.errors:
            return
        level = logging.WARNING if stats["bad_messages"] < LOUD_ERRORS else logging.DEBUG
        stats["bad_messages"] += 1
        detail = outcome.reason or "; ".join(
            f"#{e.index} {e.code}: {e.reason}" for e in outcome.errors[:5]
        )
        log.log(level, "mqtt %s: %s: %s", topic, outcome.status, detail)

    def run(self, stop: threading.Event) -> None:
        """Connect, consume, reconnect with back-off; return when ``stop`` is set."""
        s = self.settings
        backoff = 1.0
        while not stop.is_set():
            self._broken = False
            try:
                self._client.connect(s.mqtt_host, s.mqtt_port, keepalive=s.mqtt_keepalive_s)
            except OSError as exc:
                log.warning("mqtt: cannot reach %s:%s (%s)", s.mqtt_host, s.mqtt_port, exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                continue
            while not stop.is_set() and not self._broken:
                rc = self._client.loop(timeout=LOOP_TIMEOUT_S)
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    log.warning("mqtt: connection lost (%s)", mqtt.error_string(rc))
                    break
                backoff = 1.0
            self._client.disconnect()  # the session (and unacked messages) stay on the broker
            self.subscribed.clear()
            if self._broken or not stop.is_set():
                stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
        log.info("mqtt: stopped; %s", dict(self.stats))


def _default_factory(settings: Settings) -> SessionFactory:
    from dustgrid.ingest.hj212.writer import make_ingest_engine

    return sessionmaker(bind=make_ingest_engine(settings), expire_on_commit=False)


def run_subscriber(
    settings: Settings,
    stop_event: threading.Event,
    *,
    session_factory: SessionFactory | None = None,
) -> Subscriber:
    """Run the subscriber until ``stop_event`` is set (``dustgrid serve`` runs it in a
    thread when ``DUSTGRID_MQTT_ENABLED`` is true); returns it, with its counters."""
    subscriber = Subscriber(settings, session_factory)
    subscriber.run(stop_event)
    return subscriber
