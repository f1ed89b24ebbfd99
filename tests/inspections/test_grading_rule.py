"""The grading rule on its own: each grade, staleness, the reasons, and two properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from dustgrid.cases.categories import CONTROL_MEASURES
from dustgrid.cases.states import CaseState
from dustgrid.inspections.grading.rule import (
    DEFAULT_GRADING_POLICY,
    CaseFacts,
    InspectionFacts,
    ItemFacts,
    SiteGrade,
    grade_site,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
RANK = {SiteGrade.non_compliant: 0, SiteGrade.basic: 1, SiteGrade.full: 2}


def visit(*failed: str, days_ago: int = 3, mode: str = "on_site") -> InspectionFacts:
    items = tuple(
        ItemFacts(code, "failed" if code in failed else "passed") for code in CONTROL_MEASURES
    )
    return InspectionFacts(7, NOW - timedelta(days=days_ago), mode, items)


def case(state: str = "handling", category: str = "wet_earthwork", severity: str = "medium"):
    return CaseFacts(11, state, category, severity)


def keys(verdict) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.key.removeprefix("grading.reason.") for r in verdict.reasons]


def test_no_submitted_inspection_is_ungraded_whatever_the_cases() -> None:
    v = grade_site(None, [case(category="dust_exceedance")], now=NOW)
    assert v.grade == SiteGrade.ungraded
    assert keys(v) == ["no_inspection"]
    assert v.policy_version == DEFAULT_GRADING_POLICY.version


def test_all_passed_and_no_open_case_is_fully_compliant() -> None:
    v = grade_site(visit(), [], now=NOW)
    assert v.grade == SiteGrade.full
    assert keys(v) == ["latest_inspection", "all_passed"]
    assert v.inspection_id == 7 and not v.stale


def test_a_failed_key_item_is_non_compliant_and_names_the_item() -> None:
    v = grade_site(visit("tyre_washing", "material_cover"), [], now=NOW)
    assert v.grade == SiteGrade.non_compliant
    assert [r.as_json() for r in v.reasons[1:]] == [
        {"key": "grading.reason.item_failed", "params": {"item": "material_cover"}},
        {"key": "grading.reason.key_item_failed", "params": {"item": "tyre_washing"}},
    ]


def test_a_failed_minor_item_is_basically_compliant() -> None:
    v = grade_site(visit("wet_earthwork", mode="video"), [], now=NOW)
    assert v.grade == SiteGrade.basic
    assert v.reasons[0].params["mode"] == "video"
    assert keys(v) == ["latest_inspection", "item_failed"]


def test_an_open_case_in_rectification_makes_a_passed_site_basic() -> None:
    v = grade_site(visit(), [case(state=CaseState.rectifying.value)], now=NOW)
    assert v.grade == SiteGrade.basic
    assert keys(v) == ["latest_inspection", "case_rectifying"]
    assert v.reasons[1].params == {"case_id": 11, "category": "wet_earthwork"}


def test_any_other_open_case_also_keeps_the_site_from_full() -> None:
    assert grade_site(visit(), [case(state="reported")], now=NOW).grade == SiteGrade.basic


def test_serious_open_cases_make_a_passed_site_non_compliant() -> None:
    for serious in (
        case(category="dust_exceedance"),
        case(state=CaseState.penalizing.value),
        case(severity="high"),
    ):
        v = grade_site(visit(), [serious], now=NOW)
        assert v.grade == SiteGrade.non_compliant
        assert keys(v) == ["latest_inspection", "serious_case_open"]


def test_a_stale_inspection_says_so_and_cannot_make_a_site_fully_compliant() -> None:
    days = DEFAULT_GRADING_POLICY.stale_after.days
    v = grade_site(visit(days_ago=days + 1), [], now=NOW)
    assert v.stale and v.grade == SiteGrade.basic
    assert keys(v) == ["latest_inspection", "inspection_stale"]
    assert v.reasons[1].params == {"days": days}
    # stale never improves a grade, and a fresh one is not stale
    assert grade_site(visit("hoarding", days_ago=days + 1), [], now=NOW).grade == (
        SiteGrade.non_compliant
    )
    assert not grade_site(visit(days_ago=days - 1), [], now=NOW).stale


def test_not_applicable_items_count_as_nothing() -> None:
    items = (ItemFacts("hoarding", "not_applicable"), ItemFacts("tyre_washing", "passed"))
    v = grade_site(InspectionFacts(1, NOW, "on_site", items), [], now=NOW)
    assert v.grade == SiteGrade.full


outcomes = st.sampled_from(["passed", "failed", "not_applicable"])
codes = st.sampled_from(sorted(CONTROL_MEASURES) + ["no_video", "made_up_item"])
item_lists = st.dictionaries(codes, outcomes, max_size=10)
case_lists = st.lists(
    st.builds(
        CaseFacts,
        id=st.integers(1, 10_000),
        state=st.sampled_from([s.value for s in CaseState]),
        category=st.sampled_from(["dust_exceedance", "hoarding", "other", "no_video"]),
        severity=st.sampled_from(["low", "medium", "high"]),
    ),
    max_size=5,
)
ages = st.integers(min_value=0, max_value=90)


def _visit(items: dict[str, str], age: int) -> InspectionFacts:
    facts = tuple(ItemFacts(c, o) for c, o in items.items())
    return InspectionFacts(1, NOW - timedelta(days=age), "on_site", facts)


@given(items=item_lists, cases=case_lists, age=ages, inspected=st.booleans())
def test_the_rule_is_total(
    items: dict[str, str], cases: list[CaseFacts], age: int, inspected: bool
) -> None:
    v = grade_site(_visit(items, age) if inspected else None, cases, now=NOW)
    assert v.grade in SiteGrade
    assert v.reasons, "every grade says why"
    assert all(r.key.startswith("grading.reason.") for r in v.reasons)
    assert (v.grade == SiteGrade.ungraded) == (not inspected)


@given(
    items=item_lists,
    cases=case_lists,
    age=ages,
    key=st.sampled_from(sorted(DEFAULT_GRADING_POLICY.key_items)),
)
def test_a_failed_key_item_never_improves_the_grade(
    items: dict[str, str], cases: list[CaseFacts], age: int, key: str
) -> None:
    before = grade_site(_visit(items, age), cases, now=NOW)
    after = grade_site(_visit({**items, key: "failed"}, age), cases, now=NOW)
    assert RANK[after.grade] <= RANK[before.grade]
    assert after.grade == SiteGrade.non_compliant
