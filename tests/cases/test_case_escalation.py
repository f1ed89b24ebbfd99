"""Reminders before due, escalation one level up when overdue, review dates, the board."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from dustgrid.cases import escalation, repository
from dustgrid.cases.deadlines import escalated_to
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.policy import DEFAULT_CASE_POLICY, CasePolicy
from dustgrid.cases.states import CaseSource, CaseState
from dustgrid.config import Settings
from dustgrid.notifications.models import Notification
from dustgrid.notifications.service import title_of
from dustgrid.workcal.calendar import CHINA_TZ
from tests.cases.case_kit import MONDAY, case_in, mv, photo, report, who
from tests.fixtures.city import City


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA_TZ)  # type: ignore[misc]


def lifted(case: Case, now: datetime) -> str | None:
    """The level the case is escalated to at ``now`` (derived from its clock)."""
    return escalated_to(case.level, case.due_at, now, DEFAULT_CASE_POLICY)


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


def bulk(db: Session, city: City, n: int, **over: object) -> list[int]:
    """``n`` open cases inserted directly (a clock started ten days before MONDAY)."""
    start = MONDAY - timedelta(days=10)
    row: dict[str, object] = dict(
        source=CaseSource.sensor,
        state=CaseState.handling,
        site_id=city.sites["HP-002"],
        category="dust_exceedance",
        description="bulk",
        severity="low",
        assigned_unit_id=city.units["bureau_heping"],
        level="L4",
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
    row.update(over)
    ids = db.scalars(insert(Case).returning(Case.id), [dict(row) for _ in range(n)])
    return list(ids)


def test_every_level_escalates_in_one_sweep(db: Session, city: City, settings: Settings) -> None:
    """L4, L3 and L2 clocks that ran out escalate together, each event naming its own levels;
    the L2 unit hears once per level below it, L1 once; L1's own clocks stay where they are."""
    l4 = bulk(db, city, 3, level="L4", responsible_user_id=city.users["off_hp1"])
    l3 = bulk(db, city, 2, level="L3", state=CaseState.rectifying, clock="recheck")
    l2 = bulk(db, city, 4, level="L2", state=CaseState.dispatched, clock="acknowledge")
    l1 = bulk(db, city, 2, level="L1", state=CaseState.reported, clock="dispatch",
              assigned_unit_id=None)  # fmt: skip
    elsewhere = bulk(db, city, 1, level="L4", assigned_unit_id=city.units["bureau_shenhe"])
    report_ = escalation.sweep(db, MONDAY, settings)
    assert report_.escalated == 3 + 2 + 4 + 1 and report_.reminded == 0
    events = {
        e.case_id: e
        for e in db.scalars(select(CaseEvent).where(CaseEvent.kind == "case.escalated"))
    }
    assert set(events) == set(l4 + l3 + l2 + elsewhere)
    for ids, state, src, target in (
        (l4, "handling", "L4", "L2"),
        (l3, "rectifying", "L3", "L2"),
        (l2, "dispatched", "L2", "L1"),
    ):
        for i in ids:
            ev = events[i]
            assert ev.data == {"from_level": src, "to_level": target}
            assert ev.from_state == ev.to_state == state
            assert (ev.actor_name, ev.actor_role, ev.actor_id) == ("system", "system", None)
            assert ev.at == MONDAY and ev.policy_version == DEFAULT_CASE_POLICY.escalation.version
    assert not set(l1) & set(events)
    heping = sorted(n.title for n in notes(db, city.users["d_heping"], "case.escalated"))
    assert [t.split(" / ")[0] for t in heping] == [
        "2 件超期案件由 L3 升级至本单位",
        "3 件超期案件由 L4 升级至本单位",
    ]
    shenhe = [n.title for n in notes(db, city.users["d_shenhe"], "case.escalated")]
    assert [t.split(" / ")[0] for t in shenhe] == ["1 件超期案件由 L4 升级至本单位"]
    [to_l1] = notes(db, city.users["admin"], "case.escalated")
    assert to_l1.title.startswith("4 件超期案件升级至市级")
    assert escalation.sweep(db, MONDAY + timedelta(hours=1), settings).escalated == 0


def _digest_above(n: int) -> CasePolicy:
    """The default case policy with another reminder-digest threshold."""
    return replace(
        DEFAULT_CASE_POLICY,
        escalation=replace(DEFAULT_CASE_POLICY.escalation, reminder_digest_above=n),
    )


def test_reminders_become_a_digest_past_a_few(db: Session, city: City, settings: Settings) -> None:
    """A message per case for whoever has a few; one digest with the count for more."""
    many = DEFAULT_CASE_POLICY.escalation.reminder_digest_above + 1
    soon = dict(due_at=MONDAY + timedelta(days=1), remind_at=MONDAY - timedelta(hours=1))
    bulk(db, city, many, responsible_user_id=city.users["off_hp1"], **soon)
    few = bulk(db, city, 2, responsible_user_id=city.users["off_hp2"], **soon)
    unnamed = dict(soon, level="L2", state=CaseState.dispatched, clock="acknowledge")
    bulk(db, city, many, **unnamed)  # 和平: nobody named yet, the unit's admins hear
    [sh] = bulk(db, city, 1, assigned_unit_id=city.units["bureau_shenhe"], **unnamed)
    report_ = escalation.sweep(db, MONDAY, settings)
    assert report_.reminded == many + 2 + many + 1 and report_.escalated == 0

    [digest] = notes(db, city.users["off_hp1"], "case.reminder")
    assert digest.title == f"{many} 件案件即将到期"
    assert title_of(digest, "en") == f"{many} cases due soon"
    assert digest.case_id is None and digest.link == escalation.REMINDER_DIGEST_LINK
    per_case = notes(db, city.users["off_hp2"], "case.reminder")
    assert sorted(n.case_id for n in per_case) == sorted(few)
    assert all(n.link == f"/cases/{n.case_id}" and f"#{n.case_id}" in n.title for n in per_case)
    [unit_digest] = notes(db, city.users["d_heping"], "case.reminder")
    assert unit_digest.title.startswith(f"{many} 件") and unit_digest.case_id is None
    [one] = notes(db, city.users["d_shenhe"], "case.reminder")
    assert one.case_id == sh and one.link == f"/cases/{sh}"
    assert escalation.sweep(db, MONDAY + timedelta(minutes=5), settings).reminded == 0


def test_reminder_digest_threshold_is_a_setting(
    db: Session, city: City, settings: Settings
) -> None:
    soon = dict(due_at=MONDAY + timedelta(days=1), remind_at=MONDAY - timedelta(hours=1))
    ids = bulk(db, city, 3, responsible_user_id=city.users["off_hp1"], **soon)
    assert escalation.sweep_reminders(db, MONDAY, policy=_digest_above(len(ids))) == len(ids)
    assert len(notes(db, city.users["off_hp1"], "case.reminder")) == len(ids)
    more = bulk(
        db,
        city,
        3,
        responsible_user_id=city.users["off_hp2"],
        due_at=MONDAY + timedelta(days=1),
        remind_at=MONDAY + timedelta(seconds=30),
    )
    later = MONDAY + timedelta(minutes=1)
    assert escalation.sweep_reminders(db, later, policy=_digest_above(len(more) - 1)) == len(more)
    [digest] = notes(db, city.users["off_hp2"], "case.reminder")
    assert digest.title.startswith(f"{len(more)} 件")
