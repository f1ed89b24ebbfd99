"""Rule numbers the ledger applies, as a named, versioned setting (docs/domain.md §7)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class MonitorThresholdPolicy:
    """Sites at or above either threshold must install video and dust monitors (003)."""

    version: str = "2024.1"
    investment_yuan: Decimal = Decimal("1000000")
    area_m2: float = 500.0

    def monitors_required(self, *, investment_yuan: Decimal | float, area_m2: float) -> bool:
        return Decimal(str(investment_yuan)) >= self.investment_yuan or area_m2 >= self.area_m2


MONITOR_THRESHOLDS = MonitorThresholdPolicy()
