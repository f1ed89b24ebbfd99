"""Monthly scores from a month's facts (pure: no database, no clock).

The repository gathers the facts (``*Facts`` below) from the records; these functions turn
them into a :class:`Score` whose every item names its rule, the measured value, the points
it cost (negative) or earned (positive) and the records behind it (:class:`Ref`).
Accepted appeals come in as :class:`Waivers`: a waived record counts as if it had gone
right (a rate counts it as met, a per-event rule drops it); a waiver without a record
cancels the whole item.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dustgrid.assessments.months import Month
from dustgrid.assessments.policy import (
    DEFAULT_ASSESSMENT_POLICY,
    AssessmentPolicy,
    Band,
    OfficerGroupRules,
    PerEvent,
    ProviderRules,
    RateLine,
)

L2_UNIT = "l2_unit"
OFFICER_GROUP = "officer_group"
OFFICER = "officer"
INSPECTOR_GROUP = "inspector_group"
PROVIDER = "provider"
KINDS = (L2_UNIT, OFFICER_GROUP, OFFICER, INSPECTOR_GROUP, PROVIDER)

_EPS = 1e-9


# ---------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Ref:
    """One record behind an item: ``kind`` is case, alert, visit, plan_day, device_period,
    device, site or gate (a site whose connect-before-waste gate was closed); ``day`` a
    plan day, a week or the day a camera's stream was measured; ``detail`` a number worth
    showing (days, a resolution) or the gate's reason."""

    kind: str
    id: int
    day: str = ""
    member: int | None = None
    detail: str = ""

    @property
    def key(self) -> str:
        parts = [self.kind, str(self.id)]
        if self.day:
            parts.append(self.day)
        if self.member is not None:
            parts.append(str(self.member))
        return ":".join(parts)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "id": self.id, "key": self.key}
        if self.day:
            out["day"] = self.day
        if self.member is not None:
            out["member"] = self.member
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True, slots=True)
class Item:
    rule: str
    value: float | None
    points: float
    evidence: tuple[Ref, ...] = ()
    period: str = ""  # a check week's Monday, for the weekly rules
    waived: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "value": self.value,
            "points": self.points,
            "evidence": [r.as_json() for r in self.evidence],
        }
        if self.period:
            out["period"] = self.period
        if self.waived:
            out["waived"] = True
        return out


@dataclass(frozen=True, slots=True)
class Score:
    kind: str
    party_id: int
    name: str
    score: float
    items: tuple[Item, ...]
    policy_version: str
    consequence: str = ""  # providers: interview | suspended | blacklisted

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "id": self.party_id,
            "name": self.name,
            "score": self.score,
            "policy_version": self.policy_version,
            "items": [i.as_json() for i in self.items],
        }
        if self.consequence:
            out["consequence"] = self.consequence
        return out


@dataclass(frozen=True, slots=True)
class Waivers:
    """Accepted appeals: ``(rule, period, ref key)``; an empty key waives the whole item."""

    keys: frozenset[tuple[str, str, str]] = frozenset()

    def record(self, rule: str, ref: Ref, period: str = "") -> bool:
        return (rule, period, ref.key) in self.keys

    def item(self, rule: str, period: str = "") -> bool:
        return (rule, period, "") in self.keys


NO_WAIVERS = Waivers()


def _total(items: Sequence[Item], policy: AssessmentPolicy) -> float:
    raw = policy.base + sum(i.points for i in items)
    return round(min(policy.base, max(policy.floor, raw)), 2)


def _finish(items: list[Item], waivers: Waivers) -> tuple[Item, ...]:
    out = []
    for item in items:
        if item.points and waivers.item(item.rule, item.period):
            item = Item(item.rule, item.value, 0.0, item.evidence, item.period, waived=True)
        out.append(item)
    return tuple(out)


# ---------------------------------------------------------------------------- rule shapes


