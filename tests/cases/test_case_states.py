"""The whole transition table, walked for every state × move × actor.

``EXPECTED`` is written out by hand: any change to the table in ``states.py`` must be
mirrored here, on purpose.
"""

from __future__ import annotations

import itertools

import pytest

from dustgrid.cases.states import (
    REPORTERS,
    TRANSITIONS,
    CaseSource,
    CaseState,
    Clock,
    Disposition,
    Field,
    Followup,
    MissingField,
    Move,
    MoveNotAllowed,
    System,
    allowed_moves,
    plan_report,
    plan_transition,
    required_fields,
)
from dustgrid.identity.roles import Role

S, M = CaseState, Move
ACTORS = [*Role, *System]

# actor -> state -> the moves it may make there; anything not listed is forbidden.
EXPECTED: dict[str, dict[CaseState, set[Move]]] = {
    "city_admin": {
        S.reported: {M.dispatch, M.dismiss},
        S.returned: {M.dispatch, M.dismiss},
        S.dispatched: {M.transfer},
        S.accepted: {M.transfer, M.suspend},
        S.handling: {M.suspend},
        S.rectifying: {M.suspend},
        S.penalizing: {M.suspend},
        S.verifying: {M.verify_pass, M.verify_fail},
        S.suspended: {M.resume},
        S.closed: {M.reopen, M.look_back_pass, M.look_back_fail},
    },
    "district_admin": {
        S.dispatched: {M.return_, M.transfer, M.accept},
        S.accepted: {M.return_, M.transfer, M.reassign, M.suspend},
        S.handling: {M.reassign, M.suspend},
        S.rectifying: {M.reassign, M.suspend},
        S.penalizing: {M.reassign, M.suspend},
        S.verifying: {M.verify_pass, M.verify_fail},
        S.suspended: {M.resume},
        S.closed: {M.reopen, M.look_back_pass, M.look_back_fail},
    },
    "station_staff": {
        S.accepted: {M.start_handling},
        S.handling: {M.fix_on_site, M.order_rectification, M.open_penalty},
        S.rectifying: {M.recheck_pass, M.recheck_fail},
        S.penalizing: {M.serve_penalty},
    },
    "officer": {
        S.reported: {M.grid_fix_on_site, M.grid_order_rectification},  # own report (SOURCE)
        S.accepted: {M.start_handling},
        S.handling: {M.fix_on_site, M.order_rectification, M.open_penalty},
        S.rectifying: {M.recheck_pass, M.recheck_fail},
        S.penalizing: {M.serve_penalty},
    },
    "inspector": {
        S.rectifying: {M.recheck_pass, M.recheck_fail},
        S.closed: {M.look_back_pass, M.look_back_fail},
    },
    "contractor": {
        S.rectifying: {M.submit_rectification},
    },
    "provider": {},
    "viewer": {},
    "system": {},
}

EXPECTED_TARGET: dict[Move, CaseState | None] = {  # None: the case stays where it is
    M.dispatch: S.dispatched,
    M.return_: S.returned,
    M.transfer: S.dispatched,
    M.accept: S.accepted,
    M.reassign: None,
    M.start_handling: S.handling,
    M.fix_on_site: S.verifying,
    M.order_rectification: S.rectifying,
    M.submit_rectification: None,
    M.recheck_pass: S.verifying,
    M.recheck_fail: S.handling,
    M.open_penalty: S.penalizing,
    M.serve_penalty: S.verifying,
    M.verify_pass: S.closed,
    M.verify_fail: S.handling,
    M.suspend: S.suspended,
    M.resume: S.handling,
    M.reopen: S.handling,
    M.look_back_pass: None,
    M.look_back_fail: S.handling,
    M.dismiss: S.closed,
    M.grid_fix_on_site: S.closed,
    M.grid_order_rectification: S.rectifying,
}

EXPECTED_REQUIRED: dict[Move, set[str]] = {
    M.dispatch: {"unit", "deadline"},
    M.return_: {"reason"},
    M.transfer: {"unit", "reason"},
    M.accept: {"responsible"},
    M.reassign: {"responsible", "reason"},
    M.start_handling: set(),
    M.fix_on_site: {"result", "evidence"},
    M.order_rectification: {"deadline"},
    M.submit_rectification: {"evidence"},
    M.recheck_pass: {"result", "evidence"},
    M.recheck_fail: {"reason", "evidence"},
    M.open_penalty: {"case_number"},
    M.serve_penalty: {"decision"},
    M.verify_pass: {"evidence"},
    M.verify_fail: {"reason"},
    M.suspend: {"reason", "review_date"},
    M.resume: set(),
    M.reopen: {"reason"},
    M.look_back_pass: {"result"},
    M.look_back_fail: {"result", "evidence"},
    M.dismiss: {"reason"},
    M.grid_fix_on_site: {"result", "evidence"},
    M.grid_order_rectification: {"deadline"},
}

