"""The emergency rule (domain.md §9): what each warning level orders every site to do.

Pure data. Levels are cumulative: an orange order carries the yellow measures too, a red
order the orange ones. The measure keys are stable; their text lives in i18n
(``emergencies.measure.<key>``). The seeds (001 §3, 002 §12) say only that sites carry out
the measures of the plan for the declared level; the defaults below follow the usual
heavy-pollution plans (黄色: strengthen, 橙色: stop earthwork and demolition, 红色: stop every
dusty outdoor work) and a city changes them here, under a new ``version``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class Level(enum.StrEnum):
    yellow = "yellow"  # 黄色预警 (III)
    orange = "orange"  # 橙色预警 (II)
    red = "red"  # 红色预警 (I)


LEVEL_RANK: Mapping[Level, int] = MappingProxyType({Level.yellow: 1, Level.orange: 2, Level.red: 3})


class AreaKind(enum.StrEnum):
    city = "city"  # 全市
    districts = "districts"  # 指定区
    polygon = "polygon"  # 地图圈定范围


def _measures() -> Mapping[Level, tuple[str, ...]]:
    return MappingProxyType(
        {
            Level.yellow: (
                "wet_and_cover",  # 加强洒水降尘，裸土、物料严密覆盖
                "road_cleaning",  # 增加出入口及周边道路清扫、冲洗频次
            ),
            Level.orange: (
                "stop_earthwork",  # 停止土石方作业
                "stop_demolition",  # 停止拆除作业
                "stop_concrete_breaking",  # 停止混凝土破碎作业
                "muck_trucks_off_road",  # 渣土运输车辆停止上路
            ),
            Level.red: ("stop_dusty_outdoor_works",),  # 停止一切产生扬尘的室外作业
        }
    )


@dataclass(frozen=True)
class EmergencyPolicy:
    """Measures per level and how alerts treat a site under order."""

    version: str = "1"
    #: what each level adds to the level below it.
    measures: Mapping[Level, tuple[str, ...]] = field(default_factory=_measures)
    #: from this level on, exceedances at a site under order open cases (the regional
    #: episode hold does not silence them) in the category ``breach_category``.
    breach_from: Level = Level.yellow
    breach_category: str = "emergency_order_breached"

    def measures_for(self, level: Level) -> list[str]:
        """Every measure a site under a ``level`` order must carry out (cumulative)."""
        rank = LEVEL_RANK[level]
        return [m for lv, ms in self.measures.items() if LEVEL_RANK[lv] <= rank for m in ms]

    def checks_breaches(self, level: Level) -> bool:
        return LEVEL_RANK[level] >= LEVEL_RANK[self.breach_from]


DEFAULT_EMERGENCY_POLICY = EmergencyPolicy()
