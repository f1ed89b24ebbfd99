"""The unified checklist template: seven measures all year, seasonal items by quarter."""

from __future__ import annotations

from datetime import date

import pytest

from dustgrid.cases.categories import CATEGORIES, DEFECTS
from dustgrid.i18n import catalogue
from dustgrid.inspections.checklist import (
    CHECKLISTS,
    CURRENT_VERSION,
    all_items,
    quarter_of,
    template_by_version,
    template_for,
)

WINTER = {"autumn_winter_air", "gate_three_duties", "gas_poisoning"}
MEASURES = (
    "hoarding",
    "road_hardening",
    "tyre_washing",
    "bare_soil_cover",
    "wet_earthwork",
    "material_cover",
    "video_monitoring",
)


@pytest.mark.parametrize(
    ("day", "quarter", "seasonal"),
    [
        (date(2026, 1, 1), 1, WINTER | {"fireworks"}),
        (date(2026, 3, 31), 1, WINTER | {"fireworks"}),
        (date(2026, 4, 1), 2, {"flood_prevention", "temporary_power"}),
        (date(2026, 8, 15), 3, {"flood_prevention", "temporary_power"}),
        (date(2026, 10, 1), 4, WINTER),
        (date(2026, 12, 31), 4, WINTER),
    ],
)
def test_seasonal_items_switch_on_by_quarter(day: date, quarter: int, seasonal: set[str]) -> None:
    t = template_for(day)
    assert t.quarter == quarter == quarter_of(day)
    assert t.version == f"{CURRENT_VERSION}-Q{quarter}"
    assert t.codes()[:7] == MEASURES  # the seven measures first, every quarter
    assert {i.code for i in t.items if i.seasonal} == seasonal
    assert set(t.codes()) == set(MEASURES) | seasonal


def test_a_stored_version_gives_back_the_same_template() -> None:
    for month in (2, 5, 8, 11):
        t = template_for(date(2026, month, 10))
        assert template_by_version(t.version) == t
    assert template_by_version("1999.9-Q1") is None
    assert template_by_version("2026.1-Q5") is None
    assert template_by_version("2026.1") is None
    with pytest.raises(KeyError):
        template_for(date(2026, 1, 1), version="1999.9")


def test_every_item_names_a_case_category_and_has_labels() -> None:
    zh, en = catalogue("zh-CN"), catalogue("en")
    for item in all_items():
        assert item.defect in DEFECTS and item.defect in CATEGORIES
        assert zh[item.label_key] and en[item.label_key]
        assert zh[item.label_key] != en[item.label_key]
    assert zh["inspections.item.road_hardening"] == "车行道路硬化"
    assert DEFECTS["road_not_hardened"][0] == "道路未硬化"
    assert len({i.code for i in CHECKLISTS[CURRENT_VERSION]}) == len(CHECKLISTS[CURRENT_VERSION])
