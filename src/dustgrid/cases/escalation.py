"""Reminders, escalation, review dates and look-back sampling: set-based sweeps.

Each sweep handles the cases whose instant (``remind_at``, ``due_at``,
``review_remind_at``) fell in the window since its previous run (``CaseSweepMark``): a
few ``INSERT … SELECT`` statements over an index range, no Python loop over cases and no
rewrite of case rows. The first run handles everything already due. Escalation itself is
derived (an open clock past ``due_at`` is escalated one level above its ``level``); the
sweep records it as an event per case and tells the people above. Messages to units are
digests ("5 overdue cases escalated to your unit"), one per person, so a backlog does not
bury anyone's inbox.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    String,
    and_,
    cast,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.auth.principal import Principal
from dustgrid.auth.roles import Role
from dustgrid.cases import deadlines
from dustgrid.cases.models import OPEN_STATES, Case, CaseEvent, CaseSweepMark
from dustgrid.cases.policy import CasePolicy, Level
from dustgrid.cases.states import CaseState
from dustgrid.config import Settings, get_settings
from dustgrid.notifications import service as notifications
from dustgrid.notifications.models import Notification

_OPEN = tuple(s.value for s in OPEN_STATES)
_LOCK_KEY = 0x0DC45E  # advisory lock: one sweeper at a time on PostgreSQL


@dataclass(frozen=True, slots=True)
class SweepReport:
    reminded: int = 0
    escalated: int = 0
    reviews: int = 0

    def __str__(self) -> str:
        return f"reminded={self.reminded} escalated={self.escalated} reviews={self.reviews}"


def _lock(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _LOCK_KEY}))


def _title(prefix_zh: str, mid: Any, suffix: str) -> Any:
    return literal(prefix_zh) + cast(mid, String) + literal(suffix)


def _active_users(role: Role) -> Any:
    return and_(User.role == role, User.is_active.is_(True))


def _case_notice(kind: str, zh: str, en: str) -> dict[str, Any]:
    """Columns of a per-case notification built in SQL."""
    return {
        "kind": literal(kind),
        "title": _title(f"{zh}（案件 #", Case.id, f"） / {en}"),
        "body": func.substr(Case.description, 1, 200),
        "link": literal("/cases/") + cast(Case.id, String),
        "case_id": Case.id,
    }


def _insert_notices(
    session: Session,
    cols: dict[str, Any],
    user_col: Any,
    where: Any,
    join: tuple[Any, Any] | None,
    now: datetime,
) -> int:
    sel = select(user_col, *cols.values(), literal(now, type_=Case.opened_at.type))
    sel = sel.select_from(Case)
    if join is not None:
        sel = sel.join(*join)
    sel = sel.where(where)
    names = ["user_id", *cols, "created_at"]
    result = session.execute(insert(Notification).from_select(names, sel))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _window(
    session: Session, name: str, column: Any, now: datetime, *, strict: bool = False
) -> ColumnElement[bool] | None:
    """``column`` fell due since the previous run of sweep ``name``; advances its mark.

    Due means ``column <= now``, or ``column < now`` with ``strict`` (a deadline is missed
    only once it has passed); the window starts where the previous one ended, so every
    instant belongs to exactly one run. None when the clock has not moved on.
    """
    mark = session.get(CaseSweepMark, name, with_for_update=True)
    since = mark.swept_until if mark is not None else None
    if since is not None and now <= since:
        return None
    if mark is None:
        session.add(CaseSweepMark(name=name, swept_until=now))
    else:
        mark.swept_until = now
    session.flush()
    upper = column < now if strict else column <= now
    if since is None:
        return upper
    return and_(upper, column >= since if strict else column > since)


def sweep_reminders(session: Session, now: datetime) -> int:
    """Remind whoever holds a case once ``remind_at`` (80% of the time) has passed."""
    window = _window(session, "reminders", Case.remind_at, now)
    if window is None:
        return 0
    # A case already past its deadline gets no reminder: the escalation sweep takes it up.
    # (After an outage this keeps the first sweep from writing a reminder per overdue case.)
    due = and_(window, Case.state.in_(_OPEN), Case.due_at > now)
    n = int(session.scalar(select(func.count()).where(due)) or 0)
    if not n:
        return 0
    cols = _case_notice("case.reminder", "案件即将到期", "case due soon")
    _insert_notices(
        session,
        cols,
        Case.responsible_user_id,
        and_(due, Case.responsible_user_id.is_not(None)),
        None,
        now,
    )
    # No one named yet: the unit it was dispatched to (L2), or L1 for undispatched cases.
    unit_admin = and_(User.org_unit_id == Case.assigned_unit_id, _active_users(Role.district_admin))
    _insert_notices(
        session,
        cols,
        User.id,
        and_(due, Case.responsible_user_id.is_(None), Case.level == Level.L2.value),
        (User, unit_admin),
        now,
    )
    return n


def _digest(
    session: Session,
    *,
    target: Level,
    src: Level,
    since_where: Any,
    now: datetime,
    settings: Settings,
) -> None:
    """One notification per person of the target level with the count escalated to them."""
    if target == Level.L1:
        n = int(session.scalar(select(func.count()).where(since_where)) or 0)
        users = list(session.scalars(select(User.id).where(_active_users(Role.city_admin))))
        if n and users:
            notifications.notify(
                session,
                user_ids=users,
                kind="case.escalated",
                title=f"{n} 件超期案件升级至市级 / {n} overdue cases escalated to L1",
                link="/cases?tab=overdue",
                now=now,
                settings=settings,
            )
        return
    per_unit = (
        select(Case.assigned_unit_id.label("unit_id"), func.count().label("n"))
        .where(since_where, Case.assigned_unit_id.is_not(None))
        .group_by(Case.assigned_unit_id)
        .subquery()
    )
    sel = select(
        User.id,
        literal("case.escalated"),
        _title(
            "",
            per_unit.c.n,
            f" 件超期案件由 {src.value} 升级至本单位 / overdue cases escalated to your unit",
        ),
        literal(""),
        literal("/cases?tab=overdue"),
        literal(now, type_=Case.opened_at.type),
    ).join_from(
        per_unit,
        User,
        and_(User.org_unit_id == per_unit.c.unit_id, _active_users(Role.district_admin)),
    )
    session.execute(
        insert(Notification).from_select(
            ["user_id", "kind", "title", "body", "link", "created_at"], sel
        )
    )
    total = int(session.scalar(select(func.sum(per_unit.c.n))) or 0)
    if total:
        notifications.notify(
            session,
            user_ids=[],
            kind="case.escalated",
            title=f"{total} 件超期案件升级至二级网格 / {total} overdue cases escalated to L2",
            now=now,
            settings=settings,
            extra={"level": target.value},
        )


def sweep_escalations(
    session: Session,
    now: datetime,
    *,
    settings: Settings | None = None,
    policy: CasePolicy | None = None,
) -> int:
    """Escalate the open cases whose clock ran out since the last run one level up
    (L3/L4 → L2, L2 → L1): an event per case, a digest per person above.

    Each clock escalates once (its ``due_at`` falls in one window); a move that starts a
    new clock can escalate again. L1's own clocks have no one above: they stay red.
    """
    settings = settings or get_settings()
    policy = policy or deadlines.case_policy(settings)
    window = _window(session, "escalations", Case.due_at, now, strict=True)
    if window is None:
        return 0
    late = and_(window, Case.state.in_(_OPEN))
    total = 0
    for src in (Level.L4, Level.L3, Level.L2):
        target = policy.escalation.target(src)
        if target is None:
            continue
        where: ColumnElement[bool] = and_(late, Case.level == src.value)
        n = int(session.scalar(select(func.count()).where(where)) or 0)
        if not n:
            continue  # (counted first: INSERT … SELECT row counts differ between drivers)
        data = literal({"from_level": src.value, "to_level": target.value}, type_=JSON)
        events = select(
            Case.id,
            literal("case.escalated"),
            literal(now, type_=CaseEvent.at.type),
            literal("system"),
            literal("system"),
            Case.state,
            Case.state,
            literal(""),
            data,
            literal(policy.escalation.version),
        ).where(where)
        cols = [
            "case_id",
            "kind",
            "at",
            "actor_name",
            "actor_role",
            "from_state",
            "to_state",
            "reason",
            "data",
            "policy_version",
        ]
        session.execute(insert(CaseEvent).from_select(cols, events))
        _digest(session, target=target, src=src, since_where=where, now=now, settings=settings)
        total += n
    return total


def sweep_reviews(session: Session, now: datetime) -> int:
    """Suspended cases whose review date has come: tell the unit it was dispatched to."""
    window = _window(session, "reviews", Case.review_remind_at, now)
    if window is None:
        return 0
    due = and_(window, Case.state == CaseState.suspended.value)
    n = int(session.scalar(select(func.count()).where(due)) or 0)
    if n:
        cols = _case_notice("case.review_due", "挂账案件到期复核", "suspended case due for review")
        unit_admin = and_(
            User.org_unit_id == Case.assigned_unit_id, _active_users(Role.district_admin)
        )
        _insert_notices(session, cols, User.id, due, (User, unit_admin), now)
    return n


def sweep(session: Session, now: datetime, settings: Settings | None = None) -> SweepReport:
    """All periodic case work in one transaction (the caller commits)."""
    if not _lock(session):
        return SweepReport()
    settings = settings or get_settings()
    return SweepReport(
        reminded=sweep_reminders(session, now),
        escalated=sweep_escalations(session, now, settings=settings),
        reviews=sweep_reviews(session, now),
    )


def sample_look_back(
    session: Session,
    *,
    now: datetime,
    actor: Principal | None = None,
    rate: float | None = None,
    after_days: int | None = None,
    settings: Settings | None = None,
) -> list[int]:
    """Draw the look-back (回头看) sample: a share of the cases closed (after handling) in
    the 30 days that ended ``after_days`` ago, scoped to the actor's unit for an L2 admin."""
    settings = settings or get_settings()
    rate = settings.look_back_rate if rate is None else rate
    after = settings.look_back_after_days if after_days is None else after_days
    if not 0 < rate <= 1:
        from dustgrid.errors import Invalid

        raise Invalid("抽查比例须在 0 与 1 之间 / the rate must be in (0, 1]")
    end = now - timedelta(days=after)
    cohort = and_(
        Case.state == CaseState.closed.value,
        Case.closed_at > end - timedelta(days=30),
        Case.closed_at <= end,
        Case.disposition.is_not(None),
        Case.looked_back_at.is_(None),
        Case.look_back_due_at.is_(None),
    )
    if actor is not None and actor.role == Role.district_admin:
        cohort = and_(cohort, Case.assigned_unit_id == (actor.org_unit_id or -1))
    n = int(session.scalar(select(func.count()).where(cohort)) or 0)
    k = math.ceil(n * rate)
    if not k:
        return []
    ids = list(session.scalars(select(Case.id).where(cohort).order_by(func.random()).limit(k)))
    due = now + timedelta(days=7)
    session.execute(update(Case).where(Case.id.in_(ids)).values(look_back_due_at=due))
    policy = deadlines.case_policy(settings)
    session.add_all(
        CaseEvent(
            case_id=i,
            kind="case.look_back_selected",
            at=now,
            actor_id=actor.user_id if actor else None,
            actor_name=actor.username if actor else "system",
            actor_role=actor.role.value if actor else "system",
            from_state="closed",
            to_state="closed",
            data={"due_at": due.isoformat()},
            policy_version=policy.version,
        )
        for i in ids
    )
    session.flush()
    return ids
