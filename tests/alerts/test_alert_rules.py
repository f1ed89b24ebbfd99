"""Each rule family on constructed series, with the exact expected windows and days."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from dustgrid.alerts.engine.profiles import EvalContext, absolute_profile, get_profile, tune
from dustgrid.alerts.engine.rules import alert_episodes, day_verdicts, evaluate_windows
from dustgrid.alerts.engine.windows import Reading

SH = ZoneInfo("Asia/Shanghai")
HEBEI = get_profile("hebei-db13-2934-2019")
SHANGHAI = get_profile("shanghai-db31-964-2016")
LIAONING = get_profile("liaoning-db21-2642-2016")
SHAANXI = get_profile("shaanxi-db61-1078-2017")
NOISE = get_profile("noise-gb12523-2011")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def rd(
    text: str, value: float | None, metric: str = "pm10", flag: str = "N", src: str = ""
) -> Reading:
    return Reading(at(text), metric, value, flag, src)


def hourly(day: str, values: dict[int, float], metric: str = "pm10") -> list[Reading]:
    return [rd(f"{day}T{h:02d}:30:00", v, metric) for h, v in values.items()]


# --- Hebei: difference to the reference, capped --------------------------------------


def test_hebei_difference_with_cap_and_missing_reference() -> None:
    site = [
        rd("2024-05-01T08:00:00", 200),
        rd("2024-05-01T08:59:59", 220),  # 08:00 window: 210
        rd("2024-05-01T09:00:00", 400),  # exactly 09:00 belongs to the 09:00 window
        rd("2024-05-01T09:30:00", 300),  # 09:00 window: 350
        rd("2024-05-01T09:40:00", 999, flag="F"),  # invalid, ignored
        rd("2024-05-01T10:30:00", 300),  # no reference this hour: not evaluable
        rd("2024-05-01T11:30:00", None),  # missing value: window missing
    ]
    ref = [
        rd("2024-05-01T08:10:00", 100, src="a"),
        rd("2024-05-01T08:10:00", 120, src="b"),  # two stations: mean 110
        rd("2024-05-01T09:10:00", 200, src="a"),
        rd("2024-05-01T09:10:00", 240, src="b"),  # mean 220, capped at 150
        rd("2024-05-01T10:10:00", 500, flag="M", src="a"),  # invalid reference
    ]
    results = evaluate_windows(HEBEI, site, ref)
    assert [(r.start, r.value, r.reference, r.reference_used, r.excess) for r in results] == [
        (at("2024-05-01T08:00:00"), 210.0, 110.0, 110.0, 20.0),
        (at("2024-05-01T09:00:00"), 350.0, 220.0, 150.0, 120.0),
    ]
    assert all(r.exceeded and not r.held for r in results)
    assert results[0].end == at("2024-05-01T09:00:00")


def test_hebei_needs_a_reference_series() -> None:
    with pytest.raises(ValueError, match="reference"):
        evaluate_windows(HEBEI, hourly("2024-05-01", {8: 100}))


def test_hebei_exactly_at_limit_is_not_exceeding() -> None:
    [r] = evaluate_windows(HEBEI, hourly("2024-05-01", {8: 180}), hourly("2024-05-01", {8: 100}))
    assert r.excess == 0.0 and not r.exceeded


@pytest.mark.parametrize(("exceeding_hours", "verdict"), [(0, "pass"), (2, "pass"), (3, "fail")])
def test_hebei_day_rule(exceeding_hours: int, verdict: str) -> None:
    site = hourly("2024-05-01", {h: (300 if h < exceeding_hours else 100) for h in range(24)})
    ref = hourly("2024-05-01", dict.fromkeys(range(24), 100))
    results = evaluate_windows(HEBEI, site, ref)
    [day] = day_verdicts(HEBEI, results, SH)
    assert (day.date, day.exceedances, day.windows, day.verdict) == (
        date(2024, 5, 1),
        exceeding_hours,
        24,
        verdict,
    )


def test_hebei_regional_episode_holds_rather_than_drops() -> None:
    # Reference PM10 400 -> IAQI 286 (重度污染): exceedance kept but held.
    site = hourly("2024-05-01", {8: 600, 9: 600})
    ref = hourly("2024-05-01", {8: 400, 9: 300})
    held, normal = evaluate_windows(HEBEI, site, ref)
    assert held.exceeded and held.held and held.excess == 600 - 150 - 80
    assert normal.exceeded and not normal.held  # 300 -> IAQI 175, not heavy
    forced = evaluate_windows(HEBEI, site, ref, EvalContext(regional_aqi=250))
    assert all(r.held for r in forced)


# --- Shanghai: 15-minute averages, day fails with more than one ------------------------


def test_shanghai_windows_and_day_rule() -> None:
    site = [
        rd("2024-05-01T10:00:00", 120),
        rd("2024-05-01T10:14:59", 110),  # 10:00 window: 115 -> exceeds by 15
        rd("2024-05-01T10:15:00", 100),  # 10:15 window: exactly the limit, not exceeding
        rd("2024-05-01T10:30:00", 90),
        rd("2024-05-02T10:00:00", 101),
        rd("2024-05-02T10:45:00", 150),
    ]
    results = evaluate_windows(SHANGHAI, site)
    assert [(r.start, r.excess, r.exceeded) for r in results] == [
        (at("2024-05-01T10:00:00"), 15.0, True),
        (at("2024-05-01T10:15:00"), 0.0, False),
        (at("2024-05-01T10:30:00"), -10.0, False),
        (at("2024-05-02T10:00:00"), 1.0, True),
        (at("2024-05-02T10:45:00"), 50.0, True),
    ]
    assert results[0].end == at("2024-05-01T10:15:00")
    days = day_verdicts(SHANGHAI, results, SH)
    assert [(d.exceedances, d.verdict) for d in days] == [(1, "pass"), (2, "fail")]
    tuned = evaluate_windows(tune(SHANGHAI, limit=80.0), site)
    assert sum(r.exceeded for r in tuned) == 5


# --- Liaoning: TSP 5-minute, area class ------------------------------------------------


def test_liaoning_area_limits() -> None:
    site = [
        rd("2024-05-01T10:00:00", 850, "tsp"),
        rd("2024-05-01T10:04:00", 850, "tsp"),
        rd("2024-05-01T10:05:00", 1100, "tsp"),
        rd("2024-05-01T10:10:00", 700, "tsp"),
    ]
    built = evaluate_windows(LIAONING, site, context=EvalContext(area="built-up"))
    other = evaluate_windows(LIAONING, site, context=EvalContext(area="other"))
    assert [(r.start.minute, r.limit, r.excess) for r in built if r.exceeded] == [
        (0, 800.0, 50.0),
        (5, 800.0, 300.0),
    ]
    assert [(r.start.minute, r.limit, r.excess) for r in other if r.exceeded] == [
        (5, 1000.0, 100.0)
    ]
    # no day rule in the standard: any exceeding window fails the day
    assert day_verdicts(LIAONING, other, SH)[0].verdict == "fail"


# --- Shaanxi: TSP hourly, stage ---------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "exceeded"),
    [
        ("earthwork", False),
        ("foundation", False),
        ("demolition", False),
        ("structure", True),
        ("decoration", True),
    ],
)
def test_shaanxi_stage_limits(stage: str, exceeded: bool) -> None:
    [r] = evaluate_windows(
        SHAANXI, hourly("2024-05-01", {9: 750}, "tsp"), context=EvalContext(stage=stage)
    )
    assert r.exceeded is exceeded


@pytest.mark.parametrize("stage", ["completed", "suspended"])
def test_shaanxi_no_limit_means_no_evaluation(stage: str) -> None:
    site = hourly("2024-05-01", {9: 5000}, "tsp")
    results = evaluate_windows(SHAANXI, site, context=EvalContext(stage=stage))
    assert results == [] and day_verdicts(SHAANXI, results, SH) == []


# --- generic absolute and noise ---------------------------------------------------------


def test_absolute_pm10_hourly() -> None:
    rule = absolute_profile("pm10", 60, 150.0)
    site = hourly("2024-05-01", {0: 151, 1: 150, 2: 149}) + [rd("2024-05-01T03:00:00", 400, "pm25")]
    results = evaluate_windows(rule, site)
    assert [(r.start.hour, r.exceeded) for r in results] == [(0, True), (1, False), (2, False)]


def test_noise_leq_day_and_night() -> None:
    site = [
        rd("2024-05-01T21:00:00", 72, "noise"),
        rd("2024-05-01T21:30:00", 60, "noise"),  # Leq 69.26 < 70 (day)
        rd("2024-05-01T22:00:00", 56, "noise"),
        rd("2024-05-01T22:30:00", 50, "noise"),  # Leq 53.96 < 55 (night)
        rd("2024-05-01T06:10:00", 60, "noise"),  # night at 06:00: 60 > 55
        rd("2024-05-01T07:10:00", 60, "noise"),  # day at 07:00: 60 < 70
    ]
    results = {r.start.hour: r for r in evaluate_windows(NOISE, site)}
    assert results[21].value == pytest.approx(69.2554, abs=1e-3) and not results[21].exceeded
    assert results[22].value == pytest.approx(53.9629, abs=1e-3) and not results[22].exceeded
    assert results[6].exceeded and results[6].limit == 55.0
    assert not results[7].exceeded and results[7].limit == 70.0


def test_min_valid_count_makes_thin_windows_missing() -> None:
    rule = tune(SHANGHAI, min_valid_count=3)
    site = [rd(f"2024-05-01T10:0{m}:00", 300) for m in (0, 1)] + [
        rd(f"2024-05-01T10:1{m}:00", 300) for m in (5, 6, 7)
    ]
    assert [r.start.minute for r in evaluate_windows(rule, site)] == [15]


def test_day_is_the_local_day() -> None:
    # 23:30 local on 1 May is 15:30 UTC; it must count for 1 May, and 00:00 for 2 May.
    site = [rd("2024-05-01T23:50:00", 200), rd("2024-05-02T00:00:00", 200)]
    days = day_verdicts(SHANGHAI, evaluate_windows(SHANGHAI, site), SH)
    assert [(d.date.day, d.exceedances) for d in days] == [(1, 1), (2, 1)]


def test_batch_alert_episodes_raise_after_and_gap() -> None:
    rule = tune(absolute_profile("pm10", 60, 100.0), raise_after=2, clear_after=2)
    site = hourly("2024-05-01", {0: 200, 2: 200, 3: 50, 4: 200, 5: 50, 6: 50})
    [ep] = alert_episodes(rule, evaluate_windows(rule, site), site="s1")
    # 01:00 is a gap: 00:00 and 02:00 are consecutive evaluated windows -> raised at 03:00
    assert (ep.first_window, ep.raised_at, ep.cleared_at) == (
        at("2024-05-01T00:00:00"),
        at("2024-05-01T03:00:00"),
        at("2024-05-01T07:00:00"),
    )
    assert ep.peak_excess == 100.0 and ep.site == "s1"
