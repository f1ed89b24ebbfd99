"""Runs of the monthly assessment, closing a month, appeals (the logic; never commits).

- ``run``: compute a month from the records; an open month gets a new version when
  anything changed; a closed month is only re-computed by a documented re-run.
- ``close``: compute the ended month once more and freeze it (the monthly job).
- ``file_appeal`` / ``decide_appeal``: a party appeals one deduction; L1 accepts or
  rejects it with a note; an accepted appeal re-scores the party from the facts stored
  with its score (nothing else moves) and writes a new version naming the appeal.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.assessments import repository as repo
from dustgrid.assessments.codec import decode, encode
from dustgrid.assessments.models import (
    AssessmentAppeal,
    AssessmentMonth,
    AssessmentRun,
    AssessmentScore,
)
from dustgrid.assessments.months import Month
from dustgrid.assessments.policy import DEFAULT_ASSESSMENT_POLICY, AssessmentPolicy
from dustgrid.assessments.scoring import (
    INSPECTOR_GROUP,
    KINDS,
    L2_UNIT,
    OFFICER,
    OFFICER_GROUP,
    PROVIDER,
    SCORERS,
    GroupFacts,
    HeldCase,
    L2UnitFacts,
    OfficerFacts,
    OfflineSpan,
    OutsideFinding,
    PlanDay,
    ProviderDevice,
    ProviderFacts,
    Score,
    UnitCase,
    Visit,
    Waivers,
)
from dustgrid.audit import service as audit
from dustgrid.config import Settings
from dustgrid.devices import compliance
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.grids.models import GridKind
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.inspections.models import InspectionMode
from dustgrid.models import utcnow

FACT_TYPES: dict[str, type] = {
    L2_UNIT: L2UnitFacts,
    OFFICER_GROUP: GroupFacts,
    OFFICER: OfficerFacts,
    INSPECTOR_GROUP: GroupFacts,
    PROVIDER: ProviderFacts,
}
AUDIT_ENTITY = "assessment"


@dataclass(frozen=True, slots=True)
class Computed:
    score: Score
    facts: Any
    unit_id: int | None = None
    district_id: int | None = None
    grid_id: int | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """A month's instants in the city's time zone."""

    month: Month
    tz: ZoneInfo
    start: datetime
    end: datetime
    now: datetime

    @classmethod
    def of(cls, month: Month, settings: Settings, now: datetime) -> Window:
        tz = ZoneInfo(settings.timezone)
        return cls(month, tz, _at(month.first, tz), _at(month.next.first, tz), now)

    @property
    def until(self) -> datetime:
        """Where lateness is judged: the month's end, or now in a running month."""
        return min(self.end, self.now)

    def instant(self, day: Any) -> datetime:
        return _at(day, self.tz)