def rate_item(
    rule: str,
    line: RateLine,
    outcomes: Iterable[tuple[Ref, bool]],
    waivers: Waivers = NO_WAIVERS,
    period: str = "",
) -> Item:
    """A rate against its line. The evidence is every record that did not meet it; a
    waived record counts as met. No records: no rate and no points."""
    total = met = 0
    misses: list[Ref] = []
    for ref, ok in outcomes:
        total += 1
        if ok or waivers.record(rule, ref, period):
            met += 1
        else:
            misses.append(ref)
    if total == 0:
        return Item(rule, None, 0.0, (), period)
    rate = met / total
    return Item(rule, round(rate, 4), _neg(_below_line(line, met, total)), tuple(misses), period)


def _neg(points: float) -> float:
    """A deduction as a negative number (0.0, never -0.0)."""
    return -points if points else 0.0


def _below_line(line: RateLine, met: int, total: int) -> float:
    if met >= line.line * total - _EPS:
        return 0.0
    if line.per_point == 0:
        return line.fail_points
    below_pp = (line.line - met / total) * 100
    return min(line.max_points, round(line.per_point * below_pp, 2))


def per_event_item(
    rule: str,
    rule_points: PerEvent,
    refs: Iterable[Ref],
    waivers: Waivers = NO_WAIVERS,
    credit: bool = False,
    period: str = "",
) -> Item:
    """Each (unwaived) record costs (or with ``credit`` earns) its points, up to the cap."""
    kept = tuple(r for r in refs if not waivers.record(rule, r, period))
    points = min(rule_points.max_points, round(rule_points.points * len(kept), 2))
    return Item(rule, float(len(kept)), points if credit else _neg(points), kept, period)


def band_points(bands: Sequence[Band], value: float) -> float:
    """The points of the first band ``value`` is below (the last band has no edge)."""
    for band in bands:
        if band.below is None or value < band.below - _EPS:
            return band.points
    return bands[-1].points


def share_item(
    rule: str, line: float, fail_points: float, hits: Sequence[Ref], total: int, *, above: bool
) -> Item:
    """The share of sites with a grade against its line: failing when below it (``above``
    False: the excellent share) or above it (``above`` True: the non-compliant share)."""
    if total == 0:
        return Item(rule, None, 0.0)
    share = len(hits) / total
    fails = len(hits) > line * total + _EPS if above else len(hits) < line * total - _EPS
    evidence = tuple(hits) if above else ()
    return Item(rule, round(share, 4), _neg(fail_points) if fails else 0.0, evidence)


# ---------------------------------------------------------------------------- L2 units


@dataclass(frozen=True, slots=True)
class UnitCase:
    """A case the unit held in the month (dispatched to it, or opened at its sites)."""

    id: int
    handled: bool  # accepted and handled (a disposition, or closed) by the month's end
    closed: bool  # closed (办结) by the month's end
    city_assigned: bool  # dispatched by L1 (交办)
    pushed: bool  # pushed by the City Brain
    archived: bool  # closed with the result on file (a photo or document)


@dataclass(frozen=True, slots=True)
class L2UnitFacts:
    unit_id: int
    name: str
    cases: Sequence[UnitCase] = ()
    # each active site's grade at the month's end: (site id, grade)
    grades: Sequence[tuple[int, str]] = ()
    # confirmed City Brain cases of sites the ledger did not hold
    ledger_misses: Sequence[int] = ()
    # sites producing waste whose connect-before-waste gate was closed at the month's end:
    # (site id, reason: devices.mandatory.GateReason)
    gates_closed: Sequence[tuple[int, str]] = ()


