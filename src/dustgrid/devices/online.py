"""Online state: last seen per device and per metric, offline periods, offline rate.

``mark_seen_many`` runs on the ingest path (once per written batch, for all its devices;
``mark_seen`` is the one-device form), ``sweep_offline`` on a schedule, ``offline_rate``
for provider scoring (domain.md §7: providers promise an offline rate ≤ 10 %, and the
repair time after notice is scored). Never commits.

Concurrency: the sweep turns a device offline with a conditional UPDATE (only if its
``last_seen_at`` is still the one the sweep read), and ``mark_seen_many`` reads the device
rows ``FOR UPDATE``, in id order as the sweep locks them (no deadlock). So a frame and a
sweep racing for the same device end either "seen, no period" or "period opened, then
closed by the frame" - never online with an open period. (SQLite serialises writers, so
there the question does not arise.)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from dustgrid import periodic
from dustgrid.audit import service as audit
from dustgrid.db import pg_array
from dustgrid.devices import repository as repo
from dustgrid.devices.models import Device, Lifecycle, MetricState, OfflinePeriod
from dustgrid.devices.policy import DEFAULT_ONLINE_POLICY, OnlinePolicy
from dustgrid.i18n import Msg
from dustgrid.models import utcnow

_log = logging.getLogger("dustgrid.background")  # where serve's worker logged it before

SeenMetrics = Mapping[str, tuple[datetime, float | None]]
CLOSED = frozenset({Lifecycle.removed, Lifecycle.rejected})
# Devices under test report too; they go offline on silence but open no offline period
# (the provider's promise starts at activation).
UNDER_TEST = (Lifecycle.applied, Lifecycle.approved, Lifecycle.tested)


def _aware(value: datetime, what: str) -> None:
    if value.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware")


def _close(period: OfflinePeriod, at: datetime) -> None:
    """End a period at ``at``; the repair time runs from the notice, else from its start."""
    period.ended_at = at
    base = period.notified_at or period.started_at
    period.repair_seconds = max(0, int((at - base).total_seconds()))


# -- mark_seen: the ingest path -------------------------------------------------------------
#
# Written as fixed SQL (driver level), so nothing is compiled per call: the previous version
# built a multi-row ``INSERT … VALUES (…), (…)`` per device and SQLAlchemy compiled it on
# every call (3-10 ms per device and batch, most of the HJ 212 writer's time). Per batch:
# one locking read of the devices (id order), one UPDATE of them, one metric upsert; the
# ORM is used only for a device coming back online (period closed, audit entry: rare).

_PG_LOCK: Final = (
    "SELECT id, mn, lifecycle, online FROM device WHERE id = ANY(%s::int4[]) ORDER BY id FOR UPDATE"
)
# last_seen_at only moves forward (greatest() ignores a NULL); updated_at as the ORM's
# onupdate would set it.
_PG_TOUCH: Final = """
UPDATE device AS d
SET last_seen_at = greatest(d.last_seen_at, v.at), online = true, updated_at = now()
FROM unnest(%s::int4[], %s::timestamptz[]) AS v(id, at)
WHERE d.id = v.id
"""
# Last seen moves forward; the last value only with a newer data time (a re-sent old
# frame does not overwrite the latest value). Rows come sorted by (device_id, metric), so
# concurrent writers take the row locks in the same order.
_PG_METRICS: Final = """
INSERT INTO metric_state AS s (device_id, metric, last_seen_at, last_data_time, last_value)
SELECT * FROM unnest(%s::int4[], %s::text[], %s::timestamptz[], %s::timestamptz[],
                     %s::float8[])
ON CONFLICT (device_id, metric) DO UPDATE SET
    last_seen_at = greatest(s.last_seen_at, excluded.last_seen_at),
    last_data_time = CASE WHEN excluded.last_data_time >= s.last_data_time
                          THEN excluded.last_data_time ELSE s.last_data_time END,
    last_value = CASE WHEN excluded.last_data_time >= s.last_data_time
                      THEN excluded.last_value ELSE s.last_value END
"""
# SQLite: the same through executemany of one fixed statement. Times are stored as naive
# UTC text (what SQLAlchemy's DATETIME writes), which orders like the times themselves.
_SQLITE_TOUCH: Final = """
UPDATE device SET
    last_seen_at = CASE WHEN last_seen_at IS NULL OR last_seen_at < ?1 THEN ?1
                        ELSE last_seen_at END,
    online = 1, updated_at = ?2
WHERE id = ?3
"""
_SQLITE_METRICS: Final = """
INSERT INTO metric_state (device_id, metric, last_seen_at, last_data_time, last_value)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (device_id, metric) DO UPDATE SET
    last_seen_at = CASE WHEN excluded.last_seen_at > last_seen_at
                        THEN excluded.last_seen_at ELSE last_seen_at END,
    last_value = CASE WHEN excluded.last_data_time >= last_data_time
                      THEN excluded.last_value ELSE last_value END,
    last_data_time = CASE WHEN excluded.last_data_time >= last_data_time
                          THEN excluded.last_data_time ELSE last_data_time END
