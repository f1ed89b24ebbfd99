"""Profiles carry the standards' numbers; limits resolve from site context."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dustgrid.alerts.engine.profiles import (
    BUILTIN_PROFILES,
    ContextError,
    EvalContext,
    get_profile,
    tune,
)

SH = ZoneInfo("Asia/Shanghai")
NOON = datetime(2024, 5, 1, 12, tzinfo=SH)


def test_builtin_ids_exactly() -> None:
    assert set(BUILTIN_PROFILES) == {
        "hebei-db13-2934-2019",
        "shanghai-db31-964-2016",
        "liaoning-db21-2642-2016",
        "shaanxi-db61-1078-2017",
        "noise-gb12523-2011",
    }


def test_standard_numbers() -> None:
    hebei = get_profile("hebei-db13-2934-2019")
    assert (hebei.metric, hebei.window_minutes, hebei.kind) == ("pm10", 60, "difference")
    assert (hebei.limit, hebei.reference_cap, hebei.day_max_exceedances) == (80.0, 150.0, 2)
    assert hebei.version.startswith("DB13/2934-2019")
    sh = get_profile("shanghai-db31-964-2016")
    assert (sh.metric, sh.window_minutes, sh.limit, sh.day_max_exceedances) == (
        "pm10",
        15,
        100.0,
        1,
    )
    ln = get_profile("liaoning-db21-2642-2016")
    assert (ln.metric, ln.window_minutes) == ("tsp", 5)
    assert ln.limit_table == {"built-up": 800.0, "other": 1000.0}
    sx = get_profile("shaanxi-db61-1078-2017")
    assert (sx.metric, sx.window_minutes) == ("tsp", 60)
    assert sx.limit_table == {
        "demolition": 800.0,
        "earthwork": 800.0,
        "foundation": 800.0,
        "structure": 700.0,
        "decoration": 700.0,
        "completed": None,
        "suspended": None,
    }


def test_area_and_stage_limits_need_context() -> None:
    ln = get_profile("liaoning-db21-2642-2016")
    assert ln.limit_for(EvalContext(area="built-up"), NOON) == 800.0
    assert ln.limit_for(EvalContext(area="other"), NOON) == 1000.0
    with pytest.raises(ContextError, match="area"):
        ln.check_context(EvalContext())
    with pytest.raises(ContextError, match="unknown"):
        ln.check_context(EvalContext(area="downtown"))
    sx = get_profile("shaanxi-db61-1078-2017")
    assert sx.limit_for(EvalContext(stage="foundation"), NOON) == 800.0
    assert sx.limit_for(EvalContext(stage="decoration"), NOON) == 700.0
    assert sx.limit_for(EvalContext(stage="suspended"), NOON) is None
    with pytest.raises(ContextError, match="stage"):
        sx.check_context(EvalContext())


@pytest.mark.parametrize(
    ("hour", "minute", "limit"),
    [(6, 59, 55.0), (7, 0, 70.0), (21, 59, 70.0), (22, 0, 55.0), (0, 0, 55.0)],
)
def test_noise_day_night_boundaries(hour: int, minute: int, limit: float) -> None:
    noise = get_profile("noise-gb12523-2011")
    start = datetime(2024, 5, 1, hour, minute, tzinfo=SH)
    assert noise.limit_for(EvalContext(), start) == limit


def test_tune_records_changes_and_rejects_unknown_fields() -> None:
    sh = tune(get_profile("shanghai-db31-964-2016"), limit=80.0)
    assert sh.limit == 80.0 and sh.tuned == ("limit",)
    assert sh.id == "shanghai-db31-964-2016"
    with pytest.raises(ValueError):
        tune(sh, id="other")
    with pytest.raises(ValueError):
        tune(sh, raise_after=0)


def test_absolute_spec_and_unknown_names() -> None:
    p = get_profile("absolute:pm10:60:150")
    assert (p.kind, p.metric, p.window_minutes, p.limit) == ("absolute", "pm10", 60, 150.0)
    assert get_profile("absolute:noise:60:65").aggregation == "leq"
    with pytest.raises(KeyError):
        get_profile("absolute:pm10:7:150")
    with pytest.raises(KeyError):
        get_profile("beijing")


def test_describe_is_json_ready() -> None:
    d = get_profile("hebei-db13-2934-2019").describe()
    assert d["id"] == "hebei-db13-2934-2019" and d["limit"] == 80.0