def score_l2_unit(
    f: L2UnitFacts,
    policy: AssessmentPolicy = DEFAULT_ASSESSMENT_POLICY,
    waivers: Waivers = NO_WAIVERS,
) -> Score:
    r = policy.l2_unit
    case = [(Ref("case", c.id), c) for c in f.cases]
    excellent = [Ref("site", s) for s, g in f.grades if g == "full"]
    non_compliant = [Ref("site", s) for s, g in f.grades if g == "non_compliant"]
    items = [
        rate_item("handling_rate", r.handling, ((x, c.handled) for x, c in case), waivers),
        rate_item("closure_rate", r.closure, ((x, c.closed) for x, c in case), waivers),
        rate_item(
            "city_rectified",
            r.city_rectified,
            ((x, c.closed) for x, c in case if c.city_assigned),
            waivers,
        ),
        share_item(
            "excellent_share",
            r.excellent_line,
            r.excellent_fail_points,
            excellent,
            len(f.grades),
            above=False,
        ),
        share_item(
            "non_compliant_share",
            r.non_compliant_line,
            r.non_compliant_fail_points,
            non_compliant,
            len(f.grades),
            above=True,
        ),
        per_event_item(
            "ledger_missing", r.ledger_miss, [Ref("case", c) for c in f.ledger_misses], waivers
        ),
        rate_item(
            "pushed_rectified",
            r.pushed_rectified,
            ((x, c.closed) for x, c in case if c.pushed),
            waivers,
        ),
        rate_item(
            "archive_complete", r.archive, ((x, c.archived) for x, c in case if c.closed), waivers
        ),
        per_event_item(
            "connect_gate",
            r.gate_closed,
            [Ref("gate", site, detail=reason) for site, reason in f.gates_closed],
            waivers,
        ),
    ]
    done = _finish(items, waivers)
    return Score(L2_UNIT, f.unit_id, f.name, _total(done, policy), done, policy.version)


# ---------------------------------------------------------------------------- grid groups


@dataclass(frozen=True, slots=True)
class Visit:
    id: int
    site_id: int
    member_id: int
    day: date  # local day
    at: datetime
    passed: bool  # nothing found (未发现问题)


@dataclass(frozen=True, slots=True)
class PlanDay:
    plan_id: int
    day: date
    member_id: int | None  # None: the group walks together
    stops: int


@dataclass(frozen=True, slots=True)
class HeldCase:
    """A case the group had to act on by ``due`` (handling deadline, or a recheck's)."""

    id: int
    due: datetime
    done: datetime | None


@dataclass(frozen=True, slots=True)
class OutsideFinding:
    """A problem found by a sensor, the hotline or the City Brain at one of the sites."""

    case_id: int
    site_id: int
    opened_at: datetime


@dataclass(frozen=True, slots=True)
class GroupFacts:
    group_id: int
    name: str
    month: Month
    month_end: datetime  # the instant the month ends (lateness is judged against it)
    sites: Sequence[int] = ()
    visits: Sequence[Visit] = ()
    plan_days: Sequence[PlanDay] = ()
    found: Sequence[int] = ()  # cases the group reported in the month
    dismissed: Sequence[int] = ()  # those of them closed as no problem
    held: Sequence[HeldCase] = ()  # officers: cases due in the month
    rechecks: Sequence[HeldCase] = ()  # inspectors: rechecks due in the month
    outside: Sequence[OutsideFinding] = field(default_factory=tuple)


def coverage_item(
    rule: str,
    line: RateLine,
    sites: Sequence[int],
    visits: Iterable[Visit],
    waivers: Waivers,
    period: str = "",
) -> Item:
    seen = {v.site_id for v in visits}
    outcomes = ((Ref("site", s, day=period), s in seen) for s in sites)
    return rate_item(rule, line, outcomes, waivers, period)


def short_days(plan_days: Iterable[PlanDay], visits: Sequence[Visit], quota: int) -> list[Ref]:
    """Plan days with fewer visited sites than the quota (or than the day's stops, when
    the plan had fewer): the group's visits, or the member's when each walks alone."""
    by_day: dict[date, list[Visit]] = defaultdict(list)
    for v in visits:
        by_day[v.day].append(v)
    refs = []
    for pd in sorted(plan_days, key=lambda p: (p.day, p.member_id or 0)):
        need = min(quota, pd.stops)
        done = {
            v.site_id
            for v in by_day.get(pd.day, [])
            if pd.member_id is None or v.member_id == pd.member_id
        }
        if len(done) < need:
            refs.append(
                Ref("plan_day", pd.plan_id, pd.day.isoformat(), pd.member_id, f"{len(done)}/{need}")
            )
    return refs


