"""What a case is about: the unified checklist's control measures and the violations table.

A case's ``category`` is one of these keys (000 §1(五) control measures, 003 附件6
violations), plus a few kinds of problem that only machines or the public report.
Severity is a three-step scale; the keys are stable, the labels live in i18n.
"""

from __future__ import annotations

import enum
from types import MappingProxyType

# Control measures checked at every site (domain.md §2).
CONTROL_MEASURES = MappingProxyType(
    {
        "hoarding": ("围挡连续设置", "Continuous hoarding"),
        "road_hardening": ("车行道路硬化", "Hardened roads"),
        "tyre_washing": ("轮胎冲洗装置", "Tyre washing"),
        "bare_soil_cover": ("裸土严密覆盖", "Bare soil tightly covered"),
        "wet_earthwork": ("土方湿法作业", "Wet earthwork"),
        "material_cover": ("扬尘物料苫盖", "Dusty materials covered"),
        "video_monitoring": ("扬尘视频监测", "Dust video monitoring"),
    }
)

# Items of the violations table (003 附件6, domain.md §7).
VIOLATIONS = MappingProxyType(
    {
        "no_video": ("未安装视频监控", "No video surveillance"),
        "too_few_cameras": ("视频点位数量不足", "Too few cameras"),
        "video_not_connected": ("视频未接入平台", "Video not connected"),
        "video_unviewable": ("视频无法查看", "Video cannot be viewed"),
        "illegal_behaviour_on_video": ("视频发现违规行为", "Violation seen on video"),
        "no_dust_monitor": ("未安装扬尘监测设备", "No dust monitor"),
        "monitor_not_networked": ("监测设备未联网", "Monitor not networked"),
    }
)

# Defects an inspection finds: a failed checklist item (``inspections.checklist``) opens a
# case named after what is wrong, the seven measures first, then the seasonal items.
DEFECTS = MappingProxyType(
    {
        "hoarding_gap": ("围挡不连续", "Hoarding not continuous"),
        "road_not_hardened": ("道路未硬化", "Roads not hardened"),
        "vehicles_not_washed": ("未冲洗车辆/冲洗设施缺失", "Vehicles not washed / no washer"),
        "bare_soil_uncovered": ("裸土未覆盖", "Bare soil not covered"),
        "dry_earthwork": ("未湿法作业", "Earthwork not done wet"),
        "materials_uncovered": ("物料未苫盖", "Dusty materials not covered"),
        "video_monitoring_missing": ("视频监测缺失", "Dust video monitoring missing"),
        "air_action_not_applied": (
            "秋冬季大气污染防治措施未落实",
            "Autumn–winter air pollution measures not applied",
        ),
        "gate_duties_neglected": ("门前三包未落实", "Frontage duties (门前三包) neglected"),
        "gas_poisoning_risk": ("煤气中毒预防措施缺失", "No gas-poisoning precautions"),
        "fireworks_uncontrolled": ("烟花爆竹管控不到位", "Fireworks not controlled"),
        "flood_prevention_lacking": ("防汛措施不到位", "Flood precautions lacking"),
        "temporary_power_unsafe": ("临时用电不规范", "Temporary power unsafe"),
    }
)

# Problems reported by machines or the public that are not one checklist item.
OTHER = MappingProxyType(
    {
        "dust_exceedance": ("扬尘监测超标", "Dust reading over the limit"),
        "emergency_order_breached": ("违反重污染应急管控", "Emergency order breached"),
        "unpermitted_construction": ("疑似未批先建", "Suspected unpermitted works"),
        "dust_complaint": ("扬尘投诉", "Dust complaint"),
        "other": ("其他问题", "Other problem"),
    }
)

CATEGORIES = MappingProxyType({**CONTROL_MEASURES, **DEFECTS, **VIOLATIONS, **OTHER})


class Severity(enum.StrEnum):
    low = "low"  # 一般
    medium = "medium"  # 较重
    high = "high"  # 严重


SEVERITY_LABELS = MappingProxyType(
    {
        Severity.low: ("一般", "Low"),
        Severity.medium: ("较重", "Medium"),
        Severity.high: ("严重", "High"),
    }
)


def category_label(key: str, locale: str = "zh-CN") -> str:
    """The category's name in ``locale`` (the key itself when unknown)."""
    pair = CATEGORIES.get(key)
    if pair is None:
        return key
    return pair[1] if locale == "en" else pair[0]