ALL_FIELDS = {f.value: "x" for f in Field}
# The walk is over an officer's own report: the grid moves are limited to that source.
SOURCE = CaseSource.enforcement_officer


def test_expected_tables_cover_everything() -> None:
    assert set(EXPECTED) == {str(a) for a in ACTORS}
    assert set(EXPECTED_TARGET) == set(Move) == set(TRANSITIONS)
    assert set(EXPECTED_REQUIRED) == set(Move)


@pytest.mark.parametrize(
    ("state", "move", "actor"), list(itertools.product(CaseState, Move, ACTORS))
)
def test_every_move_for_every_actor_in_every_state(
    state: CaseState, move: Move, actor: str
) -> None:
    allowed = move in EXPECTED[actor].get(state, set())
    if allowed:
        plan = plan_transition(state, move, actor, fields=ALL_FIELDS, source=SOURCE)
        assert plan.to_state == (EXPECTED_TARGET[move] or state)
        assert plan.event_kind.startswith("case.")
    else:
        with pytest.raises(MoveNotAllowed) as err:
            plan_transition(state, move, actor, fields=ALL_FIELDS, source=SOURCE)
        assert (err.value.state, err.value.move, err.value.actor) == (state, move, actor)


@pytest.mark.parametrize(("state", "actor"), list(itertools.product(CaseState, ACTORS)))
def test_allowed_moves_is_exactly_the_matrix(state: CaseState, actor: str) -> None:
    moves = allowed_moves(state, actor, SOURCE)
    assert set(moves) == EXPECTED[actor].get(state, set())
    assert moves == [m for m in Move if m in moves]  # table order, stable for the UI


@pytest.mark.parametrize("move", list(Move))
def test_required_fields(move: Move) -> None:
    assert set(required_fields(move)) == EXPECTED_REQUIRED[move]


def _an_allowed(move: Move) -> tuple[CaseState, str]:
    for actor, by_state in EXPECTED.items():
        for state, moves in by_state.items():
            if move in moves:
                return state, actor
    raise AssertionError(f"{move} is allowed to no one")


@pytest.mark.parametrize(
    ("move", "field"),
    [(m, f) for m in Move for f in sorted(EXPECTED_REQUIRED[m])],
)
@pytest.mark.parametrize("empty", [None, "", [], "absent"])
def test_missing_or_empty_field_is_refused(move: Move, field: str, empty: object) -> None:
    state, actor = _an_allowed(move)
    fields: dict[str, object] = dict(ALL_FIELDS)
    if empty == "absent":
        del fields[field]
    else:
        fields[field] = empty
    with pytest.raises(MissingField) as err:
        plan_transition(state, move, actor, fields=fields, source=SOURCE)
    assert err.value.field == field
    assert err.value.status_code == 422
    assert err.value.field == field and "缺少" in err.value.message


def test_no_fields_needed_for_start_handling() -> None:
    plan = plan_transition("accepted", "start_handling", "officer", fields={})
    assert plan.to_state == S.handling
    assert plan.clock is None  # the handle clock started at acceptance keeps running


def test_message_names_state_move_and_role_in_both_languages() -> None:
    with pytest.raises(MoveNotAllowed) as err:
        plan_transition("handling", "open_penalty", "inspector", fields=ALL_FIELDS)
    zh, en = err.value.text("zh-CN"), err.value.text("en")
    assert zh == "案件处于「办理中」时，第三方专职巡查员不能「立案处罚」", zh
    assert en == "Third-party inspector may not “Open penalty case” while the case is “Handling”"
    assert err.value.status_code == 403 and err.value.why == "actor"


def test_wrong_state_is_a_conflict() -> None:
    with pytest.raises(MoveNotAllowed) as err:
        plan_transition("closed", "dispatch", "city_admin", fields=ALL_FIELDS)
    assert err.value.status_code == 409 and err.value.why == "state"


def test_state_is_checked_before_fields() -> None:
    with pytest.raises(MoveNotAllowed):
        plan_transition("reported", "accept", "district_admin", fields={})