def late_cases(cases: Iterable[HeldCase], month_end: datetime, grace: timedelta) -> list[Ref]:
    """Cases done after ``due + grace``, or not done by the month's end when that was late."""
    refs = []
    for c in sorted(cases, key=lambda c: c.id):
        limit = c.due + grace
        if (c.done is not None and c.done > limit) or (c.done is None and month_end > limit):
            refs.append(Ref("case", c.id))
    return refs


def missed_reports(
    outside: Iterable[OutsideFinding], visits: Sequence[Visit], window: timedelta
) -> list[Ref]:
    """信息漏报: each outside finding at a site the group visited and passed within
    ``window`` before it; the evidence is the case and the visit that passed it."""
    by_site: dict[int, list[Visit]] = defaultdict(list)
    for v in visits:
        by_site[v.site_id].append(v)
    refs = []
    for o in sorted(outside, key=lambda o: o.case_id):
        before = [
            v
            for v in by_site.get(o.site_id, [])
            if v.passed and o.opened_at - window <= v.at <= o.opened_at
        ]
        if before:
            last = max(before, key=lambda v: v.at)
            refs.append(Ref("case", o.case_id, detail=f"visit:{last.id}"))
    return refs


def _officer_items(
    r: OfficerGroupRules,
    month: Month,
    month_end: datetime,
    sites: Sequence[int],
    visits: Sequence[Visit],
    plan_days: Sequence[PlanDay],
    found: Sequence[int],
    held: Sequence[HeldCase],
    outside: Sequence[OutsideFinding],
    waivers: Waivers,
) -> list[Item]:
    """The officers' rules, for a group (its members' visits) or one officer (their own)."""
    in_month = [v for v in visits if Month.of(v.day) == month]
    return [
        coverage_item("coverage", r.coverage, sites, in_month, waivers),
        per_event_item(
            "patrol_frequency", r.short_day, short_days(plan_days, in_month, r.daily_quota),
            waivers,
        ),
        per_event_item(
            "problems_found", r.found_credit, [Ref("case", c) for c in found], waivers,
            credit=True,
        ),
        per_event_item(
            "handled_on_time", r.late, late_cases(held, month_end, timedelta(0)), waivers
        ),
        per_event_item(
            "missed_reports",
            r.missed,
            missed_reports(outside, visits, timedelta(days=r.missed_window_days)),
            waivers,
        ),
    ]  # fmt: skip


def score_officer_group(
    f: GroupFacts,
    policy: AssessmentPolicy = DEFAULT_ASSESSMENT_POLICY,
    waivers: Waivers = NO_WAIVERS,
) -> Score:
    """An enforcement group's score: the group rules on the records of the whole group."""
    return _officer_score(OFFICER_GROUP, f.group_id, f, policy.officer_group, policy, waivers)


@dataclass(frozen=True, slots=True)
class OfficerFacts:
    """One enforcement officer's month, from their own records: the visits they filed
    (a visit names the officer who filed it), the plan days of their groups that were
    theirs (their own stops, or the group's when it walks together), the cases they
    reported or held, and the outside findings at their grids' sites."""

    officer_id: int
    name: str
    month: Month
    month_end: datetime
    sites: Sequence[int] = ()  # the sites of their groups' grids
    visits: Sequence[Visit] = ()
    plan_days: Sequence[PlanDay] = ()
    found: Sequence[int] = ()
    held: Sequence[HeldCase] = ()
    outside: Sequence[OutsideFinding] = ()
    groups: Sequence[int] = ()  # the groups they belong to (for the record)


def score_officer(
    f: OfficerFacts,
    policy: AssessmentPolicy = DEFAULT_ASSESSMENT_POLICY,
    waivers: Waivers = NO_WAIVERS,
) -> Score:
    """The officer's own score (L2 assesses L4): the group's rules on their own records."""
    return _officer_score(OFFICER, f.officer_id, f, policy.officer, policy, waivers)


def _officer_score(
    kind: str,
    party_id: int,
    f: GroupFacts | OfficerFacts,
    rules: OfficerGroupRules,
    policy: AssessmentPolicy,
    waivers: Waivers,
) -> Score:
    """A group's or one officer's score: the same items, from either's records."""
    items = _officer_items(rules, f.month, f.month_end, f.sites, f.visits,
                           f.plan_days, f.found, f.held, f.outside, waivers)  # fmt: skip
    done = _finish(items, waivers)
    return Score(kind, party_id, f.name, _total(done, policy), done, policy.version)


