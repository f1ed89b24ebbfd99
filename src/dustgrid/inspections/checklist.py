"""The unified inspection checklist (统一巡查清单) as a versioned template (pure).

Seven control measures are checked at every visit all year round (domain.md §2, seed 000
§1(五)); seasonal items are switched on by the visit's local date, by quarter (seed 001 §3
(2): 冬春季 Jan–Mar, 春夏季 Apr–Jun, 夏秋季 Jul–Sep, 秋冬季 Oct–Dec). A template's version
names the checklist version and the quarter (``2026.1-Q1``); every visit stores it, so an
old visit is read against the items it was answered on.

Each item names the case category its failure opens (``defect``; ``cases.categories``).
Labels live in i18n (``inspections.item.<code>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

ALL_YEAR: frozenset[int] = frozenset({1, 2, 3, 4})


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    code: str
    defect: str  # the case category a failed answer opens
    quarters: frozenset[int] = ALL_YEAR

    @property
    def seasonal(self) -> bool:
        return self.quarters != ALL_YEAR

    @property
    def label_key(self) -> str:
        return f"inspections.item.{self.code}"


@dataclass(frozen=True, slots=True)
class ChecklistTemplate:
    version: str  # "<checklist version>-Q<quarter>"
    quarter: int
    items: tuple[ChecklistItem, ...]

    def codes(self) -> tuple[str, ...]:
        return tuple(i.code for i in self.items)

    def item(self, code: str) -> ChecklistItem | None:
        return next((i for i in self.items if i.code == code), None)


# Checklist version 2026.1: the seven measures, then the seasonal focus of seed 001 §3(2).
_V2026_1: tuple[ChecklistItem, ...] = (
    ChecklistItem("hoarding", "hoarding_gap"),  # 围挡连续设置
    ChecklistItem("road_hardening", "road_not_hardened"),  # 车行道路硬化
    ChecklistItem("tyre_washing", "vehicles_not_washed"),  # 轮胎冲洗装置
    ChecklistItem("bare_soil_cover", "bare_soil_uncovered"),  # 裸土严密覆盖
    ChecklistItem("wet_earthwork", "dry_earthwork"),  # 土方湿法作业
    ChecklistItem("material_cover", "materials_uncovered"),  # 扬尘物料苫盖
    ChecklistItem("video_monitoring", "video_monitoring_missing"),  # 扬尘视频监测
    # 冬春季 and 秋冬季: the autumn–winter air pollution action and 门前三包, gas poisoning
    ChecklistItem("autumn_winter_air", "air_action_not_applied", frozenset({1, 4})),
    ChecklistItem("gate_three_duties", "gate_duties_neglected", frozenset({1, 4})),
    ChecklistItem("gas_poisoning", "gas_poisoning_risk", frozenset({1, 4})),
    # 冬春季 only: fireworks around the Spring Festival
    ChecklistItem("fireworks", "fireworks_uncontrolled", frozenset({1})),
    # 春夏季 and 夏秋季: flood season, temporary electricity
    ChecklistItem("flood_prevention", "flood_prevention_lacking", frozenset({2, 3})),
    ChecklistItem("temporary_power", "temporary_power_unsafe", frozenset({2, 3})),
)

CHECKLISTS: Mapping[str, tuple[ChecklistItem, ...]] = MappingProxyType({"2026.1": _V2026_1})
CURRENT_VERSION = "2026.1"


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def _build(version: str, quarter: int) -> ChecklistTemplate:
    items = tuple(i for i in CHECKLISTS[version] if quarter in i.quarters)
    return ChecklistTemplate(f"{version}-Q{quarter}", quarter, items)


def template_for(day: date, version: str = CURRENT_VERSION) -> ChecklistTemplate:
    """The template that applies on ``day`` (a local date) under checklist ``version``."""
    if version not in CHECKLISTS:
        raise KeyError(f"unknown checklist version {version!r}")
    return _build(version, quarter_of(day))


def template_by_version(version: str) -> ChecklistTemplate | None:
    """The template a visit was answered on, from its stored version (``2026.1-Q3``)."""
    base, sep, q = version.rpartition("-Q")
    if not sep or base not in CHECKLISTS or q not in {"1", "2", "3", "4"}:
        return None
    return _build(base, int(q))


def all_items() -> tuple[ChecklistItem, ...]:
    """Every item of every version, once each (the defect categories the cases know)."""
    seen: dict[str, ChecklistItem] = {}
    for items in CHECKLISTS.values():
        for i in items:
            seen.setdefault(i.code, i)
    return tuple(seen.values())
