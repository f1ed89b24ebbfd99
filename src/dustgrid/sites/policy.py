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


DEFAULT_MONITOR_THRESHOLD_POLICY = MonitorThresholdPolicy()


@dataclass(frozen=True, slots=True)
class DistrictBoundaryPolicy:
    """A site's position must lie inside its district's drawn boundary (a point in Beijing
    is not a 浑南区 site). ``tolerance_m``: how far outside the line a site may still be
    accepted, because boundaries are digitised from coarse maps and a site on a border
    road may sit a few tens of metres on the other side of the drawn line. Districts with
    no drawn boundary are not checked."""

    version: str = "2026.12"
    tolerance_m: float = 100.0
    metres_below_m: float = 1000.0  # the error gives metres below this distance, else km

    def distance_text(self, metres: float, *, en: bool) -> str:
        if metres < self.metres_below_m:
            return f"{metres:.0f} m" if en else f"{metres:.0f} 米"
        km = metres / 1000.0
        return f"{km:.1f} km" if en else f"{km:.1f} 公里"


DEFAULT_DISTRICT_BOUNDARY_POLICY = DistrictBoundaryPolicy()
