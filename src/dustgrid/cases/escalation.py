"""Reminders, escalation, review dates and look-back sampling: set-based sweeps.

Each sweep handles the cases whose instant (``remind_at``, ``due_at``,
``review_remind_at``) fell in the window since its previous run (``CaseSweepMark``): a
grouped count and a few ``INSERT … SELECT`` statements over an index range, whatever the
backlog, with no Python loop over cases and no rewrite of case rows. The first run
handles everything already due. Escalation itself is derived (an open clock past
``due_at`` is escalated one level above its ``level``); the sweep records it as an event
per case (one statement for every level) and tells the people above. Messages to units
are digests ("5 overdue cases escalated to your unit"), one per person, and so are the
reminders of whoever has more than ``EscalationPolicy.reminder_digest_above`` in one run,
so a backlog does not bury anyone's inbox.

The open-case conditions use ``models.open_clause()``, which the partial index
``ix_case_record_open_unit_due`` answers (covering, on PostgreSQL): the counts read the
index, not the table. Most of a big run is the event rows themselves (each one's
foreign-key check locks its case row); see docs/performance.md "Cases".
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
    case,
    cast,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from dustgrid import periodic
from dustgrid.auth.models import User
from dustgrid.cases import deadlines
from dustgrid.cases.events import new_event
from dustgrid.cases.models import Case, CaseEvent, CaseSweepMark, open_clause
from dustgrid.cases.policy import DEFAULT_CASE_POLICY, CasePolicy, Level
from dustgrid.cases.states import CaseState
from dustgrid.config import Settings, get_settings
from dustgrid.i18n import DEFAULT_LOCALE, translate
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.notifications import service as notifications
from dustgrid.notifications.models import Notification

_LOCK_KEY = 0x0DC45E  # advisory lock: one sweeper at a time on PostgreSQL
_LEVEL_ORDER = (Level.L4, Level.L3, Level.L2, Level.L1)  # digests bottom-up, as they escalate
REMINDER_DIGEST_LINK = "/cases?tab=open"  # the person's open cases, soonest due first


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


def _case_notice(kind: str, key: str) -> dict[str, Any]:
    """Columns of a per-case notification built in SQL: the message ``key`` (its
    ``{case_id}`` comes from the row) and its zh-CN text for outbound channels."""
    zh = translate(key, DEFAULT_LOCALE)
    head, _, tail = zh.partition("{case_id}")
    return {
        "kind": literal(kind),
        "message_key": literal(key),
        "title": _title(head, Case.id, tail),
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
    upper: ColumnElement[bool] = column < now if strict else column <= now
    if since is None:
        return upper
    return and_(upper, column >= since if strict else column > since)


def sweep_reminders(
    session: Session, now: datetime, *, policy: CasePolicy = DEFAULT_CASE_POLICY
) -> int:
    """Remind whoever holds a case once ``remind_at`` (80% of the time) has passed.

    The person named on the case is reminded, else (an L2 clock: nobody named yet) the
    admins of the unit it was dispatched to. A message per case, except for whoever would
    get more than ``policy.escalation.reminder_digest_above`` of them in this run: one
    digest with the count instead.
    """
    digest_above = policy.escalation.reminder_digest_above
    window = _window(session, "reminders", Case.remind_at, now)
    if window is None:
        return 0
    # A case already past its deadline gets no reminder: the escalation sweep takes it up.
    # (After an outage this keeps the first sweep from writing a reminder per overdue case.)
    due = and_(window, open_clause(), Case.due_at > now)
    unnamed = and_(Case.responsible_user_id.is_(None), Case.level == Level.L2.value)
    unit_of_unnamed = case((unnamed, Case.assigned_unit_id), else_=None)
    groups = session.execute(
        select(Case.responsible_user_id, unit_of_unnamed, func.count())
        .where(due)
        .group_by(Case.responsible_user_id, unit_of_unnamed)
    ).all()
    n = sum(int(count) for _, _, count in groups)
    if not n:
        return 0
    people = {int(u): int(c) for u, _, c in groups if u is not None}
    units = {int(unit): int(c) for u, unit, c in groups if u is None and unit is not None}
    busy_people = sorted(u for u, c in people.items() if c > digest_above)
    busy_units = sorted(u for u, c in units.items() if c > digest_above)
    cols = _case_notice("case.reminder", "cases.notice.due_soon")
    if len(busy_people) < len(people):
        named = and_(due, Case.responsible_user_id.is_not(None))
        if busy_people:
            named = and_(named, Case.responsible_user_id.not_in(busy_people))
        _insert_notices(session, cols, Case.responsible_user_id, named, None, now)
    if len(busy_units) < len(units):
        unit_admin = and_(
            User.org_unit_id == Case.assigned_unit_id, _active_users(Role.district_admin)
        )
        where = and_(due, unnamed)
        if busy_units:
            where = and_(where, Case.assigned_unit_id.not_in(busy_units))
        _insert_notices(session, cols, User.id, where, (User, unit_admin), now)
    digests = [(user_id, people[user_id]) for user_id in busy_people]
    if busy_units:
        admins = session.execute(
            select(User.id, User.org_unit_id)
            .where(User.org_unit_id.in_(busy_units), _active_users(Role.district_admin))
            .order_by(User.id)
        )
        digests += [(u, units[unit]) for u, unit in admins if unit is not None]
    if digests:
        session.execute(
            insert(Notification),
            [
                {
                    "user_id": user_id,
                    "kind": "case.reminder",
                    "title": translate("cases.notice.due_digest").format(count=count),
                    "message_key": "cases.notice.due_digest",
                    "params": {"count": count},
                    "body": "",
                    "link": REMINDER_DIGEST_LINK,
                    "created_at": now,
                }
                for user_id, count in digests
            ],
        )
    return n


def _late_by_level_and_unit(
    session: Session, late: ColumnElement[bool]
) -> dict[Level, dict[int | None, int]]:
    """How many cases ``late`` selects, per level and per unit they were dispatched to."""
    stmt = (
        select(Case.level, Case.assigned_unit_id, func.count())
        .where(late)
        .group_by(Case.level, Case.assigned_unit_id)
    )
    out: dict[Level, dict[int | None, int]] = {}
    for level, unit_id, n in session.execute(stmt):
        out.setdefault(Level(str(level)), {})[unit_id] = int(n)
    return out


def _digest(
    session: Session,
    *,
    target: Level,
    src: Level,
    per_unit: dict[int | None, int],
    now: datetime,
    settings: Settings,
) -> None:
    """One notification per person of the target level with the count escalated to them.

    L1 hears about all of ``src``'s cases; an L2 unit's admins about those dispatched to
    their unit (the inbox rows), and the outbound channels get one message with the total.
    """
    if target == Level.L1:
        n = sum(per_unit.values())
        users = list(session.scalars(select(User.id).where(_active_users(Role.city_admin))))
        if n and users:
            notifications.notify(
                session,
                user_ids=users,
                kind="case.escalated",
                title=translate("cases.notice.escalated_l1").format(count=n),
                message_key="cases.notice.escalated_l1",
                params={"count": n},
                link="/cases?tab=overdue",
                now=now,
                settings=settings,
            )
        return
    units = {u: n for u, n in per_unit.items() if u is not None}
    if not units:
        return
    admins = session.execute(
        select(User.id, User.org_unit_id)
        .where(User.org_unit_id.in_(sorted(units)), _active_users(Role.district_admin))
        .order_by(User.id)
    )
    rows = [
        {
            "user_id": user_id,
            "kind": "case.escalated",
            "title": translate("cases.notice.escalated_unit").format(
                count=units[unit_id], level=src.value
            ),
            "message_key": "cases.notice.escalated_unit",
            "params": {"count": units[unit_id], "level": src.value},
            "body": "",
            "link": "/cases?tab=overdue",
            "created_at": now,
        }
        for user_id, unit_id in admins
        if unit_id is not None
    ]
    if rows:
        session.execute(insert(Notification), rows)
    total = sum(units.values())
    notifications.notify(
        session,
        user_ids=[],
        kind="case.escalated",
        title=translate("cases.notice.escalated_l2").format(count=total),
        message_key="cases.notice.escalated_l2",
        params={"count": total},
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

    Set-based whatever the backlog: one grouped count of the late cases (per level and
    unit: the digests' numbers), one ``INSERT … SELECT`` writing every event (the from/to
    levels picked per row), then a handful of digest rows.
    """
    settings = settings or get_settings()
    policy = policy or deadlines.case_policy(settings)
    window = _window(session, "escalations", Case.due_at, now, strict=True)
    if window is None:
        return 0
    chain = {src: target for src in Level if (target := policy.escalation.target(src))}
    if not chain:
        return 0
    late = and_(window, open_clause(), Case.level.in_([s.value for s in chain]))
    counts = _late_by_level_and_unit(session, late)
    if not counts:
        return 0
    data = case(
        *(
            (
                Case.level == src.value,
                literal({"from_level": src.value, "to_level": target.value}, type_=JSON),
            )
            for src, target in chain.items()
        )
    )
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
    ).where(late)
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
    for src in sorted(counts, key=_LEVEL_ORDER.index):
        _digest(
            session, target=chain[src], src=src, per_unit=counts[src], now=now, settings=settings
        )
    return sum(n for per_unit in counts.values() for n in per_unit.values())


