"""Alert rows as the periodic checks read them (exceedance, offline, stale key, quality):
not limited by a principal's scope, the checks run for the whole city. Never commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.orm import Session

from dustgrid.alerts.models import Alert
from dustgrid.devices.models import Device

CHUNK: Final = 500  # sites per query


def alerts_since(
    session: Session, kind: str, rule_key: str, site_ids: Sequence[int], since: datetime
) -> list[Alert]:
    """The sites' alerts of ``kind`` × ``rule_key`` that are open, or started or ended after
    ``since`` (one query per chunk of sites)."""
    out: list[Alert] = []
    for i in range(0, len(site_ids), CHUNK):
        stmt = select(Alert).where(
            Alert.kind == kind,
            Alert.rule_key == rule_key,
            Alert.site_id.in_(site_ids[i : i + CHUNK]),
            or_(
                Alert.open_key.is_not(None),
                Alert.started_at >= since,
                and_(Alert.ended_at.is_not(None), Alert.ended_at > since),
            ),
        )
        out.extend(session.scalars(stmt))
    return out


def open_alerts(
    session: Session, kind: str, *, except_rules: set[str] | None = None
) -> list[Alert]:
    """Open alerts of ``kind`` (those of a rule in ``except_rules`` left out)."""
    stmt = select(Alert).where(Alert.kind == kind, Alert.open_key.is_not(None))
    if except_rules:
        stmt = stmt.where(Alert.rule_key.not_in(sorted(except_rules)))
    return list(session.scalars(stmt))


def open_quality_alerts(session: Session) -> list[Alert]:
    """Open alerts of every ``quality:<kind>``."""
    return list(
        session.scalars(
            select(Alert).where(Alert.kind.like("quality:%"), Alert.open_key.is_not(None))
        )
    )


def open_alerts_with_devices(session: Session, kind: str) -> list[Row[Alert, Device]]:
    """Open alerts of ``kind`` about a device, each with its device."""
    stmt = (
        select(Alert, Device)
        .join(Device, Device.id == Alert.device_id)
        .where(Alert.kind == kind, Alert.open_key.is_not(None))
    )
    return list(session.execute(stmt).all())
