"""The 12319 desk's matching (``intake.hotline_match``): hand-built pairs on both sides of
every threshold of ``IntakePolicy``, and site scores that tell the best match apart."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from dustgrid.intake.hotline_match import (
    ComplaintFacts,
    dice,
    duplicates,
    match_duplicate,
    matched_words,
    phone_digits,
    rank_sites,
    score_sites,
)
from dustgrid.intake.policy import DEFAULT_INTAKE_POLICY, IntakePolicy

P = DEFAULT_INTAKE_POLICY
T0 = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
RADIUS, NEAR_WINDOW = 200.0, timedelta(hours=48)


def call(**kw: object) -> ComplaintFacts:
    base: dict[str, object] = {
        "id": 1, "caller_phone": "13812345678", "place_text": "中山路住宅项目东门",
        "content": "晚上土方作业扬尘很大", "received_at": T0, "lat": None, "lon": None,
    }  # fmt: skip
    return ComplaintFacts(**{**base, **kw})  # type: ignore[arg-type]


def judge(a: ComplaintFacts, b: ComplaintFacts, policy: IntakePolicy = P) -> tuple[str, ...]:
    m = match_duplicate(a, b, policy=policy, radius_m=RADIUS, near_window=NEAR_WINDOW)
    return m.rules if m else ()


# --------------------------------------------------------------------------- text


def test_dice_is_one_for_the_same_text_and_zero_for_nothing_shared() -> None:
    assert dice("中山路住宅项目", "中山路 住宅项目。") == 1.0
    assert dice("中山路", "太原街") == 0.0
    assert dice("", "中山路") == 0.0
    assert 0.4 < dice("中山路住宅项目东门", "中山路住宅项目") < 1.0


def test_phone_digits_ignore_punctuation_and_the_country_prefix() -> None:
    assert phone_digits("+86 138-1234-5678") == "13812345678"
    assert phone_digits("(024) 2345 6789") == "02423456789"


def test_matched_words_are_the_runs_of_the_place_text() -> None:
    assert matched_words("中山路住宅项目东门", {"中山", "山路", "住宅", "宅项", "项目"}) == (
        "中山路",
        "住宅项目",
    )


# --------------------------------------------------------------------------- duplicates


def test_two_identical_text_only_calls_in_the_same_minute_are_duplicates() -> None:
    """The issue's case: no coordinates, same caller, same place, same minute."""
    a, b = call(id=1), call(id=2, received_at=T0 + timedelta(seconds=40))
    m = match_duplicate(a, b, policy=P, radius_m=RADIUS, near_window=NEAR_WINDOW)
    assert m is not None and m.rules == ("same_caller", "similar_place")
    assert m.gap == timedelta(seconds=40) and m.distance_m is None
    assert m.place_similarity == 1.0


def test_same_caller_window_edges() -> None:
    other_place = {"place_text": "太原街改造工程北侧", "content": "扬尘很大，晚上土方作业"}
    inside = call(id=2, received_at=T0 + P.duplicate_caller_window, **other_place)
    outside = call(id=3, received_at=T0 + P.duplicate_caller_window + timedelta(minutes=1),
                   **other_place)  # fmt: skip
    assert judge(call(), inside) == ("same_caller",)  # the description alike, place not
    assert judge(call(), outside) == ()


def test_same_caller_needs_some_likeness_of_place_or_description() -> None:
    policy = replace(P, duplicate_caller_text_min=0.3)
    unlike = call(id=2, place_text="五爱街写字楼", content="夜间施工噪音")
    assert dice(call().content, unlike.content) < 0.3
    assert judge(call(), unlike, policy) == ()
    # the same text at a threshold just above and just below the likeness it has
    alike = call(id=2, place_text="五爱街写字楼", content="晚上土方作业")
    share = dice(call().content, alike.content)
    assert judge(call(), alike, replace(P, duplicate_caller_text_min=share)) == ("same_caller",)
    assert judge(call(), alike, replace(P, duplicate_caller_text_min=share + 0.01)) == ()


def test_different_callers_with_a_similar_place_threshold() -> None:
    other = call(id=2, caller_phone="13900001111", content="灰尘很多")
    share = dice(call().place_text, other.place_text)
    assert share == 1.0
    near_place = call(id=2, caller_phone="13900001111", place_text="中山路住宅项目")
    s = dice(call().place_text, near_place.place_text)
    assert judge(call(), near_place, replace(P, duplicate_place_min=s)) == ("similar_place",)
    assert judge(call(), near_place, replace(P, duplicate_place_min=s + 0.01)) == ()


def test_similar_place_window_edges() -> None:
    other = {"caller_phone": "13900001111"}
    inside = call(id=2, received_at=T0 - P.duplicate_window, **other)
    outside = call(id=3, received_at=T0 - P.duplicate_window - timedelta(minutes=1), **other)
    assert judge(call(), inside) == ("similar_place",)
    assert judge(call(), outside) == ()


def test_unrelated_places_of_different_callers_are_not_duplicates() -> None:
    other = call(id=2, caller_phone="13900001111", place_text="沈河区五爱街写字楼")
    assert judge(call(), other) == ()


