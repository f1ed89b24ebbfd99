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
foreign-key check locks its case row); see docs/performance.md "Cases". This module decides
which cases (the windows, the open states, the levels) and who hears; the statements are
in ``repository.py`` (*the sweeps*).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_
from sqlalchemy.orm import Session

from dustgrid import periodic
from dustgrid.cases import citybrain, deadlines
from dustgrid.cases import repository as repo
from dustgrid.cases.events import new_event
from dustgrid.cases.models import Case, CaseSweepMark, open_clause
from dustgrid.cases.policy import DEFAULT_CASE_POLICY, CasePolicy, Level
from dustgrid.cases.states import CaseState
from dustgrid.config import Settings, get_settings
from dustgrid.i18n import translate
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.notifications import service as notifications

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
    groups = repo.reminder_groups(session, due)
    n = sum(int(count) for _, _, count in groups)
    if not n:
        return 0
    people = {int(u): int(c) for u, _, c in groups if u is not None}
    units = {int(unit): int(c) for u, unit, c in groups if u is None and unit is not None}
    busy_people = sorted(u for u, c in people.items() if c > digest_above)
    busy_units = sorted(u for u, c in units.items() if c > digest_above)
    cols = repo.case_notice("case.reminder", "cases.notice.due_soon")
    if len(busy_people) < len(people):
        named = and_(due, Case.responsible_user_id.is_not(None))
        if busy_people:
            named = and_(named, Case.responsible_user_id.not_in(busy_people))
        repo.notify_responsible(session, cols, named, now)
    if len(busy_units) < len(units):
        where = and_(due, repo.unnamed_l2())
        if busy_units:
            where = and_(where, Case.assigned_unit_id.not_in(busy_units))
        repo.notify_unit_admins(session, cols, where, now)
    digests = [(user_id, people[user_id]) for user_id in busy_people]
    if busy_units:
        admins = repo.unit_admin_ids(session, busy_units)
        digests += [(u, units[unit]) for u, unit in admins]
    if digests:
        repo.add_notices(
            session,
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
        users = sorted(repo.l1_users(session))
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
    admins = repo.unit_admin_ids(session, units)
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
    ]
    if rows:
        repo.add_notices(session, rows)
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
    levels picked per row), then a handful of digest rows. City Brain pushes late on the
    district's clock also tell the district's admins, one notice per case
    (``citybrain.notify_overdue``: a handful a day).
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
    counts = repo.late_by_level_and_unit(session, late)
    if not counts:
        return 0
    repo.add_escalation_events(
        session, late, chain, now=now, policy_version=policy.escalation.version
    )
    citybrain.notify_overdue(session, late, now)  # the district hears of its late pushes
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
    n = repo.count_where(session, due)
    if n:
        cols = repo.case_notice("case.review_due", "cases.notice.review_due")
        repo.notify_unit_admins(session, cols, due, now)
    return n


@periodic.every_tick("cases")
def sweep(session: Session, now: datetime, settings: Settings | None = None) -> SweepReport:
    """All periodic case work in one transaction (the caller commits)."""
    if not repo.try_sweep_lock(session, _LOCK_KEY):
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

        raise Invalid("cases.error.rate_must_0_1")
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
    n = repo.count_where(session, cohort)
    k = math.ceil(n * rate)
    if not k:
        return []
    ids = repo.random_ids(session, cohort, k)
    due = now + timedelta(days=7)
    repo.set_look_back_due(session, ids, due)
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
