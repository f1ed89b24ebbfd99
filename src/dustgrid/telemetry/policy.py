"""Roll-up rule numbers as a named, versioned setting (valid-data rate, 有效数据率).

A roll-up window's valid-data rate is ``count_valid / expected``, where ``expected`` is what
a monitor reporting once a minute delivers in the window. A city that configures other
numbers (``DUSTGRID_TELEMETRY_EXPECTED_PER_PERIOD``) gets a ``+city`` version; every roll-up
row stores the ``expected`` it was computed with, so old rates stay explainable.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType
from typing import Final

from dustgrid.config import Settings

PERIOD_15M: Final = "15m"
PERIOD_1H: Final = "1h"
PERIOD_1D: Final = "1d"
PERIODS: Final = (PERIOD_15M, PERIOD_1H, PERIOD_1D)
#: Nominal length of each period (a local day can be 23 or 25 hours where DST exists).
PERIOD_LENGTH: Final[Mapping[str, timedelta]] = MappingProxyType(
    {PERIOD_15M: timedelta(minutes=15), PERIOD_1H: timedelta(hours=1), PERIOD_1D: timedelta(days=1)}
)
_PER_MINUTE_DEFAULT: Final = MappingProxyType({PERIOD_15M: 15, PERIOD_1H: 60, PERIOD_1D: 1440})


@dataclass(frozen=True, slots=True)
class RollupPolicy:
    """How raw readings become roll-ups.

    * ``expected_per_period``: readings owed per period (one a minute by default);
    * ``source_kinds``: reading kinds a window is built from - real-time (``rtd``, CN 2011)
      or minute averages (``avg``, CN 2051); per window and metric the kind with the most
      valid values is used (ties: this order), so a device sending both is not counted
      twice and one that only sends minute data still gets roll-ups;
    * ``energy_mean_metrics``: sound levels are averaged on energy (Leq = 10·lg mean
      10^(L/10), GB 3096/12523), not arithmetically;
    * ``max_valid_rate``: a device reporting more often than expected scores 100 %.
    """

    version: str = "2024.1"
    expected_per_period: Mapping[str, int] = field(default_factory=lambda: _PER_MINUTE_DEFAULT)
    source_kinds: tuple[str, ...] = ("rtd", "avg")
    energy_mean_metrics: frozenset[str] = frozenset({"noise"})
    max_valid_rate: float = 1.0

    def expected(self, period: str, length: timedelta) -> int:
        """Readings owed in a window of ``period`` that really lasts ``length``."""
        nominal = self.expected_per_period[period]
        if length == PERIOD_LENGTH[period]:
            return nominal
        return round(nominal * (length / PERIOD_LENGTH[period]))

    def valid_rate(self, count_valid: int, expected: int) -> float | None:
        if expected <= 0:
            return None
        return min(self.max_valid_rate, count_valid / expected)


DEFAULT_ROLLUP_POLICY: Final = RollupPolicy()


def policy_from_settings(settings: Settings) -> RollupPolicy:
    """The default policy, with the city's expected counts when it configured its own."""
    wanted = dict(settings.telemetry_expected_per_period)
    unknown = set(wanted) - set(PERIODS)
    if unknown:
        raise ValueError(f"telemetry_expected_per_period: unknown periods {sorted(unknown)}")
    merged = {**DEFAULT_ROLLUP_POLICY.expected_per_period, **wanted}
    if merged == dict(DEFAULT_ROLLUP_POLICY.expected_per_period):
        return DEFAULT_ROLLUP_POLICY
    return dataclasses.replace(
        DEFAULT_ROLLUP_POLICY,
        version=f"{DEFAULT_ROLLUP_POLICY.version}+city",
        expected_per_period=MappingProxyType(merged),
    )
