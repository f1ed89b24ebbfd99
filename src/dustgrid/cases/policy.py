"""Case-loop numbers as named, versioned settings (docs/domain.md §4–§5).

Every number a city may change lives here, in a frozen dataclass with a ``version``, so an
old light, reminder or penalty step can be explained by the policy it was computed under.
Numbers not taken from the rules are marked "platform default" in their ``basis``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from dustgrid.cases.states import Clock, Disposition
from dustgrid.identity.roles import Role
from dustgrid.workcal.calendar import WorkCalendar


class Level(enum.StrEnum):
    """Grid levels (domain.md §1); third-party inspectors and contractors have none."""

    L1 = "L1"  # 市建设局
    L2 = "L2"  # 区建设局 / 市安全监督站
    L3 = "L3"  # 区安全监督机构
    L4 = "L4"  # 执法监督网格员


ROLE_LEVEL: Mapping[Role, Level] = MappingProxyType({
    Role.city_admin: Level.L1,
    Role.district_admin: Level.L2,
    Role.station_staff: Level.L3,
    Role.officer: Level.L4,
})  # fmt: skip


class DurationUnit(enum.StrEnum):
    working_days = "working_days"  # time on non-working days does not count
    calendar_days = "calendar_days"
    hours = "hours"  # wall-clock hours, holidays included


@dataclass(frozen=True, slots=True)
class Duration:
    amount: int
    unit: DurationUnit

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("a duration must not be negative")

    @property
    def working_time(self) -> bool:
        """Whether lights for this duration measure working time (else wall-clock time)."""
        return self.unit is DurationUnit.working_days

    def due(self, start: datetime, calendar: WorkCalendar) -> datetime:
        """The deadline this duration sets from ``start`` (hours need no calendar)."""
        if self.unit is DurationUnit.working_days:
            return calendar.add_workdays(start, self.amount)
        if self.unit is DurationUnit.calendar_days:
            return calendar.add_calendar_days(start, self.amount)
        return start + timedelta(hours=self.amount)


def working_days(n: int) -> Duration:
    return Duration(n, DurationUnit.working_days)


def calendar_days(n: int) -> Duration:
    return Duration(n, DurationUnit.calendar_days)


def hours(n: int) -> Duration:
    return Duration(n, DurationUnit.hours)


@dataclass(frozen=True, slots=True)
class DeadlineRule:
    """A clock's length, optionally narrowed to a category, a disposition and a level.

    ``category`` is the caller's key for the kind of case: the default table uses case
    sources (``CaseSource`` values); a city may add problem types.
    """

    clock: Clock
    duration: Duration
    category: str | None = None
    disposition: Disposition | None = None
    level: Level | None = None
    basis: str = ""

    @property
    def specificity(self) -> tuple[bool, bool, bool]:
        """Category beats disposition beats level when several rules match."""
        return (self.category is not None, self.disposition is not None, self.level is not None)

    def matches(
        self, clock: Clock, category: str | None, disposition: str | None, level: str | None
    ) -> bool:
        return (
            self.clock == clock
            and self.category in (None, category)
            and self.disposition in (None, disposition)
            and self.level in (None, level)
        )


@dataclass(frozen=True, slots=True)
class DeadlinePolicy:
    """Deadlines per clock × category × disposition × level, most specific rule first."""

    version: str
    rules: tuple[DeadlineRule, ...]

    def __post_init__(self) -> None:
        keys = [(r.clock, r.category, r.disposition, r.level) for r in self.rules]
        if len(keys) != len(set(keys)):
            raise ValueError("two deadline rules for the same clock, category, disposition, level")

    def rule_for(
        self,
        clock: str,
        *,
        category: str | None = None,
        disposition: str | None = None,
        level: str | None = None,
    ) -> DeadlineRule:
        """The most specific matching rule; ``LookupError`` when not even a general one."""
        found = [r for r in self.rules if r.matches(Clock(clock), category, disposition, level)]
        if not found:
            raise LookupError(f"no deadline rule for clock {clock!r} in policy {self.version}")
        return max(found, key=lambda r: r.specificity)

    def lookup(
        self,
        clock: str,
        *,
        category: str | None = None,
        disposition: str | None = None,
        level: str | None = None,
    ) -> Duration:
        """The duration for a clock, falling back from specific to general rules."""
        return self.rule_for(
            clock, category=category, disposition=disposition, level=level
        ).duration


DEFAULT_DEADLINE_POLICY = DeadlinePolicy(
    version="2025.1",
    rules=(
        DeadlineRule(Clock.feedback, hours(24), basis="domain.md §4: City Brain pushes, 24 h"),
        DeadlineRule(Clock.dispatch, working_days(1), basis="platform default"),
        DeadlineRule(Clock.acknowledge, working_days(1),
                     basis="L2 names a responsible person within 1 working day (000 §4(三))"),
        DeadlineRule(Clock.handle, working_days(3), basis="platform default"),
        DeadlineRule(Clock.rectify, working_days(3), basis="default rectification deadline"),
        DeadlineRule(Clock.recheck, calendar_days(7), basis="domain.md §4: recheck within a week"),
        DeadlineRule(Clock.penalty, working_days(30), basis="platform default"),
        DeadlineRule(Clock.verify, working_days(2), basis="platform default"),
    ),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class LightPolicy:
    """Traffic-light thresholds on the elapsed fraction, and when to remind.

    Green below ``yellow_from``; yellow from it up to and including ``red_above``; red
    beyond (late). A reminder is due once ``remind_at`` of the time has gone.
    """

    version: str = "2025.1"
    yellow_from: float = 0.8
    red_above: float = 1.0
    remind_at: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.yellow_from <= self.red_above:
            raise ValueError("need 0 < yellow_from <= red_above")
        if self.remind_at <= 0:
            raise ValueError("remind_at must be positive")


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    """Who hears about an overdue case: L3/L4 → L2, L2 → L1 (000 §4(四), domain.md §1).

    ``reminder_digest_above``: more "due soon" reminders than this for one person in one
    sweep become one digest with the count (an ordinary run reminds of a case or two; the
    first run after an outage would otherwise fill each officer's inbox).
    """

    version: str = "2026.1"
    reminder_digest_above: int = 5
    chain: Mapping[Level, Level] = field(
        default_factory=lambda: MappingProxyType(
            {Level.L4: Level.L2, Level.L3: Level.L2, Level.L2: Level.L1}
        )
    )

    def target(self, level: str) -> Level | None:
        """The level above; None at the top (L1 has no one to escalate to)."""
        return self.chain.get(Level(level))


class LadderAction(enum.StrEnum):
    rectify = "rectify"  # 一次整改
    stop_work_and_penalty = "stop_work_and_penalty"  # 二次停工5天并实施处罚
    stop_work = "stop_work"  # 三次停工整顿一个月


@dataclass(frozen=True, slots=True)
class LadderStep:
    """The answer to the ``nth`` substantiated problem (and later ones, for the last step)."""

    nth: int
    action: LadderAction
    stop_work_days: int = 0
    stop_work_months: int = 0
    penalty: bool = False


@dataclass(frozen=True, slots=True)
class LadderPolicy:
    """Per-site penalty ladder (000 §5(四)1, domain.md §5); problems count inside a window.

    ``window_days``: a prior problem counts when it is at most this many days before the
    new one (Nantong's "two violations within a year", 002 §7).
    """

    version: str = "2025.1"
    window_days: int = 365
    steps: tuple[LadderStep, ...] = (
        LadderStep(1, LadderAction.rectify),
        LadderStep(2, LadderAction.stop_work_and_penalty, stop_work_days=5, penalty=True),
        LadderStep(3, LadderAction.stop_work, stop_work_months=1),
    )

    def __post_init__(self) -> None:
        if [s.nth for s in self.steps] != list(range(1, len(self.steps) + 1)):
            raise ValueError("ladder steps must be numbered 1, 2, 3, … in order")
        if self.window_days < 0:
            raise ValueError("window_days must not be negative")


@dataclass(frozen=True, slots=True)
class BlacklistPolicy:
    """An enterprise with ``threshold`` bad-behaviour records is blacklisted (000 §5(四)1)."""

    version: str = "2025.1"
    threshold: int = 3


@dataclass(frozen=True, slots=True)
class DedupPolicy:
    """When a new machine or hotline report is the same problem as an open case.

    Platform defaults, not from the rules: a video-AI event at the same site within
    ``video_ai_window``; a hotline complaint within ``hotline_radius_m`` and
    ``hotline_window`` of an earlier one.
    """

    version: str = "2025.1"
    video_ai_window: timedelta = timedelta(hours=6)
    hotline_radius_m: float = 200.0
    hotline_window: timedelta = timedelta(hours=48)


@dataclass(frozen=True, slots=True)
class CasePolicy:
    """Everything the case loop computes with, versioned as one bundle."""

    version: str = "2025.1"
    deadlines: DeadlinePolicy = DEFAULT_DEADLINE_POLICY
    lights: LightPolicy = LightPolicy()
    escalation: EscalationPolicy = EscalationPolicy()
    ladder: LadderPolicy = LadderPolicy()
    blacklist: BlacklistPolicy = BlacklistPolicy()
    dedup: DedupPolicy = DedupPolicy()


DEFAULT_CASE_POLICY = CasePolicy()
