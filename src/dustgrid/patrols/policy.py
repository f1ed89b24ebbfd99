"""The patrol duty numbers (domain.md §3; seed 000 §3(五),(七)) as a versioned policy.

Pure data, no database or web import: the planner and its property tests use it as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

WEEKLY = "weekly"  # 专职巡查网格员每周一次全覆盖
FORTNIGHTLY = "fortnightly"  # 执法监督网格员双周一次全覆盖

ENFORCEMENT = "enforcement"  # matches grids.models.GridKind
INSPECTOR = "inspector"


@dataclass(frozen=True, slots=True)
class DutyPolicy:
    """One kind of grid's duty: the period, the daily quota and how a group walks.

    ``per_day_max`` None means no upper bound ("at least 2 a day").
    ``together``: the group's members visit together (one route for the pair) when True;
    otherwise each member walks their own share of the sites, and the daily quota is each
    member's. Officers go in pairs (an enforcement act needs two officers); third-party
    inspectors each meet 10–12 a day, which is what lets a pair cover a 70–90-site grid in
    a week (seed 000 §3(一),(七)).
    """

    period: str
    period_days: int
    per_day_min: int
    per_day_max: int | None
    together: bool

    def __post_init__(self) -> None:
        if self.per_day_min < 1:
            raise ValueError(f"per_day_min must be >= 1, got {self.per_day_min}")
        if self.per_day_max is not None and self.per_day_max < self.per_day_min:
            raise ValueError("per_day_max must not be below per_day_min")
        if self.period_days not in (7, 14):
            raise ValueError(f"period_days must be 7 or 14, got {self.period_days}")


# Seasonal focus (001 §3(2)): quarter -> focus item codes (texts in i18n patrols.focus.*).
SEASONAL_FOCUS: dict[int, tuple[str, ...]] = {
    1: ("winter_air", "three_guarantees", "stop_resume", "after_holiday_restart"),
    2: ("flood", "temporary_power", "deep_pits", "safety_month"),
    3: ("flood", "temporary_power", "deep_pits", "mid_autumn"),
    4: ("winter_air", "three_guarantees", "gas_poisoning", "fire_month"),
}


@dataclass(frozen=True, slots=True)
class PatrolPolicy:
    """Everything the planner counts with; bump ``version`` when a number changes."""

    version: str = "2026.1"
    inspector: DutyPolicy = DutyPolicy(WEEKLY, 7, 10, 12, together=False)
    enforcement: DutyPolicy = DutyPolicy(FORTNIGHTLY, 14, 2, None, together=True)
    # Fortnights start on this Monday and every second Monday after it (ISO 2024-W01).
    fortnight_anchor: date = date(2024, 1, 1)
    # OR-Tools routing: the most time one day's route may take (the search usually stops
    # earlier, at its first local optimum).
    route_time_limit_ms: int = 200
    seasonal_focus: dict[int, tuple[str, ...]] = field(default_factory=lambda: SEASONAL_FOCUS)

    def duty(self, grid_kind: str) -> DutyPolicy:
        if grid_kind == INSPECTOR:
            return self.inspector
        if grid_kind == ENFORCEMENT:
            return self.enforcement
        raise ValueError(f"unknown grid kind {grid_kind!r}")

    def focus(self, day: date) -> tuple[str, ...]:
        """The season's focus items for the quarter holding ``day``."""
        return self.seasonal_focus.get((day.month - 1) // 3 + 1, ())


DEFAULT_PATROL_POLICY = PatrolPolicy()
