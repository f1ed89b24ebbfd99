"""The monthly assessment's rule numbers (domain.md §6–§7; seed 000 §5, seed 003 附件7).

Pure data, no database or web import. Every band edge and every line is a named field;
a change of any number is a new ``version`` (the stored scores name the version that
made them, so a month scored under an older rule set stays explainable).

Rates are fractions (0.95, not 95). "Per point below the line" means per percentage
point: a handling rate of 92 % against a 100 % line is 8 points below it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dustgrid.patrols.policy import DEFAULT_PATROL_POLICY


@dataclass(frozen=True, slots=True)
class RateLine:
    """A rate held against a line: below it costs ``per_point`` per percentage point
    (``fail_points`` at once when ``per_point`` is 0), never more than ``max_points``."""

    line: float
    per_point: float
    max_points: float
    fail_points: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.line <= 1.0:
            raise ValueError(f"a line is a fraction between 0 and 1, got {self.line}")
        if self.per_point < 0 or self.max_points < 0 or self.fail_points < 0:
            raise ValueError("points are not negative")


@dataclass(frozen=True, slots=True)
class PerEvent:
    """Each event costs ``points``, never more than ``max_points`` in a month."""

    points: float
    max_points: float


@dataclass(frozen=True, slots=True)
class L2UnitRules:
    """A district bureau or the city safety station, scored by L1 (000 §5)."""

    handling: RateLine = RateLine(line=1.0, per_point=0.5, max_points=10.0)  # 办理率
    closure: RateLine = RateLine(line=0.9, per_point=0.5, max_points=10.0)  # 办结率
    # the city's assigned cases: fewer than 95 % rectified fails the district (domain.md §6)
    city_rectified: RateLine = RateLine(line=0.95, per_point=0.0, max_points=20.0, fail_points=20.0)
    # at least 30 % of the unit's sites fully compliant (完全达标)
    excellent_line: float = 0.30
    excellent_fail_points: float = 10.0
    # at most 10 % non-compliant (不达标)
    non_compliant_line: float = 0.10
    non_compliant_fail_points: float = 10.0
    # a site the City Brain found that the unit's ledger did not hold
    ledger_miss: PerEvent = PerEvent(points=2.0, max_points=10.0)
    # problems the City Brain pushed, rectified by the month's end
    pushed_rectified: RateLine = RateLine(line=1.0, per_point=0.2, max_points=10.0)
    # closed cases whose file holds the result (a photo or document)
    archive: RateLine = RateLine(line=1.0, per_point=0.1, max_points=5.0)
    # connect-before-waste (003 附件6): a site above the threshold producing construction
    # waste whose video or dust monitor was not connected at the month's end
    gate_closed: PerEvent = PerEvent(points=2.0, max_points=10.0)


@dataclass(frozen=True, slots=True)
class OfficerGroupRules:
    """An enforcement officer group (L4), scored by its L2 unit (000 §5). The same shape
    holds each officer to account from their own visits and cases
    (``AssessmentPolicy.officer``), so the two can be set apart."""

    coverage: RateLine = RateLine(line=1.0, per_point=0.2, max_points=20.0)  # 点位覆盖率
    # a plan day with fewer visits than the daily quota (at least 2 a day)
    daily_quota: int = DEFAULT_PATROL_POLICY.enforcement.per_day_min
    short_day: PerEvent = PerEvent(points=1.0, max_points=20.0)
    # problems found: a small credit per case the group reported, capped (score ≤ base)
    found_credit: PerEvent = PerEvent(points=0.5, max_points=5.0)
    # a case the group held past its deadline
    late: PerEvent = PerEvent(points=2.0, max_points=20.0)
    # 信息漏报: found by a sensor, the hotline or the City Brain at a site the group had
    # visited and passed within this many days before
    missed_window_days: int = 14
    missed: PerEvent = PerEvent(points=5.0, max_points=30.0)


@dataclass(frozen=True, slots=True)
class InspectorGroupRules:
    """A third-party inspector group, scored by L1 (000 §3, §5)."""

    # each check week the group should see every site of its grid once
    weekly_coverage: RateLine = RateLine(line=1.0, per_point=0.1, max_points=5.0)
    # each member 10–12 sites a working day (fewer than the minimum is a short day)
    daily_min: int = DEFAULT_PATROL_POLICY.inspector.per_day_min
    daily_max: int = DEFAULT_PATROL_POLICY.inspector.per_day_max or 12
    short_day: PerEvent = PerEvent(points=1.0, max_points=20.0)
    # findings the handling side confirmed (not dismissed as no problem)
    confirmed: RateLine = RateLine(line=0.9, per_point=0.5, max_points=10.0)
    # a recheck (复查) later than this many days after the rectification deadline
    recheck_grace_days: int = 7
    late_recheck: PerEvent = PerEvent(points=2.0, max_points=10.0)


@dataclass(frozen=True, slots=True)
class Band:
    """``below`` (exclusive) → ``points``; the last band of a list has no upper edge."""

    below: float | None
    points: float


@dataclass(frozen=True, slots=True)
class ProviderRules:
    """A device service provider (003 附件7): from 100, checked weekly."""

    # weekly offline rate: < 10 % passes, 10–20 % −10, 20–30 % −20, ≥ 30 % −40
    offline_bands: tuple[Band, ...] = (
        Band(0.10, 0.0),
        Band(0.20, 10.0),
        Band(0.30, 20.0),
        Band(None, 40.0),
    )
    # repair after notice, whole days (started days count): 1–3 pass, 4–7 −10,
    # 8–14 −20, more than 14 −40; per point (device)
    repair_bands: tuple[Band, ...] = (
        Band(4, 0.0),
        Band(8, 10.0),
        Band(15, 20.0),
        Band(None, 40.0),
    )
    main_stream_min: tuple[int, int] = (1920, 1080)
    sub_stream_min: tuple[int, int] = (704, 576)
    stream_points: float = 10.0  # per camera and stream
    # below this score in a month: an interview (约谈); the counts are within a year
    interview_below: float = 60.0
    suspend_after: int = 3  # failing months in a calendar year → suspended
    suspend_months: int = 6
    blacklist_after: int = 6


@dataclass(frozen=True, slots=True)
class AssessmentPolicy:
    """Every rule set of the monthly assessment; bump ``version`` when a number changes."""

    # 2026.2: each officer scored on their own; the connect-before-waste gate in the L2 score
    version: str = "2026.2"
    base: float = 100.0  # everyone starts here
    floor: float = 0.0  # and never goes below
    l2_unit: L2UnitRules = field(default_factory=L2UnitRules)
    officer_group: OfficerGroupRules = field(default_factory=OfficerGroupRules)
    officer: OfficerGroupRules = field(default_factory=OfficerGroupRules)
    inspector_group: InspectorGroupRules = field(default_factory=InspectorGroupRules)
    provider: ProviderRules = field(default_factory=ProviderRules)


DEFAULT_ASSESSMENT_POLICY = AssessmentPolicy()