def test_unknown_role_is_rejected() -> None:
    with pytest.raises(ValueError):
        plan_transition("reported", "dispatch", "mayor", fields=ALL_FIELDS)


def test_inspectors_never_order_penalties_or_rectification() -> None:
    for state in CaseState:
        moves = allowed_moves(state, "inspector")
        assert M.open_penalty not in moves and M.serve_penalty not in moves
        assert M.order_rectification not in moves


def test_dispatch_plan() -> None:
    plan = plan_transition(
        "reported", "dispatch", "city_admin", fields={"unit": 7, "deadline": "2025-03-05"}
    )
    assert plan.to_state == S.dispatched
    assert plan.event_kind == "case.dispatched"
    assert plan.followups == ["set_deadline", "notify_l2"]
    assert plan.clock == Clock.acknowledge


def test_rectification_plan_schedules_the_recheck() -> None:
    plan = plan_transition("handling", "order_rectification", "officer", fields={"deadline": 1})
    assert plan.to_state == S.rectifying
    assert plan.disposition == Disposition.rectification
    assert plan.clock == Clock.recheck
    assert {"set_deadline", "schedule_recheck", "record_site_problem"} <= set(plan.followups)


def test_recheck_fail_counts_rework_and_returns_to_handling() -> None:
    plan = plan_transition(
        "rectifying", "recheck_fail", "inspector", fields={"reason": "r", "evidence": ["p.jpg"]}
    )
    assert plan.to_state == S.handling
    assert Followup.record_rework in plan.followups
    assert plan.clock == Clock.handle


def test_closure_needs_evidence_and_stops_the_clock() -> None:
    with pytest.raises(MissingField) as err:
        plan_transition("verifying", "verify_pass", "district_admin", fields={})
    assert err.value.field == "evidence"
    plan = plan_transition(
        "verifying", "verify_pass", "district_admin", fields={"evidence": ["a.jpg"]}
    )
    assert plan.to_state == S.closed and Followup.stop_clock in plan.followups


def test_suspend_needs_reason_and_review_date() -> None:
    with pytest.raises(MissingField) as err:
        plan_transition("handling", "suspend", "district_admin", fields={"reason": "r"})
    assert err.value.field == "review_date"
    plan = plan_transition(
        "handling", "suspend", "district_admin", fields={"reason": "r", "review_date": "d"}
    )
    assert plan.to_state == S.suspended
    assert plan.followups == ["stop_clock", "schedule_review", "notify_l1"]


def test_reassign_keeps_the_state() -> None:
    for state in (S.accepted, S.handling, S.rectifying, S.penalizing):
        plan = plan_transition(
            state, "reassign", "district_admin", fields={"responsible": 3, "reason": "r"}
        )
        assert plan.to_state == state


def test_penalty_serving_records_bad_behaviour() -> None:
    plan = plan_transition("penalizing", "serve_penalty", "officer", fields={"decision": "d"})
    assert plan.to_state == S.verifying and Followup.record_bad_behaviour in plan.followups


def test_look_back_fail_reopens() -> None:
    plan = plan_transition(
        "closed", "look_back_fail", "inspector", fields={"result": "bare soil", "evidence": [1]}
    )
    assert plan.to_state == S.handling and Followup.record_rework in plan.followups


# --- opening a case -------------------------------------------------------------------

EXPECTED_REPORTERS: dict[CaseSource, set[str]] = {
    CaseSource.third_party_inspector: {"inspector"},
    CaseSource.enforcement_officer: {"officer", "station_staff"},
    CaseSource.sensor: {"system"},
    CaseSource.video_ai: {"system"},
    CaseSource.city_brain: {"system"},
    CaseSource.hotline_12319: {"city_admin"},
    CaseSource.higher_assignment: {"city_admin"},
    CaseSource.open311: {"city_admin"},  # the 12319 desk links an Open311 request
}


WARNINGS = {CaseSource.sensor, CaseSource.video_ai, CaseSource.city_brain}


@pytest.mark.parametrize(("source", "actor"), list(itertools.product(CaseSource, ACTORS)))
def test_who_may_report_from_which_source(source: CaseSource, actor: str) -> None:
    fields = {"description": "bare soil uncovered", "evidence": ["p.jpg"]}
    if actor in EXPECTED_REPORTERS[source]:
        plan = plan_report(source, actor, fields=fields)
        assert plan.to_state == S.reported
        warning = ["notify_site_grids"] if source in WARNINGS else []
        assert plan.followups == ["notify_l1_l2_l3", "notify_site_contact", *warning]
    else:
        with pytest.raises(MoveNotAllowed):
            plan_report(source, actor, fields=fields)


