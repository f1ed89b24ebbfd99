"""Every move × every role × every state, through the service, with scope.

The pure table (``states.py``) is tested on its own; here the service must enforce it on
real cases: a case the caller cannot see answers 404 whatever the move, a move wrong in
the state 409, a role the table refuses 403, an L2 admin of another unit 403, and a move
that is allowed changes the state as the table says. Each attempt runs in a savepoint
that is rolled back, so one case per state serves the whole matrix.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.cases import service
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.states import TRANSITIONS, CaseSource, CaseState, Move
from dustgrid.cases.workflow import MoveInput
from dustgrid.config import Settings
from dustgrid.errors import DomainError
from tests.cases.case_kit import MONDAY, doc, photo, who
from tests.cases.case_kit import case_in as build
from tests.fixtures.city import City

# Who can see a case reported by insp_hp1 on HP-001 (和平, bureau_heping, E-HP / I-HP).
SEES = {
    "admin",
    "viewer_city",
    "d_heping",
    "viewer_heping",
    "st_heping",
    "off_hp1",
    "off_hp2",
    "insp_hp1",
    "insp_hp2",
    "con_alpha",
}
BLIND = {"d_shenhe", "safety_admin", "st_shenhe", "off_sh1", "insp_sh1", "con_beta", "prov_gamma"}
USERS = sorted(SEES | BLIND)


def fields(move: Move, city: City) -> MoveInput:
    """Valid inputs for each move on that case (so only state, role and scope decide)."""
    u = city.users
    data: dict[Move, dict[str, Any]] = {
        Move.dispatch: {"unit_id": city.units["bureau_heping"]},
        Move.return_: {"reason": "非本区工地"},
        Move.transfer: {"unit_id": city.units["safety"], "reason": "地铁工程"},
        Move.accept: {"responsible_id": u["off_hp1"]},
        Move.reassign: {"responsible_id": u["off_hp2"], "reason": "换人"},
        Move.fix_on_site: {"result": "已覆盖", "attachments": [photo()]},
        Move.order_rectification: {"reason": "限期整改"},
        Move.submit_rectification: {"result": "已整改", "attachments": [photo()]},
        Move.recheck_pass: {"result": "复查合格", "attachments": [photo()]},
        Move.recheck_fail: {"reason": "仍未覆盖", "attachments": [photo()]},
        Move.open_penalty: {"case_number": "沈和建罚〔2026〕7号"},
        Move.serve_penalty: {"result": "已送达", "attachments": [doc()]},
        Move.verify_pass: {"result": "核查合格"},
        Move.verify_fail: {"reason": "照片不清"},
        Move.suspend: {"reason": "待拆迁", "review_date": date(2026, 4, 1)},
        Move.reopen: {"reason": "群众再次投诉"},
        Move.look_back_pass: {"result": "回头看合格"},
        Move.look_back_fail: {"result": "问题反弹", "attachments": [photo()]},
        Move.dismiss: {"reason": "误报"},
    }
    return MoveInput(**data.get(move, {}))


def expected(
    state: CaseState, move: Move, user: str, role: str, source: CaseSource
) -> int | CaseState:
    if user in BLIND:
        return 404
    spec = TRANSITIONS[move]
    if state not in spec.from_states:
        return 409
    if spec.sources is not None and source not in spec.sources:
        return 409  # the grid moves: only on an officer's own report (an inspector's here)
    if role not in {a.value for a in spec.actors}:
        return 403
    return spec.to_state or state


@pytest.mark.parametrize("state", list(CaseState))
def test_every_move_for_every_role(
    db: Session, city: City, settings: Settings, state: CaseState
) -> None:
    case = build(db, city, settings, state)
    case_id = case.id
    principals = {u: who(db, city, u) for u in USERS}
    seen: dict[str, int] = {}
    for user in USERS:
        p = principals[user]
        for move in Move:
            want = expected(state, move, user, p.role.value, case.source)
            sp = db.begin_nested()
            try:
                ev = service.move(
                    db, p, case_id, move.value, fields(move, city), now=MONDAY, settings=settings
                )
                got: int | CaseState = CaseState(ev.to_state)
                assert ev.move == move.value and ev.actor_name == user
                assert ev.from_state == state.value
            except DomainError as exc:
                got = exc.status_code
            finally:
                sp.rollback()
            assert got == want, (state.value, move.value, user, getattr(got, "value", got))
            key = "ok" if isinstance(got, CaseState) else str(got)
            seen[key] = seen.get(key, 0) + 1
    assert db.get(Case, case_id).state == state  # type: ignore[union-attr]
    assert seen["404"] == len(BLIND) * len(Move)


def test_l2_of_another_unit_cannot_touch_a_case_it_can_see(
    db: Session, city: City, settings: Settings
) -> None:
    """safety_admin sees the metro site HP-M01, but the case went to 和平's bureau: 403."""
    case = build(db, city, settings, CaseState.reported, site="HP-M01")
    service.move(
        db,
        who(db, city, "admin"),
        case.id,
        "dispatch",
        MoveInput(unit_id=city.units["bureau_heping"]),
        now=MONDAY,
        settings=settings,
    )
    with pytest.raises(DomainError) as err:
        service.move(
            db,
            who(db, city, "safety_admin"),
            case.id,
            "accept",
            MoveInput(responsible_id=city.users["safety_admin"]),
            now=MONDAY,
            settings=settings,
        )
    assert err.value.status_code == 403
    # and d_heping, who cannot see the metro site, sees the case dispatched to its unit
    service.move(
        db,
        who(db, city, "d_heping"),
        case.id,
        "return",
        MoveInput(reason="地铁工程归市安全监督站"),
        now=MONDAY,
        settings=settings,
    )
    assert case.state == CaseState.returned


