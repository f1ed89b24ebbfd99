"""The in-app inbox and the hand-off to outbound channels. Never commits.

In-app rows are written in the caller's transaction, so they appear exactly when the
change commits and vanish with a rollback. Outbound messages go through the outbox (one
job per enabled channel) and leave only after commit, retried on failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.errors import NotFound
from dustgrid.i18n import DEFAULT_LOCALE, localize, translate
from dustgrid.notifications import repository
from dustgrid.notifications.channels import enabled_channels
from dustgrid.notifications.delivery import CHANNEL_JOB
from dustgrid.notifications.models import Notification
from dustgrid.outbox.queue import enqueue


def render(message_key: str, params: dict[str, Any] | None, locale: str = DEFAULT_LOCALE) -> str:
    """A message in ``locale``: the key's text with ``params`` filled in. A parameter named
    ``<name>_key`` is itself a message key, translated and passed as ``<name>``."""
    values: dict[str, Any] = {}
    for name, value in (params or {}).items():
        if name.endswith("_key") and isinstance(value, str):
            values[name[: -len("_key")]] = translate(value, locale)
        else:
            values[name] = value
    text = translate(message_key, locale)
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text


def title_of(row: Notification, locale: str = DEFAULT_LOCALE) -> str:
    """What the reader sees as the notification's title, in their language if it has a key."""
    if not row.message_key:
        return localize(row.title, locale)  # an older row: the reader's half of its text
    return render(row.message_key, {"case_id": row.case_id, **(row.params or {})}, locale)


def notify(
    session: Session,
    *,
    user_ids: Iterable[int],
    kind: str,
    title: str = "",
    message_key: str | None = None,
    params: dict[str, Any] | None = None,
    body: str = "",
    link: str = "",
    case_id: int | None = None,
    now: datetime,
    settings: Settings,
    extra: dict[str, Any] | None = None,
) -> list[Notification]:
    """Inbox rows for each recipient, and one outbox job per enabled outbound channel.

    Give ``message_key`` (and ``params``) so each reader sees it in their language; the
    stored ``title`` (what outbound channels send) is then its zh-CN text unless given."""
    ids = sorted(set(user_ids))
    if message_key:
        title = title or render(message_key, params)
    rows = [
        Notification(
            user_id=u,
            kind=kind,
            title=title[:255],
            message_key=message_key,
            params=dict(params) if params else None,
            body=body,
            link=link[:255],
            case_id=case_id,
            created_at=now,
        )
        for u in ids
    ]
    session.add_all(rows)
    channels = enabled_channels(settings)
    if channels and (ids or extra):
        message = {
            "kind": kind,
            "title": title,
            "body": body,
            "link": link,
            "case_id": case_id,
            "recipient_ids": ids,
            "at": now.isoformat(),
            **({"message_key": message_key, "params": params or {}} if message_key else {}),
            **(extra or {}),
        }
        for name in channels:
            enqueue(
                session,
                CHANNEL_JOB,
                {"channel": name, "message": message},
                run_after=now,
                max_attempts=settings.jobs_max_attempts,
            )
    return rows


def unread_count(session: Session, user_id: int) -> int:
    return repository.count(session, user_id, unread_only=True)


def inbox(
    session: Session, user_id: int, *, unread_only: bool = False, page: int = 1, size: int = 50
) -> tuple[list[Notification], int]:
    total = repository.count(session, user_id, unread_only=unread_only)
    rows = repository.page(
        session, user_id, unread_only=unread_only, offset=(page - 1) * size, limit=size
    )
    return rows, total


def mark_read(session: Session, user_id: int, notification_id: int, *, now: datetime) -> None:
    row = session.get(Notification, notification_id)
    if row is None or row.user_id != user_id:
        raise NotFound(
            "notifications.error.notification_not_found", notification_id=notification_id
        )
    if row.read_at is None:
        row.read_at = now
        session.flush()


def mark_all_read(session: Session, user_id: int, *, now: datetime) -> int:
    return repository.mark_all_read(session, user_id, now)