def _at(day: Any, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


# ---------------------------------------------------------------------------- computing


def compute(
    session: Session,
    month: Month,
    settings: Settings,
    now: datetime,
    policy: AssessmentPolicy = DEFAULT_ASSESSMENT_POLICY,
    waivers: dict[tuple[str, int], Waivers] | None = None,
) -> list[Computed]:
    """Every party's score of ``month`` from the records as they stand."""
    w = Window.of(month, settings, now)
    facts = [*_unit_facts(session, w), *_group_facts(session, w, policy), *_provider_facts(
        session, w, policy)]  # fmt: skip
    out = []
    for kind, f, unit_id, district_id, grid_id in facts:
        party = _party_id(kind, f)
        wv = (waivers or {}).get((kind, party), Waivers())
        out.append(Computed(SCORERS[kind](f, policy, wv), f, unit_id, district_id, grid_id))
    return out


def _party_id(kind: str, f: Any) -> int:
    if kind == L2_UNIT:
        return int(f.unit_id)
    if kind == PROVIDER:
        return int(f.provider_id)
    if kind == OFFICER:
        return int(f.officer_id)
    return int(f.group_id)


Fact = tuple[str, Any, int | None, int | None, int | None]


def _unit_facts(session: Session, w: Window) -> list[Fact]:
    cases: dict[int, list[UnitCase]] = defaultdict(list)
    for c in repo.unit_cases(session, w.start, w.end):
        cases[c.unit_id].append(
            UnitCase(c.case_id, c.handled, c.closed, c.city_assigned, c.pushed, c.archived)
        )
    grades = repo.unit_grades(session, w.until)
    misses = repo.ledger_misses(session, w.start, w.end)
    # connect-before-waste at the month's end (or now, in a running month), from the records
    gates = compliance.closed_gates_by_unit(session, at=w.until)
    return [
        (
            L2_UNIT,
            L2UnitFacts(
                u.unit_id,
                u.name,
                cases[u.unit_id],
                grades.get(u.unit_id, []),
                misses.get(u.unit_id, []),
                [(site, str(reason)) for site, reason in gates.get(u.unit_id, [])],
            ),
            u.unit_id,
            u.district_id,
            None,
        )  # fmt: skip
        for u in repo.l2_units(session)
    ]


@dataclass(frozen=True, slots=True)
class _GroupInputs:
    visits: list[repo.VisitRow]
    plan_days: dict[int, list[repo.PlanDayRow]]
    reported: list[repo.ReportedRow]
    due: list[repo.DueRow]
    rechecks: list[repo.RecheckRow]
    outside: list[repo.OutsideRow]


def _group_inputs(session: Session, w: Window, policy: AssessmentPolicy) -> _GroupInputs:
    span_first, span_last = w.month.span
    back = timedelta(
        days=max(policy.officer_group.missed_window_days, policy.officer.missed_window_days)
    )
    since = min(w.start - back, w.instant(span_first))
    until = max(w.end, w.instant(span_last + timedelta(days=1)))
    last_day = min(w.month.last, (w.now.astimezone(w.tz) - timedelta(days=1)).date())
    days: dict[int, list[repo.PlanDayRow]] = defaultdict(list)
    for pd in repo.plan_days(session, w.month.first, last_day):
        days[pd.group_id].append(pd)
    return _GroupInputs(
        repo.visits(session, since, until),
        days,
        repo.reported(session, w.start, w.end),
        repo.cases_due(session, w.start, w.end),
        repo.rechecks_due(session, w.start, w.end),
        repo.outside_findings(session, w.start, w.end),
    )


def _group_facts(session: Session, w: Window, policy: AssessmentPolicy) -> list[Fact]:
    inputs = _group_inputs(session, w, policy)
    out: list[Fact] = []
    for kind, grid_kind in ((OFFICER_GROUP, GridKind.enforcement),
                            (INSPECTOR_GROUP, GridKind.inspector)):  # fmt: skip
        rows = repo.groups(session, grid_kind)
        people = repo.members(session, [g.group_id for g in rows])
        sites = repo.grid_sites(session, grid_kind, w.until)
        dismissed = repo.dismissed(session, [r.case_id for r in inputs.reported])
        for g in rows:
            f = _one_group(g, people.get(g.group_id, set()), sites.get(g.grid_id, []), inputs,
                           dismissed, w)  # fmt: skip
            unit = g.l2_unit_id if kind == OFFICER_GROUP else None
            out.append((kind, f, unit, g.district_id, g.grid_id))
        if kind == OFFICER_GROUP:
            out += _officer_facts(session, rows, people, sites, inputs, w)
    return out


def _officer_facts(
    session: Session,
    rows: list[repo.GroupRow],
    people: dict[int, set[int]],
    sites: dict[int, list[int]],
    inputs: _GroupInputs,
    w: Window,
) -> list[Fact]:
    """Each member of an officer group, from their own records (an officer in two groups
    answers for both grids; their score is read where their first group is)."""
    mine: dict[int, list[repo.GroupRow]] = defaultdict(list)
    for g in rows:
        for uid in sorted(people.get(g.group_id, set())):
            mine[uid].append(g)
    names = repo.user_names(session, mine)
    modes = {InspectionMode.on_site.value, InspectionMode.video.value}
    out: list[Fact] = []
    for uid, groups in sorted(mine.items()):
        first = groups[0]
        group_ids = {g.group_id for g in groups}
        on_grid = sorted({s for g in groups for s in sites.get(g.grid_id, [])})
        visits = [
            Visit(v.visit_id, v.site_id, v.inspector_id, v.submitted_at.astimezone(w.tz).date(),
                  v.submitted_at, v.passed)
            for v in inputs.visits if v.inspector_id == uid and v.mode in modes
        ]  # fmt: skip
        plan_days = [
            PlanDay(p.plan_id, p.day, p.member_id, p.stops)
            for gid in sorted(group_ids) for p in inputs.plan_days[gid]
            if p.member_id is None or p.member_id == uid
        ]  # fmt: skip
        grid_sites = set(on_grid)
        f = OfficerFacts(
            uid, f"{first.grid_code} {names.get(uid, str(uid))}", w.month, w.until, on_grid,
            visits, plan_days,
            [r.case_id for r in inputs.reported if r.reporter_id == uid],
            [HeldCase(d.case_id, d.due, d.closed_at) for d in inputs.due if uid in d.holder_ids],
            [OutsideFinding(o.case_id, o.site_id, o.opened_at) for o in inputs.outside
             if o.site_id in grid_sites],
            sorted(group_ids),
        )  # fmt: skip
        out.append((OFFICER, f, first.l2_unit_id, first.district_id, first.grid_id))
    return out


def _one_group(
    g: repo.GroupRow,
    people: set[int],
    sites: list[int],
    inputs: _GroupInputs,
    dismissed: set[int],
    w: Window,
) -> GroupFacts:
    officers = g.grid_kind == GridKind.enforcement.value
    modes = {InspectionMode.on_site.value} | ({InspectionMode.video.value} if officers else set())
    visits = [
        Visit(v.visit_id, v.site_id, v.inspector_id, v.submitted_at.astimezone(w.tz).date(),
              v.submitted_at, v.passed)
        for v in inputs.visits
        if v.mode in modes and (v.group_id == g.group_id or v.inspector_id in people)
    ]  # fmt: skip
    found = [r.case_id for r in inputs.reported if r.reporter_id in people]
    on_grid = set(sites)
    return GroupFacts(
        g.group_id,
        f"{g.grid_code} {g.name}",
        w.month,
        w.until,
        sites,
        visits,
        [PlanDay(p.plan_id, p.day, p.member_id, p.stops) for p in inputs.plan_days[g.group_id]],
        found,
        sorted(c for c in found if c in dismissed),
        [HeldCase(d.case_id, d.due, d.closed_at) for d in inputs.due
         if officers and people.intersection(d.holder_ids)],
        [HeldCase(r.case_id, r.due, r.done) for r in inputs.rechecks
         if not officers and r.site_id in on_grid],
        [OutsideFinding(o.case_id, o.site_id, o.opened_at) for o in inputs.outside
         if officers and o.site_id in on_grid],
    )  # fmt: skip


def _provider_facts(session: Session, w: Window, policy: AssessmentPolicy) -> list[Fact]:
    weeks = [(m.isoformat(), w.instant(m), w.instant(s + timedelta(days=1)))
             for m, s in w.month.check_weeks()]  # fmt: skip
    first = min(w.start, weeks[0][1])
    last = max(w.end, weeks[-1][2])
    devices = repo.provider_devices(session, first, last)
    spans = repo.offline_periods(session, [d.device_id for d in devices], first, last)
    cams = [d.device_id for d in devices if d.kind == "video_camera"]
    main, sub = repo.measured_streams(session, cams, w.until)
    by_device = {d.device_id: d.provider_id for d in devices}
    year_before = [str(Month(w.month.year, m)) for m in range(1, w.month.month)]
    out: list[Fact] = []
    for pid, name in repo.providers(session):
        mine = [d for d in devices if d.provider_id == pid]
        if not mine:
            continue  # no device in service in the month: nothing to score
        f = ProviderFacts(
            pid, name, w.month, w.until,
            [(p, a, min(b, w.now)) for p, a, b in weeks if a < w.now],
            w.start,
            [_provider_device(d, main.get(d.device_id), sub.get(d.device_id), w) for d in mine],
            [OfflineSpan(s.id, s.device_id, s.started_at, s.ended_at, s.notified_at)
             for s in spans if by_device.get(s.device_id) == pid],
            repo.failing_months(session, pid, year_before, policy.provider.interview_below),
        )  # fmt: skip
        out.append((PROVIDER, f, None, None, None))
    return out


def _provider_device(
    d: repo.DeviceRow,
    main: repo.MeasuredStream | None,
    sub: repo.MeasuredStream | None,
    w: Window,
) -> ProviderDevice:
    """A device with its streams: the latest measured before the month's end, else the
    resolution typed into the registry (docs/assessments.md)."""

    def day(m: repo.MeasuredStream | None) -> str:
        return m.checked_at.astimezone(w.tz).date().isoformat() if m else ""

    return ProviderDevice(
        d.device_id, d.kind, d.activated_at, d.removed_at,
        main.size if main else d.main, sub.size if sub else d.sub, day(main), day(sub),
    )  # fmt: skip


# ---------------------------------------------------------------------------- storing


def _score_row(c: Computed, run: AssessmentRun) -> AssessmentScore:
    s = c.score
    return AssessmentScore(
        run_id=run.id, month=run.month, version=run.version, kind=s.kind, party_id=s.party_id,
        name=s.name[:200], score=s.score, consequence=s.consequence,
        policy_version=s.policy_version, unit_id=c.unit_id, district_id=c.district_id,
        grid_id=c.grid_id, items=[i.as_json() for i in s.items], facts=encode(c.facts),
    )  # fmt: skip


def _copy_row(row: AssessmentScore, run: AssessmentRun) -> AssessmentScore:
    return AssessmentScore(
        run_id=run.id, month=run.month, version=run.version, kind=row.kind,
        party_id=row.party_id, name=row.name, score=row.score, consequence=row.consequence,
        policy_version=row.policy_version, unit_id=row.unit_id, district_id=row.district_id,
        grid_id=row.grid_id, items=row.items, facts=row.facts,
    )  # fmt: skip


def _month(session: Session, month: Month) -> AssessmentMonth:
    row = repo.month_row(session, str(month))
    if row is None:
        row = AssessmentMonth(month=str(month), state="open", version=0)
        repo.add(session, row)
    return row


def _new_run(
    session: Session,
    row: AssessmentMonth,
    reason: str,
    actor: Principal | None,
    policy: AssessmentPolicy,
    note: str = "",
    appeal_id: int | None = None,
) -> AssessmentRun:
    row.version += 1
    run = AssessmentRun(
        month=row.month, version=row.version, reason=reason, note=note, appeal_id=appeal_id,
        policy_version=policy.version, actor_id=actor.user_id if actor else None,
        created_at=utcnow(),
    )  # fmt: skip
    repo.add(session, run)
    return run


def _same(stored: Sequence[AssessmentScore], computed: Sequence[Computed]) -> bool:
    old = {(s.kind, s.party_id): (s.score, s.items) for s in stored}
    new = {
        (c.score.kind, c.score.party_id): (c.score.score, [i.as_json() for i in c.score.items])
        for c in computed
    }
    return old == new


def _waivers(session: Session, month: Month) -> dict[tuple[str, int], Waivers]:
    keys: dict[tuple[str, int], set[tuple[str, str, str]]] = defaultdict(set)
    for a in repo.accepted_waivers(session, str(month)):
        keys[(a.kind, a.party_id)].add((a.rule, a.period, a.ref_key))
    return {k: Waivers(frozenset(v)) for k, v in keys.items()}


@dataclass(frozen=True, slots=True)
class RunResult:
    month: str
    state: str
    version: int
    changed: bool
    scores: list[AssessmentScore]


def run(
    session: Session,
    month: Month,
    settings: Settings,
    *,
    actor: Principal | None = None,
    now: datetime | None = None,
    rerun_reason: str = "",
    policy: AssessmentPolicy = DEFAULT_ASSESSMENT_POLICY,
) -> RunResult:
    """Score ``month``. A closed month keeps its scores unless ``rerun_reason`` documents
    a re-run (a new version saying why); an open month gets a new version when anything
    changed since its current one."""
    now = now or utcnow()
    row = _month(session, month)
    closed = row.state == "closed"
    if closed and not rerun_reason.strip():
        return _result(session, row, changed=False)
    computed = compute(session, month, settings, now, policy, _waivers(session, month))
    stored = repo.scores(session, row.month, row.version) if row.version else []
    if row.version and _same(stored, computed):
        return _result(session, row, changed=False)
    reason = "rerun" if rerun_reason.strip() else "computed"
    new = _new_run(session, row, reason, actor, policy, note=rerun_reason.strip())
    repo.add_scores(session, [_score_row(c, new) for c in computed])
    if reason == "rerun":
        audit.record(
            session, actor=actor, action="assessment.rerun", entity_type=AUDIT_ENTITY,
            entity_id=new.id, changes={"month": row.month, "version": [new.version - 1,
            new.version], "reason": rerun_reason.strip()},
            summary=f"重新计算 {row.month} 考核（版本 {new.version}）",
        )  # fmt: skip
    return _result(session, row, changed=True)


def close(
    session: Session,
    month: Month,
    settings: Settings,
    *,
    actor: Principal | None = None,
    now: datetime | None = None,
    policy: AssessmentPolicy = DEFAULT_ASSESSMENT_POLICY,
) -> RunResult:
    """Compute the ended ``month`` once more from the records and freeze it."""
    now = now or utcnow()
    w = Window.of(month, settings, now)
    if now < w.end:
        raise Invalid("assessments.error.future_month", month=str(month))
    row = _month(session, month)
    if row.state == "closed":
        return _result(session, row, changed=False)
    computed = compute(session, month, settings, now, policy, _waivers(session, month))
    new = _new_run(session, row, "closed", actor, policy)
    repo.add_scores(session, [_score_row(c, new) for c in computed])
    row.state, row.closed_at = "closed", now
    row.closed_by_id = actor.user_id if actor else None
    audit.record(
        session, actor=actor, action="assessment.close", entity_type=AUDIT_ENTITY,
        entity_id=new.id, changes={"month": row.month, "state": ["open", "closed"],
                                   "version": new.version},
        summary=f"{row.month} 考核关账（版本 {new.version}）",
    )  # fmt: skip
    return _result(session, row, changed=True)


def _result(session: Session, row: AssessmentMonth, *, changed: bool) -> RunResult:
    rows = repo.scores(session, row.month, row.version) if row.version else []
    return RunResult(row.month, row.state, row.version, changed, rows)


# ---------------------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class MonthScores:
    month: str
    state: str
    version: int
    scores: list[AssessmentScore]
    runs: list[AssessmentRun]


def parse_kind(kind: str | None) -> str | None:
    if kind is None or kind == "":
        return None
    if kind not in KINDS:
        raise Invalid("assessments.error.bad_kind", value=kind)
    return kind


def month_scores(
    session: Session, principal: Principal, month: Month, kind: str | None = None
) -> MonthScores:
    """The current version's scores the principal may read (none until a run)."""
    kind = parse_kind(kind)
    row = repo.month_row(session, str(month))
    if row is None or row.version == 0:
        return MonthScores(str(month), "open", 0, [], [])
    rows = repo.scores(session, row.month, row.version, repo.score_clause(principal), kind)
    return MonthScores(row.month, row.state, row.version, rows, repo.runs(session, row.month))


@dataclass(frozen=True, slots=True)
class PartyScore:
    month: str
    state: str
    score: AssessmentScore
    history: list[tuple[AssessmentScore, AssessmentRun]]
    appeals: list[AssessmentAppeal]


def party_score(
    session: Session, principal: Principal, month: Month, kind: str, party_id: int
) -> PartyScore:
    """One party's current score with every version of it and its appeals (404 outside
    the reader's scope)."""
    parse_kind(kind)
    row = repo.month_row(session, str(month))
    if row is None or row.version == 0:
        raise NotFound("assessments.error.not_found")
    clause = repo.score_clause(principal)
    found = [s for s in repo.scores(session, row.month, row.version, clause, kind)
             if s.party_id == party_id]  # fmt: skip
    if not found:
        raise NotFound("assessments.error.not_found")
    return PartyScore(
        row.month, row.state, found[0],
        repo.score_history(session, row.month, kind, party_id),
        repo.appeals(session, row.month, kind, party_id),
    )  # fmt: skip


# ---------------------------------------------------------------------------- appeals


def may_appeal(principal: Principal, score: AssessmentScore) -> bool:
    """The party's own side: its L2 unit (a unit's, its officer groups' and its officers'
    deductions), the group's members and station (groups), the officer and their station
    (an officer), the provider itself. L1 decides, so it does not appeal."""
    if principal.is_city_wide or principal.role == Role.viewer:
        return False
    if principal.role == Role.district_admin:
        return score.unit_id is not None and score.unit_id == principal.org_unit_id
    if score.kind == OFFICER and principal.role in (Role.officer, Role.inspector):
        return score.party_id == principal.user_id  # an officer for themself only
    if principal.role in (Role.station_staff, Role.officer, Role.inspector):
        return score.grid_id is not None and score.grid_id in principal.grid_ids
    return principal.role == Role.provider and score.kind == PROVIDER


def _deduction(score: AssessmentScore, rule: str, period: str, ref_key: str) -> dict[str, Any]:
    for item in score.items:
        if item["rule"] == rule and item.get("period", "") == period:
            if item["points"] >= 0:
                raise Invalid("assessments.error.no_deduction")
            keys = {e["key"] for e in item["evidence"]}
            if ref_key and ref_key not in keys:
                raise Invalid("assessments.error.no_such_item", rule=f"{rule} {ref_key}")
            return item
    raise Invalid("assessments.error.no_such_item", rule=rule)


def file_appeal(
    session: Session,
    principal: Principal,
    month: Month,
    kind: str,
    party_id: int,
    *,
    rule: str,
    reason: str,
    period: str = "",
    ref_key: str = "",
) -> AssessmentAppeal:
    party = party_score(session, principal, month, kind, party_id)
    if not may_appeal(principal, party.score):
        raise Forbidden("assessments.error.not_yours")
    if not reason.strip():
        raise Invalid("assessments.error.reason_required")
    _deduction(party.score, rule, period, ref_key)
    for a in party.appeals:
        if a.state == "pending" and (a.rule, a.period, a.ref_key) == (rule, period, ref_key):
            raise Conflict("assessments.error.pending_exists")
    appeal = AssessmentAppeal(
        month=party.month, kind=kind, party_id=party_id, rule=rule, period=period,
        ref_key=ref_key, reason=reason.strip(), state="pending", filed_by_id=principal.user_id,
        filed_at=utcnow(), score_before=party.score.score, note="",
    )  # fmt: skip
    repo.add(session, appeal)
    audit.record(
        session, actor=principal, action="assessment.appeal", entity_type="assessment_appeal",
        entity_id=appeal.id, changes={"month": party.month, "kind": kind, "party_id": party_id,
                                      "rule": rule, "evidence": ref_key, "reason": appeal.reason},
        summary=f"申诉 {party.month} {party.score.name} {rule}",
    )  # fmt: skip
    return appeal


def decide_appeal(
    session: Session,
    principal: Principal,
    appeal_id: int,
    *,
    accept: bool,
    note: str,
    policy: AssessmentPolicy = DEFAULT_ASSESSMENT_POLICY,
) -> AssessmentAppeal:
    """L1 accepts or rejects; an accepted appeal re-scores the party (a new version)."""
    if principal.role != Role.city_admin:
        raise Forbidden("assessments.error.l1_only")
    appeal = repo.appeal(session, appeal_id)
    if appeal is None:
        raise NotFound("assessments.error.appeal_not_found", appeal_id=appeal_id)
    if appeal.state != "pending":
        raise Conflict("assessments.error.already_decided", state=appeal.state)
    if not note.strip():
        raise Invalid("assessments.error.note_required")
    appeal.state = "accepted" if accept else "rejected"
    appeal.note, appeal.decided_by_id, appeal.decided_at = note.strip(), principal.user_id, utcnow()
    session.flush()
    if accept:
        appeal.score_after, appeal.version_after = _rescore(session, appeal, principal, policy)
    else:
        appeal.score_after = appeal.score_before
    audit.record(
        session, actor=principal, action="assessment.appeal_decided",
        entity_type="assessment_appeal", entity_id=appeal.id,
        changes={"state": ["pending", appeal.state], "note": appeal.note,
                 "score": [appeal.score_before, appeal.score_after]},
        summary=f"申诉 {appeal.id}：{'采纳' if accept else '不予采纳'}",
    )  # fmt: skip
    return appeal


def _rescore(
    session: Session, appeal: AssessmentAppeal, actor: Principal, policy: AssessmentPolicy
) -> tuple[float, int]:
    """A new version: the appealed party re-scored from its stored facts with every
    accepted appeal of it; every other score copied as it was."""
    row = repo.month_row(session, appeal.month)
    if row is None:
        raise NotFound("assessments.error.not_found")
    current = repo.scores(session, row.month, row.version)
    waivers = _waivers(session, Month.parse(row.month)).get((appeal.kind, appeal.party_id))
    run_ = _new_run(session, row, "appeal", actor, policy, note=appeal.note, appeal_id=appeal.id)
    rows, after = [], appeal.score_before
    for s in current:
        new = _copy_row(s, run_)
        if (s.kind, s.party_id) == (appeal.kind, appeal.party_id):
            facts = decode(FACT_TYPES[s.kind], s.facts)
            score = SCORERS[s.kind](facts, policy, waivers or Waivers())
            new.score, new.consequence = score.score, score.consequence
            new.items = [i.as_json() for i in score.items]
            after = score.score
        rows.append(new)
    repo.add_scores(session, rows)
    return after, run_.version


def visible_appeals(session: Session, principal: Principal, month: Month) -> list[AssessmentAppeal]:
    """Appeals of the parties whose current score the principal may read."""
    row = repo.month_row(session, str(month))
    if row is None or row.version == 0:
        return []
    seen = {(s.kind, s.party_id) for s in
            repo.scores(session, row.month, row.version, repo.score_clause(principal))}  # fmt: skip
    return [a for a in repo.appeals(session, row.month) if (a.kind, a.party_id) in seen]


def close_previous(session: Session, settings: Settings, now: datetime) -> int:
    """Close the month before ``now``'s (in the city's time zone) unless it is closed."""
    month = Month.of(now.astimezone(ZoneInfo(settings.timezone)).date()).previous
    row = repo.month_row(session, str(month))
    if row is not None and row.state == "closed":
        return 0
    close(session, month, settings, now=now)
    return 1
