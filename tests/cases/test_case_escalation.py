"""Reminders before due, escalation one level up when overdue, review dates, the board."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from dustgrid.cases import escalation, repository
from dustgrid.cases.deadlines import escalated_to
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.policy import DEFAULT_POLICY
from dustgrid.cases.states import CaseSource, CaseState
from dustgrid.config import Settings
from dustgrid.notifications.models import Notification
from dustgrid.workcal.calendar import CHINA_TZ
from tests.cases.case_kit import MONDAY, case_in, mv, photo, report, who
from tests.fixtures.city import City


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA_TZ)  # type: ignore[misc]


def lifted(case: Case, now: datetime) -> str | None:
    """The level the case is escalated to at ``now`` (derived from its clock)."""
    return escalated_to(case.level, case.due_at, now, DEFAULT_POLICY)


def notes(db: Session, user: int, kind: str) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user, Notification.kind == kind)
    return list(db.scalars(stmt))


def test_reminder_then_escalation_to_l2_once(db: Session, city: City, settings: Settings) -> None:
    case = case_in(db, city, settings, CaseState.accepted)  # officer's handle clock
    u = city.users
    assert escalation.sweep(db, cst(2026, 3, 4, 19), settings).reminded == 0
    report_ = escalation.sweep(db, cst(2026, 3, 4, 20), settings)
    assert report_.reminded == 1 and report_.escalated == 0
    [reminder] = notes(db, u["off_hp1"], "case.reminder")
    assert f"#{case.id}" in reminder.title and reminder.link == f"/cases/{case.id}"
    assert escalation.sweep(db, cst(2026, 3, 4, 21), settings).reminded == 0  # only once

    assert escalation.sweep(db, cst(2026, 3, 5, 10), settings).escalated == 0  # due, not late
    late = escalation.sweep(db, cst(2026, 3, 5, 10, 5), settings)
    assert late.escalated == 1
    assert lifted(case, cst(2026, 3, 5, 10, 5)) == "L2"
    ev = db.scalar(
        select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "case.escalated")
    )
    assert ev is not None and ev.data == {"from_level": "L4", "to_level": "L2"}
    assert ev.actor_name == "system" and ev.from_state == ev.to_state == "accepted"
    [digest] = notes(db, u["d_heping"], "case.escalated")
    assert digest.title.startswith("1 件超期案件")
    assert escalation.sweep(db, cst(2026, 3, 6, 10), settings).escalated == 0  # only once


def test_a_new_clock_can_escalate_again_to_l1(db: Session, city: City, settings: Settings) -> None:
    case = case_in(db, city, settings, CaseState.handling)
    assert escalation.sweep(db, cst(2026, 3, 5, 11), settings).escalated == 1
    assert lifted(case, cst(2026, 3, 5, 11)) == "L2"
    friday = cst(2026, 3, 6, 9).astimezone(UTC)
    mv(
        db,
        city,
        settings,
        case,
        "fix_on_site",
        "off_hp1",
        now=friday,
        result="已解决",
        attachments=[photo()],
    )
    assert lifted(case, friday) is None and case.level == "L2" and case.clock == "verify"
    assert case.due_at == cst(2026, 3, 10, 9)
    assert escalation.sweep(db, cst(2026, 3, 10, 9, 30), settings).escalated == 1
    assert lifted(case, cst(2026, 3, 10, 9, 30)) == "L1"
    assert notes(db, city.users["admin"], "case.escalated")


def test_l1_clocks_have_no_one_above(db: Session, city: City, settings: Settings) -> None:
    case = report(db, city, settings)
    assert escalation.sweep(db, cst(2026, 3, 4, 0), settings).escalated == 0
    assert lifted(case, cst(2026, 3, 4, 0)) is None
    assert not db.scalar(
        select(CaseEvent.id).where(CaseEvent.case_id == case.id, CaseEvent.kind == "case.escalated")
    )
    # still overdue on the board and in the overdue tab
    admin = who(db, city, "admin")
    assert case in set(
        db.scalars(repository.filtered(admin, tab=repository.Tab.overdue, now=cst(2026, 3, 4, 0)))
    )


def test_suspended_case_review_date(db: Session, city: City, settings: Settings) -> None:
    case = case_in(db, city, settings, CaseState.suspended)  # review on 2026-04-01
    assert case.due_at is None and case.review_date == date(2026, 4, 1)
    assert escalation.sweep(db, cst(2026, 3, 31, 23), settings).reviews == 0
    assert escalation.sweep(db, cst(2026, 4, 1, 0, 1), settings).reviews == 1
    assert notes(db, city.users["d_heping"], "case.review_due")
    assert escalation.sweep(db, cst(2026, 4, 2), settings).reviews == 0


def test_overdue_board_per_unit(db: Session, city: City, settings: Settings) -> None:
    hp = case_in(db, city, settings, CaseState.accepted)  # due Thursday 10:00
    sh = report(db, city, settings, site="SH-001", by="insp_sh1")
    mv(db, city, settings, sh, "dispatch", "admin", unit_id=city.units["bureau_shenhe"])
    now = cst(2026, 3, 5, 12)  # 和平's case is late; 沈河's acknowledge clock too
    board = {r["unit_id"]: r for r in repository.overdue_board(db, who(db, city, "admin"), now)}
    assert board[city.units["bureau_heping"]]["red"] >= 1
    assert board[city.units["bureau_shenhe"]]["red"] >= 1
    mine = repository.overdue_board(db, who(db, city, "d_heping"), now)
    assert {r["unit_id"] for r in mine} == {city.units["bureau_heping"]}
    late = set(
        db.scalars(
            repository.filtered(who(db, city, "d_heping"), tab=repository.Tab.overdue, now=now)
        )
    )
    assert hp in late and sh not in late


def test_sweep_is_set_based(db: Session, city: City, settings: Settings) -> None:
    """A thousand overdue cases escalate in a handful of statements, not one per case."""
    start = MONDAY - timedelta(days=10)
    rows = [
        dict(
            source=CaseSource.sensor,
            state=CaseState.handling,
            site_id=city.sites["HP-002"],
            category="dust_exceedance",
            description=f"bulk {i}",
            severity="low",
            assigned_unit_id=city.units["bureau_heping"],
            level="L3",
            clock="handle",
            clock_started_at=start,
            due_at=start + timedelta(days=3),
            warn_at=start + timedelta(days=2),
            remind_at=start + timedelta(days=2),
            opened_at=start,
            merged_count=0,
            rework_count=0,
            clock_working_time=True,
            penalty_case_number="",
            policy_version="2025.1",
        )
        for i in range(1000)
    ]
    db.execute(insert(Case), rows)
    statements: list[str] = []
    from sqlalchemy import event

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    conn = db.connection()
    event.listen(conn, "before_cursor_execute", count)
    result = escalation.sweep(db, MONDAY, settings)
    event.remove(conn, "before_cursor_execute", count)
    # all 1000 are overdue: escalated, and not also reminded (the reminder would be moot)
    assert result.escalated == 1000 and result.reminded == 0
    assert len(statements) < 30, len(statements)
    n = db.scalar(select(func.count()).where(CaseEvent.kind == "case.escalated"))
    assert n == 1000
    digests = notes(db, city.users["d_heping"], "case.escalated")
    assert len(digests) == 1 and digests[0].title.startswith("1000 件")


def test_look_back_sample(db: Session, city: City, settings: Settings) -> None:
    closed = [case_in(db, city, settings, CaseState.closed) for _ in range(4)]
    now = MONDAY + timedelta(days=40)
    ids = escalation.sample_look_back(db, now=now, rate=0.5, after_days=30, settings=settings)
    assert len(ids) == 2 and set(ids) <= {c.id for c in closed}
    again = escalation.sample_look_back(db, now=now, rate=1.0, after_days=30, settings=settings)
    assert set(again) == {c.id for c in closed} - set(ids)  # a case is drawn only once
    insp = who(db, city, "insp_hp1")
    tab = set(db.scalars(repository.filtered(insp, tab=repository.Tab.look_back, now=now)))
    assert {c.id for c in tab} >= set(ids)
    mv(
        db,
        city,
        settings,
        db.get(Case, ids[0]),
        "look_back_pass",
        "insp_hp1",
        now=now,  # type: ignore[arg-type]
        result="无反弹",
    )
    case = db.get(Case, ids[0])
    assert case is not None and case.looked_back_at == now and case.look_back_due_at is None