"""


def _sqlite_time(t: datetime) -> str:
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _back_online(session: Session, device_id: int, mn: str, at: datetime) -> None:
    """The device was offline: close its open period (repair time) and audit it."""
    period = repo.open_period(session, device_id)
    if period is None:
        return
    _close(period, at)
    audit.record(
        session,
        actor=None,
        action="online",
        entity_type="device",
        entity_id=device_id,
        changes={
            "online": [False, True],
            "offline_period": [period.id, period.id],
            "repair_seconds": [None, period.repair_seconds],
        },
        summary=Msg("devices.audit.back_online", {"mn": mn}),
    )


def _expire_loaded(
    session: Session, device_ids: Sequence[int], metric_keys: Sequence[tuple[int, str]]
) -> None:
    """Objects of this session that the driver-level statements changed reload on next use."""
    imap = session.identity_map
    if not len(imap):
        return
    for device_id in device_ids:
        device = imap.get(identity_key(Device, (device_id,)))
        if device is not None:
            session.expire(device, ["last_seen_at", "online", "updated_at"])
    for key in metric_keys:
        state = imap.get(identity_key(MetricState, key))
        if state is not None:
            session.expire(state)


def _check_seen_aware(seen: Mapping[int, tuple[datetime, SeenMetrics]]) -> None:
    """Every time in ``seen`` must be timezone-aware, checked before anything is written.
    Split off :func:`mark_seen_many`: one call per batch, the per-device loops unchanged."""
    for at, metrics in seen.values():
        _aware(at, "at")
        for data_time, _ in metrics.values():
            _aware(data_time, "metric data time")


def mark_seen_many(session: Session, seen: Mapping[int, tuple[datetime, SeenMetrics]]) -> list[int]:
    """Frames from many devices were stored: ``seen`` maps a device id to ``(at, metrics)``
    as :func:`mark_seen` takes them, once per device (the caller merges a batch).

    Each device is online, ``last_seen_at`` moves forward to ``at``, its metric states are
    upserted, an open offline period is closed. A constant number of statements per call,
    whatever the number of devices; devices are locked in id order (as the offline sweep
    locks them: no deadlock). Unknown, removed and rejected devices are skipped. Returns the
    ids of the devices that came back online. Never commits.
    """
    if not seen:
        return []
    _check_seen_aware(seen)
    session.flush()  # pending ORM changes first: the statements below go past the ORM
    conn = session.connection()
    raw: Any = conn.connection.driver_connection
    name = conn.dialect.name
    if name not in ("postgresql", "sqlite"):  # pragma: no cover - as the reading store
        raise NotImplementedError(f"mark_seen: unsupported database {name!r}")
    ids = sorted(seen)
    cur = raw.cursor()
    try:
        if name == "postgresql":
            cur.execute(_PG_LOCK, (pg_array(ids),))
        else:  # SQLite: one writer at a time, nothing to lock
            marks = ",".join("?" * len(ids))
            cur.execute(
                f"SELECT id, mn, lifecycle, online FROM device WHERE id IN ({marks}) ORDER BY id",
                ids,
            )
        found = cur.fetchall()
        live = [(dev_id, mn, online) for dev_id, mn, lifecycle, online in found
                if lifecycle not in CLOSED]  # fmt: skip
        if not live:
            return []
        metric_rows = [
            (dev_id, metric[:24], seen[dev_id][0], data_time, value)
            for dev_id, _, _ in live
            for metric, (data_time, value) in sorted(seen[dev_id][1].items())
        ]
        if name == "postgresql":
            quoted: dict[object, str] = {}
            cur.execute(
                _PG_TOUCH,
                (
                    pg_array([d for d, _, _ in live]),
                    pg_array([seen[d][0] for d, _, _ in live], quoted),
                ),
            )
            if metric_rows:
                dev_ids, names, ats, data_times, values = zip(*metric_rows, strict=True)
                cur.execute(
                    _PG_METRICS,
                    (
                        pg_array(dev_ids),
                        pg_array(names, quoted),
                        pg_array(ats, quoted),
                        pg_array(data_times, quoted),
                        pg_array(values),
                    ),
                )
        else:
            now = _sqlite_time(utcnow())
            cur.executemany(_SQLITE_TOUCH, [(_sqlite_time(seen[d][0]), now, d) for d, _, _ in live])
            if metric_rows:
                cur.executemany(
                    _SQLITE_METRICS,
                    [(d, m, _sqlite_time(a), _sqlite_time(t), v) for d, m, a, t, v in metric_rows],
                )
    finally:
        cur.close()
    _expire_loaded(session, [d for d, _, _ in live], [(d, m) for d, m, _, _, _ in metric_rows])
    back: list[int] = []
    for dev_id, mn, online in live:
        if not online:
            _back_online(session, dev_id, mn, seen[dev_id][0])
            back.append(dev_id)
    return back


def mark_seen(
    session: Session, *, device_id: int, at: datetime, metrics: SeenMetrics | None = None
) -> None:
    """A frame from the device arrived at ``at``: it is online, and each metric in
    ``metrics`` (``{metric: (data_time, value)}``) was seen. Closes an open offline period.

    Frames of removed or rejected devices are ignored (the ingest layer refuses them).
    One device's worth of :func:`mark_seen_many`; a batch of devices should call that.
    """
    mark_seen_many(session, {device_id: (at, metrics or {})})


def sweep_offline(
    session: Session, *, now: datetime, policy: OnlinePolicy = DEFAULT_ONLINE_POLICY
) -> list[Device]:
    """Mark devices silent for longer than their limit offline; return the newly offline.

    An active device gets an offline period starting at its last frame (or at activation
    if it never reported). Idempotent: a device with an open period is left alone.
    """
    _aware(now, "now")
    own = repo.smallest_own_offline_limit(session)
    smallest = min(policy.offline_after_minutes, own or policy.offline_after_minutes)
    candidates = repo.offline_candidates(
        session, silent_before=now - timedelta(minutes=smallest), under_test=UNDER_TEST
    )
    newly: list[int] = []
    for r in candidates:
        silent_since = r.last_seen_at or r.activated_at or r.created_at
        limit = timedelta(minutes=policy.threshold_minutes(r.offline_after_minutes))
        if now - silent_since <= limit:
            continue
        limit_min = int(limit.total_seconds() // 60)
        if not repo.set_offline_if_unseen(session, r.id, r.last_seen_at):
            continue  # a frame arrived meanwhile
        if r.lifecycle != Lifecycle.active:
            continue
        period = OfflinePeriod(device_id=r.id, started_at=silent_since, detected_at=now)
        session.add(period)
        audit.record(
            session,
            actor=None,
            action="offline",
            entity_type="device",
            entity_id=r.id,
            changes={
                "online": [r.online, False],
                "offline_since": [None, silent_since.isoformat()],
            },
            summary=f"设备 {r.mn} 离线（静默超过 {limit_min} 分钟）/ offline",
        )
        newly.append(r.id)
    session.flush()
    if not newly:
        return []
    return repo.devices_reloaded(session, newly)


def record_notice(session: Session, *, device_id: int, at: datetime) -> OfflinePeriod | None:
    """The provider was told of the device's open offline period at ``at`` (first notice
    counts); None when the device is not offline."""
    _aware(at, "at")
    period = repo.open_period(session, device_id)
    if period is not None and period.notified_at is None:
        period.notified_at = max(at, period.started_at)
    return period


def end_for_removal(session: Session, *, device_id: int, at: datetime) -> None:
    """A removed device stops being offline, but it was not repaired: no repair time."""
    period = repo.open_period(session, device_id)
    if period is not None:
        period.ended_at = at


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def offline_rate(
    session: Session,
    *,
    start: datetime,
    end: datetime,
    device_id: int | None = None,
    provider_id: int | None = None,
) -> float | None:
    """Share of in-service time spent offline in ``[start, end)``, for one device or all of
    a provider's devices (weighted by each device's time in service); None when nothing was
    in service. Periods still open count up to ``end``, so pass ``end <= now``."""
    _aware(start, "start")
    _aware(end, "end")
    if (device_id is None) == (provider_id is None):
        raise ValueError("give exactly one of device_id and provider_id")
    if end <= start:
        return None
    # In service from activation; an active device registered without an activation time
    # (older data, other tools) counts from its creation, as the sweep does.
    windows: dict[int, tuple[datetime, datetime]] = {}
    for dev_id, activated, created, removed in repo.service_spans(
        session, device_id=device_id, provider_id=provider_id
    ):
        w0, w1 = max(start, activated or created), min(end, removed or end)
        if w1 > w0:
            windows[dev_id] = (w0, w1)
    observed = sum((w1 - w0).total_seconds() for w0, w1 in windows.values())
    if observed <= 0:
        return None
    offline = 0.0
    for dev_id, p0, p1 in repo.periods_overlapping(session, windows, start, end):
        w0, w1 = windows[dev_id]
        offline += _overlap(p0, p1 or end, w0, w1)
    return offline / observed


@periodic.in_process_sweep("devices.offline")
def sweep_offline_and_log(session: Session, now: datetime) -> list[Device]:
    """``serve``'s worker: the offline sweep, logging the devices that just went offline."""
    newly = sweep_offline(session, now=now)
    if newly:
        _log.info("devices offline: %s", ", ".join(d.mn for d in newly))
    return newly