def test_app_reports_need_evidence_machine_reports_do_not() -> None:
    with pytest.raises(MissingField) as err:
        plan_report("third_party_inspector", "inspector", fields={"description": "d"})
    assert err.value.field == "evidence"
    plan = plan_report("video_ai", "system", fields={"description": "dust plume"})
    assert plan.clock == Clock.dispatch


def test_city_brain_push_starts_the_feedback_clock() -> None:
    plan = plan_report("city_brain", "system", fields={"description": "suspected site"})
    assert plan.clock == Clock.feedback


# ----------------------------------------------------------------- 网格现场处置 (grid moves)

GRID = (M.grid_fix_on_site, M.grid_order_rectification)


@pytest.mark.parametrize("move", GRID)
@pytest.mark.parametrize("source", [s for s in CaseSource if s != CaseSource.enforcement_officer])
def test_grid_moves_only_on_an_officers_own_report(move: Move, source: CaseSource) -> None:
    """Hotline, sensor, video AI, City Brain, inspector reports... keep the dispatch path."""
    with pytest.raises(MoveNotAllowed) as err:
        plan_transition("reported", move, "officer", fields=ALL_FIELDS, source=source)
    assert err.value.why == "source" and err.value.status_code == 409
    assert err.value.details["source"] == source.value and "执法" in err.value.message
    assert move not in allowed_moves("reported", "officer", source)


@pytest.mark.parametrize("move", GRID)
def test_grid_moves_need_the_cases_source(move: Move) -> None:
    with pytest.raises(MoveNotAllowed):
        plan_transition("reported", move, "officer", fields=ALL_FIELDS)
    assert move not in allowed_moves("reported", "officer")


@pytest.mark.parametrize("move", GRID)
@pytest.mark.parametrize("actor", ["inspector", "station_staff", "district_admin", "city_admin"])
def test_only_an_enforcement_officer_handles_on_the_spot(move: Move, actor: str) -> None:
    with pytest.raises(MoveNotAllowed) as err:
        plan_transition("reported", move, actor, fields=ALL_FIELDS, source=SOURCE)
    assert err.value.why == "actor" and err.value.status_code == 403


def test_grid_fix_on_site_closes_with_result_and_photo() -> None:
    plan = plan_transition(
        "reported",
        "grid_fix_on_site",
        "officer",
        fields={"result": "覆盖完成", "evidence": ["after.jpg"]},
        source=SOURCE,
    )
    assert plan.to_state == S.closed and plan.disposition == Disposition.fix_on_site
    assert plan.event_kind == "case.grid_fixed_on_site"
    assert {"stop_clock", "record_site_problem", "notify_l1_l2_l3"} <= set(plan.followups)
    with pytest.raises(MissingField) as err:
        plan_transition(
            "reported", "grid_fix_on_site", "officer", fields={"result": "ok"}, source=SOURCE
        )
    assert err.value.field == "evidence"


def test_grid_rectification_starts_the_recheck_clock() -> None:
    plan = plan_transition(
        "reported", "grid_order_rectification", "officer", fields={"deadline": 1}, source=SOURCE
    )
    assert plan.to_state == S.rectifying and plan.clock == Clock.recheck
    assert plan.disposition == Disposition.rectification
    assert {"set_deadline", "schedule_recheck", "notify_l1_l2_l3"} <= set(plan.followups)


@pytest.mark.parametrize("move", GRID)
@pytest.mark.parametrize("state", [s for s in CaseState if s != S.reported])
def test_grid_moves_only_from_reported(move: Move, state: CaseState) -> None:
    with pytest.raises(MoveNotAllowed) as err:
        plan_transition(state, move, "officer", fields=ALL_FIELDS, source=SOURCE)
    assert err.value.why == "state"


@pytest.mark.parametrize("source", list(CaseSource))
def test_machine_warnings_reach_the_sites_grids(source: CaseSource) -> None:
    actor = next(iter(REPORTERS[source]))
    plan = plan_report(source, actor, fields={"description": "d", "evidence": ["p.jpg"]})
    warns = source in (CaseSource.sensor, CaseSource.video_ai, CaseSource.city_brain)
    assert (Followup.notify_site_grids in plan.followups) == warns
