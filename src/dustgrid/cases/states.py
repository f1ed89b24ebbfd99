"""The closed-loop case workflow as one declarative table (docs/domain.md §4).

Pure rules, no database: ``plan_transition`` says whether a move is allowed and what the
caller must do after it (write the event, start a clock, notify). Scope (is this district
admin's unit the one the case was dispatched to?) is the caller's check, not this module's.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from dustgrid.errors import Conflict, DomainError, Forbidden, Invalid
from dustgrid.i18n import Msg
from dustgrid.identity.roles import Role


class CaseState(enum.StrEnum):
    reported = "reported"  # 发现上报: reached L1, L2, L3 and the site contact
    dispatched = "dispatched"  # 交办: L1 sent it to an L2 unit with a deadline
    accepted = "accepted"  # 接收: L2 named a responsible person
    handling = "handling"  # 办理: L3/L4 on it, no disposition yet
    rectifying = "rectifying"  # 责令限期整改: awaiting the recheck (复查)
    penalizing = "penalizing"  # 立案处罚: penalty case open, decision not yet served
    verifying = "verifying"  # 核查: result uploaded, awaiting L2/L1 check
    closed = "closed"  # 办结销号
    returned = "returned"  # 退回: L2 sent it back to L1 with a reason
    suspended = "suspended"  # 挂账: parked with a reason and a review date


class Move(enum.StrEnum):
    dispatch = "dispatch"
    return_ = "return"
    transfer = "transfer"  # to another L2 unit
    accept = "accept"
    reassign = "reassign"  # to another responsible person in the same unit
    start_handling = "start_handling"
    fix_on_site = "fix_on_site"
    order_rectification = "order_rectification"
    submit_rectification = "submit_rectification"  # contractor says it is done
    recheck_pass = "recheck_pass"
    recheck_fail = "recheck_fail"
    open_penalty = "open_penalty"
    serve_penalty = "serve_penalty"
    verify_pass = "verify_pass"
    verify_fail = "verify_fail"
    suspend = "suspend"
    resume = "resume"
    reopen = "reopen"
    look_back_pass = "look_back_pass"  # 回头看 passed: the case stays closed
    look_back_fail = "look_back_fail"
    dismiss = "dismiss"  # not a problem (false alarm, duplicate): closed without handling
    # 网格现场处置: an officer of the site's own enforcement grid handles their own report at
    # once, without dispatch and acceptance (000 四(二)(五): "既发现问题又解决问题")
    grid_fix_on_site = "grid_fix_on_site"  # 现场解决, closed with the result and a photo
    grid_order_rectification = "grid_order_rectification"  # 责令限期整改 on the spot


class System(enum.StrEnum):
    """The automatic actor (ingest, scheduler). Not a login role, so not in ``auth.roles``."""

    system = "system"


Actor = Role | System


class CaseSource(enum.StrEnum):
    third_party_inspector = "third_party_inspector"
    enforcement_officer = "enforcement_officer"
    sensor = "sensor"  # dust monitor alert
    video_ai = "video_ai"
    city_brain = "city_brain"
    hotline_12319 = "hotline_12319"
    higher_assignment = "higher_assignment"
    open311 = "open311"  # an Open311 GeoReport v2 request, placed by the 12319 desk


# The public's complaints: the desk links them to a site or a point; they deduplicate
# together (a phone call and an app report about the same dust are one case).
PUBLIC_SOURCES = frozenset({CaseSource.hotline_12319, CaseSource.open311})
# Machine warnings (sensor alerts, video AI, City Brain): pushed to the site's grid members
# as well as L1-L3, so the people on the ground see them (000 二(四): "推送网格员督促问题整改").
WARNING_SOURCES = frozenset({CaseSource.sensor, CaseSource.video_ai, CaseSource.city_brain})


class Disposition(enum.StrEnum):
    """The three ways a case is handled (000 §4(四)); keys the deadline policy."""

    fix_on_site = "fix_on_site"  # 现场解决
    rectification = "rectification"  # 责令限期整改
    penalty = "penalty"  # 立案处罚


class Clock(enum.StrEnum):
    """The deadline a move starts; its length comes from ``policy.DeadlinePolicy``."""

    feedback = "feedback"  # City Brain push confirmed with feedback
    dispatch = "dispatch"  # L1 dispatches a report (or re-dispatches a returned case)
    acknowledge = "acknowledge"  # L2 names a responsible person
    handle = "handle"  # handling reaches a disposition
    rectify = "rectify"  # the contractor's rectification deadline (default of the field)
    recheck = "recheck"  # 复查 after a rectification order
    penalty = "penalty"  # penalty case to decision served
    verify = "verify"  # 核查


class Field(enum.StrEnum):
    """Keys of ``fields`` a move may require. Presence is checked here, types by the caller."""

    description = "description"
    unit = "unit"  # an L2 unit (district bureau or city safety station)
    deadline = "deadline"
    responsible = "responsible"
    reason = "reason"
    result = "result"
    evidence = "evidence"  # attachments (photos, documents) or a written result
    case_number = "case_number"
    decision = "decision"  # the penalty decision as served
    review_date = "review_date"


class Followup(enum.StrEnum):
    """Work the caller enqueues after commit; the vocabulary is closed so jobs can match it."""

    set_deadline = "set_deadline"  # store fields["deadline"]: the case's, or the rectification's
    schedule_recheck = "schedule_recheck"
    schedule_review = "schedule_review"  # remind on fields["review_date"]
    stop_clock = "stop_clock"  # no deadline runs in the new state
    record_site_problem = "record_site_problem"  # a substantiated problem feeds the penalty ladder
    record_bad_behaviour = "record_bad_behaviour"  # 不良行为记录 for the enterprise (blacklist)
    record_rework = "record_rework"
    notify_l1 = "notify_l1"
    notify_l2 = "notify_l2"
    notify_l1_l2_l3 = "notify_l1_l2_l3"
    notify_responsible = "notify_responsible"
    notify_site_contact = "notify_site_contact"
    notify_site_grids = "notify_site_grids"  # members of the site's enforcement/inspector grids


@dataclass(frozen=True, slots=True)
class MoveSpec:
    """One row of the table. ``to_state`` None means the case stays where it is;
    ``sources`` None means a case from any source, else only cases from those sources."""

    from_states: frozenset[CaseState]
    to_state: CaseState | None
    actors: frozenset[Actor]
    required: tuple[Field, ...]
    event_kind: str
    followups: tuple[Followup, ...] = ()
    clock: Clock | None = None  # started at the move; None leaves the running clock alone
    disposition: Disposition | None = None
    sources: frozenset[CaseSource] | None = None


@dataclass(frozen=True, slots=True)
class TransitionPlan:
    """What the caller does after the move: write ``event_kind``, enqueue ``followups``
    after commit, and start ``clock`` (due from the deadline policy) unless it is None."""

    to_state: CaseState
    event_kind: str
    followups: list[str]
    clock: Clock | None = None
    disposition: Disposition | None = None


_S, _F, _U = CaseState, Field, Followup  # short names keep the table readable
_L1 = frozenset({Role.city_admin})
_L2 = frozenset({Role.district_admin})
_L1_L2 = frozenset({Role.city_admin, Role.district_admin})
_HANDLERS = frozenset({Role.station_staff, Role.officer})  # L3 and L4 choose dispositions
_RECHECKERS = _HANDLERS | {Role.inspector}  # 复查: third-party inspectors recheck too
_LOOKERS_BACK = _L1_L2 | {Role.inspector}
_OPEN = frozenset({_S.accepted, _S.handling, _S.rectifying, _S.penalizing})  # has a responsible
# 网格现场处置: only an enforcement officer (L4), only on an officer's own report; that the
# officer belongs to the site's enforcement grid and reported it is the caller's check
# (``fieldfix.check_own_grid``), as scope always is.
_GRID_OFFICER = frozenset({Role.officer})
_OWN_REPORT = frozenset({CaseSource.enforcement_officer})
GRID_MOVES = frozenset({Move.grid_fix_on_site, Move.grid_order_rectification})

TRANSITIONS: Mapping[Move, MoveSpec] = MappingProxyType({
    Move.dispatch: MoveSpec(
        frozenset({_S.reported, _S.returned}), _S.dispatched, _L1, (_F.unit, _F.deadline),
        "case.dispatched", (_U.set_deadline, _U.notify_l2), Clock.acknowledge),
    Move.return_: MoveSpec(
        frozenset({_S.dispatched, _S.accepted}), _S.returned, _L2, (_F.reason,),
        "case.returned", (_U.notify_l1,), Clock.dispatch),
    Move.transfer: MoveSpec(
        frozenset({_S.dispatched, _S.accepted}), _S.dispatched, _L1_L2, (_F.unit, _F.reason),
        "case.transferred", (_U.notify_l1, _U.notify_l2), Clock.acknowledge),
    Move.accept: MoveSpec(
        frozenset({_S.dispatched}), _S.accepted, _L2, (_F.responsible,),
        "case.accepted", (_U.notify_l1, _U.notify_responsible), Clock.handle),
    Move.reassign: MoveSpec(
        _OPEN, None, _L2, (_F.responsible, _F.reason),
        "case.reassigned", (_U.notify_responsible,)),
    Move.start_handling: MoveSpec(
        frozenset({_S.accepted}), _S.handling, _HANDLERS, (),
        "case.handling_started", (_U.notify_l1_l2_l3,)),
    Move.fix_on_site: MoveSpec(
        frozenset({_S.handling}), _S.verifying, _HANDLERS, (_F.result, _F.evidence),
        "case.fixed_on_site", (_U.record_site_problem, _U.notify_l1_l2_l3), Clock.verify,
        Disposition.fix_on_site),
    Move.order_rectification: MoveSpec(
        frozenset({_S.handling}), _S.rectifying, _HANDLERS, (_F.deadline,),
        "case.rectification_ordered",
        (_U.set_deadline, _U.schedule_recheck, _U.record_site_problem, _U.notify_site_contact,
         _U.notify_l1_l2_l3),
        Clock.recheck, Disposition.rectification),
    Move.submit_rectification: MoveSpec(
        frozenset({_S.rectifying}), None, frozenset({Role.contractor}), (_F.evidence,),
        "case.rectification_submitted", (_U.notify_responsible,)),
    Move.recheck_pass: MoveSpec(
        frozenset({_S.rectifying}), _S.verifying, _RECHECKERS, (_F.result, _F.evidence),
        "case.recheck_passed", (_U.notify_l1_l2_l3,), Clock.verify),
    Move.recheck_fail: MoveSpec(
        frozenset({_S.rectifying}), _S.handling, _RECHECKERS, (_F.reason, _F.evidence),
        "case.recheck_failed", (_U.record_rework, _U.notify_l1_l2_l3), Clock.handle),
    Move.open_penalty: MoveSpec(
        frozenset({_S.handling}), _S.penalizing, _HANDLERS, (_F.case_number,),
        "case.penalty_opened", (_U.record_site_problem, _U.notify_l1_l2_l3), Clock.penalty,
        Disposition.penalty),
    Move.serve_penalty: MoveSpec(
        frozenset({_S.penalizing}), _S.verifying, _HANDLERS, (_F.decision,),
        "case.penalty_served", (_U.record_bad_behaviour, _U.notify_l1_l2_l3), Clock.verify),
    Move.verify_pass: MoveSpec(
        frozenset({_S.verifying}), _S.closed, _L1_L2, (_F.evidence,),
        "case.closed", (_U.stop_clock, _U.notify_l1_l2_l3, _U.notify_site_contact)),
    Move.verify_fail: MoveSpec(
        frozenset({_S.verifying}), _S.handling, _L1_L2, (_F.reason,),
        "case.verify_failed", (_U.record_rework, _U.notify_responsible), Clock.handle),
    Move.suspend: MoveSpec(
        _OPEN, _S.suspended, _L1_L2, (_F.reason, _F.review_date),
        "case.suspended", (_U.stop_clock, _U.schedule_review, _U.notify_l1)),
    Move.resume: MoveSpec(
        frozenset({_S.suspended}), _S.handling, _L1_L2, (),
        "case.resumed", (_U.notify_responsible,), Clock.handle),
    Move.reopen: MoveSpec(
        frozenset({_S.closed}), _S.handling, _L1_L2, (_F.reason,),
        "case.reopened", (_U.record_rework, _U.notify_l1_l2_l3), Clock.handle),
    Move.look_back_pass: MoveSpec(
        frozenset({_S.closed}), None, _LOOKERS_BACK, (_F.result,),
        "case.looked_back"),
    Move.look_back_fail: MoveSpec(
        frozenset({_S.closed}), _S.handling, _LOOKERS_BACK, (_F.result, _F.evidence),
        "case.look_back_failed", (_U.record_rework, _U.notify_l1_l2_l3), Clock.handle),
    Move.dismiss: MoveSpec(
        frozenset({_S.reported, _S.returned}), _S.closed, _L1, (_F.reason,),
        "case.dismissed", (_U.stop_clock, _U.notify_l1_l2_l3)),
    Move.grid_fix_on_site: MoveSpec(
        frozenset({_S.reported}), _S.closed, _GRID_OFFICER, (_F.result, _F.evidence),
        "case.grid_fixed_on_site",
        (_U.stop_clock, _U.record_site_problem, _U.notify_l1_l2_l3, _U.notify_site_contact),
        None, Disposition.fix_on_site, _OWN_REPORT),
    Move.grid_order_rectification: MoveSpec(
        frozenset({_S.reported}), _S.rectifying, _GRID_OFFICER, (_F.deadline,),
        "case.grid_rectification_ordered",
        (_U.set_deadline, _U.schedule_recheck, _U.record_site_problem, _U.notify_site_contact,
         _U.notify_l1_l2_l3),
        Clock.recheck, Disposition.rectification, _OWN_REPORT),
})  # fmt: skip

# Who may open a case from each source (000 §4(一)–(三)). Machine sources are the system's.
_APP_SOURCES = frozenset({CaseSource.third_party_inspector, CaseSource.enforcement_officer})
REPORTERS: Mapping[CaseSource, frozenset[Actor]] = MappingProxyType({
    CaseSource.third_party_inspector: frozenset({Role.inspector}),
    CaseSource.enforcement_officer: frozenset({Role.officer, Role.station_staff}),
    CaseSource.sensor: frozenset({System.system}),
    CaseSource.video_ai: frozenset({System.system}),
    CaseSource.city_brain: frozenset({System.system}),
    CaseSource.hotline_12319: _L1,
    CaseSource.higher_assignment: _L1,
    CaseSource.open311: _L1,
})  # fmt: skip


class MoveNotAllowed(DomainError):
    """A move the state, the case's source or the actor does not allow; 409 for the state
    or the source (a fact of the case), 403 for the actor."""

    def __init__(self, state: str, move: str, actor: str, *, why: str, source: str = "") -> None:
        self.state, self.move, self.actor, self.why = state, move, actor, why
        self.status_code = Forbidden.status_code if why == "actor" else Conflict.status_code
        details = {"state": state, "move": move, "role": actor, "why": why}
        names = {
            "move": Msg(f"case_move.{move}"),
            "state": Msg(f"case_state.{state}"),
            "role": Msg(f"role.{actor}"),
        }
        if why == "source":
            details["source"] = source
            message = Msg(
                "cases.error.move_source", {**names, "source": Msg(f"case_source.{source}")}
            )
        else:
            message = Msg("cases.error.move_not_allowed", names)
        super().__init__(message, details=details)


class MissingField(Invalid):
    """A required field is absent or empty (422)."""

    def __init__(self, field: str, *, move: str) -> None:
        self.field, self.move = field, move
        super().__init__(
            Msg(
                "cases.error.missing_field",
                {"move": Msg(f"case_move.{move}"), "field": Msg(f"field.{field}")},
            ),
            details={"field": field, "move": move},
        )


def as_actor(value: str) -> Actor:
    """The role or ``system`` named by ``value``; ValueError for anything else."""
    return System(value) if value == System.system else Role(value)


def _present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str | bytes | list | tuple | set | frozenset | dict):
        return len(value) > 0
    return True


def _check_fields(move: str, required: tuple[Field, ...], fields: Mapping[str, object]) -> None:
    for name in required:
        if not _present(fields.get(name)):
            raise MissingField(name, move=move)


def _source_fits(spec: MoveSpec, source: str | None) -> bool:
    return spec.sources is None or (source is not None and CaseSource(source) in spec.sources)


def plan_transition(
    state: str,
    move: str,
    role: str,
    *,
    fields: Mapping[str, object] | None = None,
    source: str | None = None,
) -> TransitionPlan:
    """Check one move and say what follows; raises ``MoveNotAllowed`` or ``MissingField``.

    The state (and, for a move limited to some sources, the case's ``source``) is checked
    before the actor, so a move that is wrong for this case reports 409 whoever asks;
    fields are checked last, only for a move the actor may make.
    """
    state, move, actor = CaseState(state), Move(move), as_actor(role)
    spec = TRANSITIONS[move]
    if state not in spec.from_states:
        raise MoveNotAllowed(state, move, actor, why="state")
    if not _source_fits(spec, source):
        raise MoveNotAllowed(state, move, actor, why="source", source=str(source or ""))
    if actor not in spec.actors:
        raise MoveNotAllowed(state, move, actor, why="actor")
    _check_fields(move, spec.required, fields or {})
    return TransitionPlan(
        to_state=spec.to_state or state,
        event_kind=spec.event_kind,
        followups=list(spec.followups),
        clock=spec.clock,
        disposition=spec.disposition,
    )


def allowed_moves(state: str, role: str, source: str | None = None) -> list[Move]:
    """Moves ``role`` may make from ``state`` on a case from ``source``, in table order, for
    the UI's buttons (moves limited to some sources need the case's source)."""
    state, actor = CaseState(state), as_actor(role)
    return [
        m
        for m, s in TRANSITIONS.items()
        if state in s.from_states and actor in s.actors and _source_fits(s, source)
    ]


def required_fields(move: str) -> tuple[Field, ...]:
    """The fields a move needs, so forms can mark them before the user submits."""
    return TRANSITIONS[Move(move)].required


def plan_report(
    source: str,
    role: str,
    *,
    fields: Mapping[str, object] | None = None,
    also_allowed: frozenset[Role] = frozenset(),
) -> TransitionPlan:
    """Open a case (the move into ``reported``); app reports need evidence (photos, GPS).

    ``also_allowed``: roles a city's setting lets report from this source besides
    ``REPORTERS`` (a district admin opening a case from a 12319 complaint).

    A City Brain push starts the 24-hour feedback clock; every other source starts the
    dispatch clock. A machine warning (``WARNING_SOURCES``) also reaches the site's grids.
    """
    src, actor = CaseSource(source), as_actor(role)
    if actor not in REPORTERS[src] and actor not in also_allowed:
        raise MoveNotAllowed("new", f"report:{src}", actor, why="actor")
    required = (_F.description, _F.evidence) if src in _APP_SOURCES else (_F.description,)
    _check_fields("report", required, fields or {})
    followups: list[str] = [_U.notify_l1_l2_l3, _U.notify_site_contact]
    if src in WARNING_SOURCES:
        followups.append(_U.notify_site_grids)
    return TransitionPlan(
        to_state=CaseState.reported,
        event_kind="case.reported",
        followups=followups,
        clock=Clock.feedback if src is CaseSource.city_brain else Clock.dispatch,
    )