def test_the_coordinate_rule_is_kept_with_its_radius_and_window() -> None:
    here = {"lat": 41.791, "lon": 123.401, "place_text": "", "caller_phone": ""}
    a = call(**here)
    # ~190 m north and ~220 m north of the point
    in_radius = call(id=2, **{**here, "lat": 41.791 + 190 / 111_195})
    out_radius = call(id=3, **{**here, "lat": 41.791 + 220 / 111_195})
    assert judge(a, in_radius) == ("near",)
    assert judge(a, out_radius) == ()
    late = call(id=4, **{**here, "received_at": T0 + NEAR_WINDOW + timedelta(minutes=1)})
    assert judge(a, late) == ()


def test_the_same_site_counts_within_the_case_window() -> None:
    a = call(site_id=7, place_text="", caller_phone="")
    assert judge(a, call(id=2, site_id=7, place_text="", caller_phone="")) == ("same_site",)
    assert judge(a, call(id=3, site_id=8, place_text="", caller_phone="")) == ()


def test_duplicates_list_the_strongest_first_and_skip_itself() -> None:
    me = call(id=1)
    by_place = call(id=2, caller_phone="13900001111", received_at=T0 - timedelta(hours=1))
    by_both = call(id=3, received_at=T0 - timedelta(hours=5))
    found = duplicates(me, [me, by_place, by_both], policy=P, radius_m=RADIUS,
                       near_window=NEAR_WINDOW)  # fmt: skip
    assert [m.other_id for m in found] == [3, 2]


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        IntakePolicy(duplicate_place_min=1.5)
    with pytest.raises(ValueError):
        IntakePolicy(duplicate_window=timedelta(0))
    with pytest.raises(ValueError):
        IntakePolicy(suggestion_text_weight=0, suggestion_distance_weight=0,
                     suggestion_district_weight=0)  # fmt: skip


# --------------------------------------------------------------------------- sites


def site(i: int, name: str, address: str, lat: float, lon: float, district: int) -> object:
    return SimpleNamespace(id=i, project_code=f"S-{i}", name=name, address=address, lat=lat,
                           lon=lon, district_id=district)  # fmt: skip


SITES = [
    site(1, "和平区中山路住宅项目", "沈阳市和平区中山路118号", 41.791, 123.401, 1),
    site(2, "和平区中山路商业综合体", "沈阳市和平区中山路260号", 41.789, 123.398, 1),
    site(3, "和平区太原街改造工程", "沈阳市和平区太原街12号", 41.795, 123.405, 1),
    site(4, "沈河区北市场住宅项目", "沈阳市沈河区北市场街8号", 41.801, 123.461, 2),
    site(5, "沈河区五爱街写字楼", "沈阳市沈河区五爱街30号", 41.805, 123.455, 2),
    site(6, "和平区南京街学校", "沈阳市和平区南京街99号", 41.785, 123.395, 1),
]


def test_text_only_the_best_match_is_clearly_first_and_unrelated_sites_low() -> None:
    """The issue's case: five suggestions all at 71%. Common words (沈阳市, 和平区) weigh
    little, so the house number and the project's words decide."""
    scored = score_sites(SITES, place_text="沈阳市和平区中山路118号附近工地", lat=None,
                         lon=None, district_id=None, policy=P)  # fmt: skip
    by_id = {m.row.id: m for m in scored}
    assert scored[0].row.id == 1 and scored[0].matched == ("沈阳市和平区中山路118号",)
    assert scored[0].score - scored[1].score >= 0.2
    assert scored[1].row.id == 2  # the same road ranks next
    assert by_id[5].score < 0.1  # another district, another road
    assert len({m.score for m in scored}) >= 4  # scores discriminate


def test_distance_and_district_break_a_text_tie() -> None:
    scored = score_sites(SITES, place_text="中山路工地", lat=41.7912, lon=123.4012,
                         district_id=1, policy=P)  # fmt: skip
    assert [m.row.id for m in scored[:2]] == [1, 2]
    assert scored[0].distance_m is not None and scored[0].distance_m < 50
    assert scored[0].same_district is True
    assert next(m for m in scored if m.row.id == 4).same_district is False


def test_half_distance_gives_half_the_distance_part() -> None:
    only_distance = replace(P, suggestion_text_weight=0, suggestion_district_weight=0)
    one = [site(1, "甲", "乙", 41.0, 123.0, 1)]
    lat = 41.0 + P.suggestion_half_distance_m / 111_195
    m = score_sites(one, place_text="", lat=lat, lon=123.0, district_id=None,
                    policy=only_distance)[0]  # fmt: skip
    assert m.score == pytest.approx(0.5, abs=0.01)


def test_sites_below_the_minimum_score_are_not_proposed() -> None:
    found = rank_sites(SITES, place_text="北市场住宅", lat=None, lon=None, district_id=None,
                       policy=P)  # fmt: skip
    assert found[0].row.id == 4
    assert all(m.score >= P.suggestion_min_score for m in found)
    assert 5 not in {m.row.id for m in found}
    assert rank_sites(SITES, place_text="", lat=None, lon=None, district_id=1, policy=P) == []
    assert len(rank_sites(SITES, place_text="中山路", lat=None, lon=None, district_id=None,
                          policy=replace(P, suggestion_count=1))) == 1  # fmt: skip