def score_inspector_group(
    f: GroupFacts,
    policy: AssessmentPolicy = DEFAULT_ASSESSMENT_POLICY,
    waivers: Waivers = NO_WAIVERS,
) -> Score:
    r = policy.inspector_group
    items: list[Item] = []
    for monday, sunday in f.month.check_weeks():
        week = [v for v in f.visits if monday <= v.day <= sunday]
        items.append(
            coverage_item(
                "weekly_coverage", r.weekly_coverage, f.sites, week, waivers, monday.isoformat()
            )
        )
    in_month = [v for v in f.visits if Month.of(v.day) == f.month]
    dismissed = set(f.dismissed)
    items += [
        per_event_item(
            "daily_visits", r.short_day, short_days(f.plan_days, in_month, r.daily_min), waivers
        ),
        rate_item(
            "findings_confirmed",
            r.confirmed,
            ((Ref("case", c), c not in dismissed) for c in f.found),
            waivers,
        ),
        per_event_item(
            "rechecks_on_time",
            r.late_recheck,
            late_cases(f.rechecks, f.month_end, timedelta(days=r.recheck_grace_days)),
            waivers,
        ),
    ]
    done = _finish(items, waivers)
    return Score(INSPECTOR_GROUP, f.group_id, f.name, _total(done, policy), done, policy.version)


# ---------------------------------------------------------------------------- providers


@dataclass(frozen=True, slots=True)
class ProviderDevice:
    id: int
    kind: str  # devices.models.DeviceKind value
    active_from: datetime  # in service from (activation)
    active_to: datetime | None  # removed at
    main_stream: tuple[int, int] | None = None  # cameras: (width, height) when recorded
    sub_stream: tuple[int, int] | None = None
    # the local day of the stream check that measured it; "" when it is the typed value
    main_measured: str = ""
    sub_measured: str = ""


@dataclass(frozen=True, slots=True)
class OfflineSpan:
    id: int  # offline_period id
    device_id: int
    started_at: datetime
    ended_at: datetime | None
    notified_at: datetime | None  # the provider was told (repair time runs from here)


@dataclass(frozen=True, slots=True)
class ProviderFacts:
    provider_id: int
    name: str
    month: Month
    # the month's end and each check week (its Monday, its bounds as instants)
    month_end: datetime
    weeks: Sequence[tuple[str, datetime, datetime]] = ()
    month_start: datetime | None = None
    devices: Sequence[ProviderDevice] = ()
    offline: Sequence[OfflineSpan] = ()
    failures_before: int = 0  # months under the interview line earlier this calendar year


def _overlap(a0: datetime, a1: datetime, b0: datetime, b1: datetime) -> float:
    return max(0.0, (min(a1, b1) - max(a0, b0)).total_seconds())


def offline_rate(
    devices: Sequence[ProviderDevice],
    spans: Iterable[OfflineSpan],
    start: datetime,
    end: datetime,
) -> tuple[float | None, list[Ref]]:
    """Offline device-time over in-service device-time in [start, end), and the spans."""
    active = {
        d.id: (max(d.active_from, start), min(d.active_to or end, end))
        for d in devices
        if d.active_from < end and (d.active_to is None or d.active_to > start)
    }
    total = sum(max(0.0, (b - a).total_seconds()) for a, b in active.values())
    if total <= 0:
        return None, []
    off = 0.0
    refs = []
    for s in spans:
        if s.device_id not in active:
            continue
        a, b = active[s.device_id]
        seconds = _overlap(s.started_at, s.ended_at or end, a, b)
        if seconds > 0:
            off += seconds
            refs.append(Ref("device_period", s.id, detail=f"device:{s.device_id}"))
    return off / total, refs


