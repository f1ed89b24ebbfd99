"""Queries of the city's rule settings (``alert_profile_setting``). Never commits."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.alerts.models import AlertProfileSetting


def current_settings(session: Session) -> list[AlertProfileSetting]:
    """The settings in force (one per profile: those holding ``active_key``), by profile id."""
    stmt = select(AlertProfileSetting).where(AlertProfileSetting.active_key.is_not(None))
    return list(session.scalars(stmt.order_by(AlertProfileSetting.profile_id)))


def setting_history(session: Session, profile_id: str | None = None) -> list[AlertProfileSetting]:
    """Every saved version (of ``profile_id`` when given), newest version first per profile."""
    stmt = select(AlertProfileSetting)
    if profile_id is not None:
        stmt = stmt.where(AlertProfileSetting.profile_id == profile_id)
    stmt = stmt.order_by(AlertProfileSetting.profile_id, AlertProfileSetting.version.desc())
    return list(session.scalars(stmt))


def setting_in_force(session: Session, profile_id: str) -> AlertProfileSetting | None:
    """The version of ``profile_id`` in force, if the city saved one."""
    return session.scalar(
        select(AlertProfileSetting).where(AlertProfileSetting.active_key == profile_id)
    )


def last_version(session: Session, profile_id: str) -> int | None:
    """The highest version number saved for ``profile_id`` (None: never saved)."""
    return session.scalar(
        select(func.max(AlertProfileSetting.version)).where(
            AlertProfileSetting.profile_id == profile_id
        )
    )


def newest_setting_id(session: Session) -> int | None:
    """The id of the newest saved setting: a change means the rules in force may differ."""
    return session.scalar(select(func.max(AlertProfileSetting.id)))
