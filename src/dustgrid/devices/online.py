"""Online state: last seen per device and per metric, offline periods, offline rate.

``mark_seen`` runs on the ingest path (once per device per written batch), ``sweep_offline``
on a schedule, ``offline_rate`` for provider scoring (domain.md §7: providers promise an
offline rate ≤ 10 %, and the repair time after notice is scored). Never commits.

Concurrency: the sweep turns a device offline with a conditional UPDATE (only if its
``last_seen_at`` is still the one the sweep read), and ``mark_seen`` reads the device row
``FOR UPDATE``. So a frame and a sweep racing for the same device end either "seen, no
period" or "period opened, then closed by the frame" - never online with an open period.
(SQLite serialises writers, so there the question does not arise.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.devices import repository as repo
from dustgrid.devices.models import Device, Lifecycle, MetricState, OfflinePeriod
from dustgrid.devices.policy import DEFAULT_ONLINE, OnlinePolicy

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


def _upsert_metrics(session: Session, device_id: int, at: datetime, metrics: SeenMetrics) -> None:
    """One INSERT … ON CONFLICT per device: last seen moves forward, the last value only
    with a newer data time (a re-sent old frame does not overwrite the latest value)."""
    rows = [
        {
            "device_id": device_id,
            "metric": metric[:24],
            "last_seen_at": at,
            "last_data_time": data_time,
            "last_value": value,
        }
        for metric, (data_time, value) in metrics.items()
    ]
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt: Any = pg_insert(MetricState).values(rows)
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(MetricState).values(rows)
    else:  # pragma: no cover - other databases: plain ORM, one row at a time
        for metric, (data_time, value) in metrics.items():
            state = session.get(MetricState, (device_id, metric[:24]))
            if state is None:
                session.add(
                    MetricState(
                        device_id=device_id,
                        metric=metric[:24],
                        last_seen_at=at,
                        last_data_time=data_time,
                        last_value=value,
                    )
                )
                continue
            state.last_seen_at = max(state.last_seen_at, at)
            if data_time >= state.last_data_time:
                state.last_data_time, state.last_value = data_time, value
        return
    ex = stmt.excluded
    newer = ex.last_data_time >= MetricState.last_data_time
    stmt = stmt.on_conflict_do_update(
        index_elements=[MetricState.device_id, MetricState.metric],
        set_={
            "last_seen_at": case(
                (ex.last_seen_at > MetricState.last_seen_at, ex.last_seen_at),
                else_=MetricState.last_seen_at,
            ),
            "last_data_time": case((newer, ex.last_data_time), else_=MetricState.last_data_time),
            "last_value": case((newer, ex.last_value), else_=MetricState.last_value),
        },
    )
    session.execute(stmt)


def mark_seen(
    session: Session, *, device_id: int, at: datetime, metrics: SeenMetrics | None = None
) -> None:
    """A frame from the device arrived at ``at``: it is online, and each metric in
    ``metrics`` (``{metric: (data_time, value)}``) was seen. Closes an open offline period.

    Frames of removed or rejected devices are ignored (the ingest layer refuses them).
    """
    _aware(at, "at")
    stmt = (
        select(Device)
        .where(Device.id == device_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    device = session.scalars(stmt).first()
    if device is None or device.lifecycle in CLOSED:
        return
    if device.last_seen_at is None or at > device.last_seen_at:
        device.last_seen_at = at
    if not device.online:
        device.online = True
        period = repo.open_period(session, device.id)
        if period is not None:
            _close(period, at)
            audit.record(
                session,
                actor=None,
                action="online",
                entity_type="device",
                entity_id=device.id,
                changes={
                    "online": [False, True],
                    "offline_period": [period.id, period.id],
                    "repair_seconds": [None, period.repair_seconds],
                },
                summary=f"设备 {device.mn} 恢复在线 / back online",
            )
    if metrics:
        _upsert_metrics(session, device.id, at, metrics)


def sweep_offline(
    session: Session, *, now: datetime, policy: OnlinePolicy = DEFAULT_ONLINE
) -> list[Device]:
    """Mark devices silent for longer than their limit offline; return the newly offline.

    An active device gets an offline period starting at its last frame (or at activation
    if it never reported). Idempotent: a device with an open period is left alone.
    """
    _aware(now, "now")
    own = session.scalar(
        select(func.min(Device.offline_after_minutes)).where(Device.offline_after_minutes > 0)
    )
    smallest = min(policy.offline_after_minutes, own or policy.offline_after_minutes)
    since = func.coalesce(Device.last_seen_at, Device.activated_at, Device.created_at)
    has_open = exists().where(
        OfflinePeriod.device_id == Device.id, OfflinePeriod.ended_at.is_(None)
    )
    candidates = session.execute(
        select(
            Device.id,
            Device.mn,
            Device.lifecycle,
            Device.online,
            Device.last_seen_at,
            Device.activated_at,
            Device.created_at,
            Device.offline_after_minutes,
        )
        .where(
            or_(
                and_(Device.lifecycle == Lifecycle.active, ~has_open),
                and_(Device.lifecycle.in_(UNDER_TEST), Device.online.is_(True)),
            ),
            since < now - timedelta(minutes=smallest),
        )
        # Rows are locked in id order, as the ingest writer should lock them (no deadlock).
        .order_by(Device.id)
    ).all()
    newly: list[int] = []
    for r in candidates:
        silent_since = r.last_seen_at or r.activated_at or r.created_at
        limit = timedelta(minutes=policy.threshold_minutes(r.offline_after_minutes))
        if now - silent_since <= limit:
            continue
        limit_min = int(limit.total_seconds() // 60)
        unchanged = (
            Device.last_seen_at.is_(None)
            if r.last_seen_at is None
            else Device.last_seen_at == r.last_seen_at
        )
        result: Any = session.execute(
            update(Device)
            .where(Device.id == r.id, unchanged)
            .values(online=False)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 0:  # a frame arrived meanwhile
            continue
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
    stmt = (
        select(Device)
        .where(Device.id.in_(newly))
        .order_by(Device.id)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


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
    stmt = select(Device.id, Device.activated_at, Device.created_at, Device.removed_at).where(
        or_(Device.activated_at.is_not(None), Device.lifecycle == Lifecycle.active)
    )
    stmt = stmt.where(
        Device.id == device_id if device_id is not None else Device.provider_id == provider_id
    )
    windows: dict[int, tuple[datetime, datetime]] = {}
    for dev_id, activated, created, removed in session.execute(stmt):
        w0, w1 = max(start, activated or created), min(end, removed or end)
        if w1 > w0:
            windows[dev_id] = (w0, w1)
    observed = sum((w1 - w0).total_seconds() for w0, w1 in windows.values())
    if observed <= 0:
        return None
    periods = select(
        OfflinePeriod.device_id, OfflinePeriod.started_at, OfflinePeriod.ended_at
    ).where(
        OfflinePeriod.device_id.in_(list(windows)),
        OfflinePeriod.started_at < end,
        or_(OfflinePeriod.ended_at.is_(None), OfflinePeriod.ended_at > start),
    )
    offline = 0.0
    for dev_id, p0, p1 in session.execute(periods):
        w0, w1 = windows[dev_id]
        offline += _overlap(p0, p1 or end, w0, w1)
    return offline / observed