def repair_days(span: OfflineSpan, until: datetime) -> int | None:
    """Whole days from notice to repair (a started day counts); None without a notice."""
    if span.notified_at is None:
        return None
    end = span.ended_at or until
    return max(0, math.ceil((end - span.notified_at).total_seconds() / 86400 - _EPS))


def _offline_items(f: ProviderFacts, r: ProviderRules, waivers: Waivers) -> list[Item]:
    items = []
    for period, start, end in f.weeks:
        kept = [s for s in f.offline if not waivers.record("offline_rate", _span_ref(s), period)]
        rate, refs = offline_rate(f.devices, kept, start, end)
        points = 0.0 if rate is None else band_points(r.offline_bands, rate)
        value = None if rate is None else round(rate, 4)
        items.append(Item("offline_rate", value, _neg(points), tuple(refs), period))
    return items


def _span_ref(s: OfflineSpan) -> Ref:
    return Ref("device_period", s.id, detail=f"device:{s.device_id}")


def _repair_item(f: ProviderFacts, r: ProviderRules, waivers: Waivers) -> Item:
    """Periods repaired in the month, or still open at its end, scored by repair days."""
    start = f.month_start or datetime.min.replace(tzinfo=f.month_end.tzinfo)
    points = 0.0
    refs = []
    for s in sorted(f.offline, key=lambda s: s.id):
        if s.ended_at is not None and not start <= s.ended_at < f.month_end:
            continue
        days = repair_days(s, f.month_end)
        if days is None:
            continue
        cost = band_points(r.repair_bands, days)
        ref = Ref("device_period", s.id, detail=f"{days}d")
        if cost and not waivers.record("repair_time", ref):
            points += cost
            refs.append(ref)
    return Item("repair_time", float(len(refs)), _neg(points), tuple(refs))


def _stream_items(f: ProviderFacts, r: ProviderRules, waivers: Waivers) -> list[Item]:
    cameras = [d for d in f.devices if d.kind == "video_camera"]
    items = []
    for rule, minimum in (("main_stream", r.main_stream_min), ("sub_stream", r.sub_stream_min)):
        main = rule == "main_stream"
        low = []
        for d in cameras:
            res = d.main_stream if main else d.sub_stream
            if res is None:
                continue  # not recorded: not scored (docs/assessments.md)
            if res[0] < minimum[0] or res[1] < minimum[1]:
                measured = d.main_measured if main else d.sub_measured
                ref = Ref("device", d.id, day=measured, detail=f"{res[0]}x{res[1]}")
                if not waivers.record(rule, ref):
                    low.append(ref)
        unknown = sum(1 for d in cameras if (d.main_stream if main else d.sub_stream) is None)
        value = None if len(cameras) == unknown else float(len(low))
        items.append(Item(rule, value, _neg(r.stream_points * len(low)), tuple(low)))
    return items


def consequence(score: float, failures_before: int, r: ProviderRules) -> str:
    """Under the line: an interview; the 3rd failing month of a year suspends the provider
    for six months, the 6th blacklists it."""
    if score >= r.interview_below - _EPS:
        return ""
    count = failures_before + 1
    if count >= r.blacklist_after:
        return "blacklisted"
    if count >= r.suspend_after:
        return "suspended"
    return "interview"


def score_provider(
    f: ProviderFacts,
    policy: AssessmentPolicy = DEFAULT_ASSESSMENT_POLICY,
    waivers: Waivers = NO_WAIVERS,
) -> Score:
    r = policy.provider
    items = [
        *_offline_items(f, r, waivers),
        _repair_item(f, r, waivers),
        *_stream_items(f, r, waivers),
    ]
    done = _finish(items, waivers)
    total = _total(done, policy)
    return Score(
        PROVIDER, f.provider_id, f.name, total, done, policy.version,
        consequence(total, f.failures_before, r),
    )  # fmt: skip


Scorer = Callable[[Any, AssessmentPolicy, Waivers], Score]
SCORERS: dict[str, Scorer] = {
    L2_UNIT: score_l2_unit,
    OFFICER_GROUP: score_officer_group,
    OFFICER: score_officer,
    INSPECTOR_GROUP: score_inspector_group,
    PROVIDER: score_provider,
}