def sweep_reviews(session: Session, now: datetime) -> int:
    """Suspended cases whose review date has come: tell the unit it was dispatched to."""
    window = _window(session, "reviews", Case.review_remind_at, now)
    if window is None:
        return 0
    due = and_(window, Case.state == CaseState.suspended.value)
    n = int(session.scalar(select(func.count()).where(due)) or 0)
    if n:
        cols = _case_notice("case.review_due", "cases.notice.review_due")
        unit_admin = and_(
            User.org_unit_id == Case.assigned_unit_id, _active_users(Role.district_admin)
        )
        _insert_notices(session, cols, User.id, due, (User, unit_admin), now)
    return n


@periodic.every_tick("cases")
def sweep(session: Session, now: datetime, settings: Settings | None = None) -> SweepReport:
    """All periodic case work in one transaction (the caller commits)."""
    if not _lock(session):
        return SweepReport()
    settings = settings or get_settings()
    policy = deadlines.case_policy(settings)
    return SweepReport(
        reminded=sweep_reminders(session, now, policy=policy),
        escalated=sweep_escalations(session, now, settings=settings, policy=policy),
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
        new_event(
            i,
            "case.look_back_selected",
            actor=actor,
            now=now,
            policy_version=policy.version,
            from_state="closed",
            to_state="closed",
            data={"due_at": due.isoformat()},
        )
        for i in ids
    )
    session.flush()
    return ids