def test_d_shenhe_cannot_accept_a_case_dispatched_to_heping(
    db: Session, city: City, settings: Settings
) -> None:
    case = build(db, city, settings, CaseState.dispatched)
    with pytest.raises(DomainError) as err:
        service.move(
            db,
            who(db, city, "d_shenhe"),
            case.id,
            "accept",
            MoveInput(responsible_id=city.users["off_sh1"]),
            settings=settings,
        )
    assert err.value.status_code == 404


@pytest.mark.parametrize(
    ("state", "move", "data", "needle"),
    [
        (CaseState.reported, "dispatch", {"unit_id": -1}, "L2 unit"),
        (CaseState.reported, "dispatch", {"unit_id": 0, "deadline": "2020-01-01"}, "L2 unit"),
        (CaseState.reported, "dispatch", {"deadline": "2020-01-01"}, "future"),
        (CaseState.reported, "dispatch", {"deadline": "tomorrow"}, "invalid deadline"),
        (CaseState.dispatched, "accept", {"responsible_id": "off_sh1"}, "responsible"),
        (CaseState.dispatched, "accept", {"responsible_id": "insp_hp1"}, "responsible"),
        (CaseState.dispatched, "accept", {}, "responsible"),
        (
            CaseState.dispatched,
            "transfer",
            {"unit_id": "bureau_heping", "reason": "x"},
            "different unit",
        ),
        (
            CaseState.accepted,
            "reassign",
            {"responsible_id": "off_hp1", "reason": "x"},
            "different person",
        ),
        (CaseState.handling, "fix_on_site", {"result": "ok"}, "evidence"),
        (CaseState.handling, "fix_on_site", {"result": "ok", "attachments": [doc()]}, "evidence"),
        (CaseState.handling, "order_rectification", {"deadline": "2026-04-30"}, "recheck"),
        (CaseState.handling, "open_penalty", {}, "case_number"),
        (CaseState.penalizing, "serve_penalty", {"result": "已送达"}, "decision"),
        (
            CaseState.accepted,
            "suspend",
            {"reason": "x", "review_date": date(2026, 3, 1)},
            "review date",
        ),
        (CaseState.dispatched, "return", {}, "reason"),
    ],
)
def test_bad_move_input_is_422_and_changes_nothing(
    db: Session,
    city: City,
    settings: Settings,
    state: CaseState,
    move: str,
    data: dict[str, Any],
    needle: str,
) -> None:
    case = build(db, city, settings, state)
    for key in ("responsible_id", "unit_id"):
        if isinstance(data.get(key), str):
            data[key] = city.users.get(data[key]) or city.units[data[key]]
    n_events = len(list(db.scalars(select(CaseEvent.id).where(CaseEvent.case_id == case.id))))
    by = {
        "dispatch": "admin",
        "accept": "d_heping",
        "transfer": "d_heping",
        "reassign": "d_heping",
        "suspend": "d_heping",
        "return": "d_heping",
    }.get(move, "off_hp1")
    sp = db.begin_nested()
    with pytest.raises(DomainError) as err:
        service.move(
            db, who(db, city, by), case.id, move, MoveInput(**data), now=MONDAY, settings=settings
        )
    sp.rollback()
    assert err.value.status_code == 422, err.value.message
    said = err.value.text("en").lower()
    assert needle.lower() in said or needle == (err.value.details or {}).get("field")
    db.refresh(case)
    assert case.state == state
    assert len(list(db.scalars(select(CaseEvent.id).where(CaseEvent.case_id == case.id)))) == (
        n_events
    )


def test_the_full_loop_with_rework(db: Session, city: City, settings: Settings) -> None:
    case = build(db, city, settings, CaseState.rectifying)
    assert case.rectify_due_at is not None and case.clock == "recheck"
    off, insp, con = (who(db, city, u) for u in ("off_hp1", "insp_hp1", "con_alpha"))
    service.move(
        db,
        con,
        case.id,
        "submit_rectification",
        MoveInput(result="已覆盖", attachments=[photo()]),
        now=MONDAY,
        settings=settings,
    )
    assert case.state == CaseState.rectifying
    service.move(
        db,
        insp,
        case.id,
        "recheck_fail",
        MoveInput(reason="仍有裸土", attachments=[photo()]),
        now=MONDAY,
        settings=settings,
    )
    assert case.state == CaseState.handling and case.rework_count == 1
    service.move(
        db,
        off,
        case.id,
        "fix_on_site",
        MoveInput(result="现场覆盖完成", attachments=[photo()]),
        now=MONDAY,
        settings=settings,
    )
    service.move(
        db,
        who(db, city, "d_heping"),
        case.id,
        "verify_pass",
        MoveInput(result="核查合格"),
        now=MONDAY,
        settings=settings,
    )
    assert case.state == CaseState.closed and case.closed_at == MONDAY
    assert case.due_at is None and case.clock is None  # the clock stopped
    kinds = list(
        db.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )
    assert kinds[:4] == [
        "case.reported",
        "case.dispatched",
        "case.accepted",
        "case.handling_started",
    ]
    assert kinds[-1] == "case.closed" and "case.recheck_failed" in kinds
