"""Incremental evaluator: raise, clear, gaps, late data, idempotency, episode hold."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dustgrid.alerts.engine.profiles import absolute_profile, get_profile, tune
from dustgrid.alerts.engine.rules import (
    AlertBook,
    AlertTransition,
    IncrementalEvaluator,
    alert_episodes,
    evaluate_windows,
)
from dustgrid.alerts.engine.windows import Reading

SH = ZoneInfo("Asia/Shanghai")
DAY0 = datetime(2024, 5, 1, tzinfo=SH)
RULE = absolute_profile("pm10", 60, 100.0)


def h(hour: float) -> datetime:
    return DAY0 + timedelta(hours=hour)


def rd(hour: float, value: float | None, flag: str = "N", src: str = "") -> Reading:
    return Reading(h(hour), "pm10", value, flag, src)


def states(ts: list[AlertTransition]) -> list[tuple[str, datetime]]:
    return [(t.state, t.at) for t in ts]


def test_raise_on_window_close_then_clear() -> None:
    ev = IncrementalEvaluator(RULE, "s1")
    assert ev.add_reading(rd(0.5, 200)) == []  # 00:00 window still open
    [raised] = ev.add_reading(rd(1.5, 200))  # data time 01:30 closes 00:00
    assert (raised.state, raised.at, raised.first_window) == ("active", h(1), h(0))
    assert (raised.site, raised.rule) == ("s1", RULE.id)
    assert ev.add_reading(rd(2.5, 50)) == []  # 01:00 exceeded: still the same alert
    assert states(ev.add_reading(rd(3.5, 50))) == [("cleared", h(3))]
    assert ev.open_alert is None


def test_reading_at_window_end_closes_the_window() -> None:
    ev = IncrementalEvaluator(RULE)
    ev.add_reading(rd(0.5, 200))
    assert states(ev.add_reading(rd(1, 50))) == [("active", h(1))]


def test_raise_after_and_clear_after_count_consecutive_windows_across_gaps() -> None:
    rule = tune(RULE, raise_after=3, clear_after=2)
    ev = IncrementalEvaluator(rule)
    out: list[AlertTransition] = []
    # 00, 01 exceed; 02-04 no data (gap); 05 exceeds -> third consecutive -> active
    for hour, value in [(0, 200), (1, 200), (5, 200), (6, 50), (9, 50)]:
        out += ev.add_reading(rd(hour + 0.5, value))
    out += ev.close_until(h(10))
    assert states(out) == [("active", h(6)), ("cleared", h(10))]
    assert out[0].first_window == h(0)


def test_gap_neither_raises_nor_clears() -> None:
    ev = IncrementalEvaluator(RULE)
    ev.add_reading(rd(0.5, 200))
    assert states(ev.close_until(h(1))) == [("active", h(1))]
    assert ev.close_until(h(12)) == []  # twelve empty hours: still open
    open_alert = ev.open_alert
    assert open_alert is not None and open_alert.first_window == h(0)
    invalid_only = ev.add_reading(rd(12.5, 50, flag="M"))
    assert invalid_only == [] and ev.close_until(h(13)) == []  # invalid data is a gap too
    assert states(ev.add_reading(rd(13.5, 50))) == []
    assert states(ev.close_until(h(14))) == [("cleared", h(14))]


def test_late_data_is_evaluated_at_its_data_time_and_idempotent() -> None:
    ev = IncrementalEvaluator(RULE)
    for hour in range(5):
        if hour != 2:
            assert ev.add_reading(rd(hour + 0.5, 50)) == []
    ev.close_until(h(5))
    late = ev.add_reading(rd(2.5, 300))  # the 02:00 window, closed long ago
    assert states(late) == [("active", h(3)), ("cleared", h(4))]
    assert ev.add_reading(rd(2.5, 300)) == []  # same reading again: nothing changes
    assert ev.add_window(ev.results[2]) == []  # re-feeding the window result too


def test_withdrawn_reading_retracts_the_alert() -> None:
    ev = IncrementalEvaluator(RULE)
    ev.add_reading(rd(0.5, 300))
    assert states(ev.close_until(h(1))) == [("active", h(1))]
    # the same frame re-sent with a fault flag withdraws the value: window becomes missing
    assert states(ev.add_reading(rd(0.5, 300, flag="F"))) == [("retracted", h(1))]
    assert ev.open_alert is None


def test_late_reference_makes_window_evaluable_and_heavy_episode_holds() -> None:
    ev = IncrementalEvaluator(get_profile("hebei-db13-2934-2019"), "s1")
    ev.add_reading(rd(0.5, 600))
    assert ev.close_until(h(1)) == []  # no reference yet: not evaluable
    [held] = ev.add_reference(rd(0.2, 400, src="ref-1"))  # IAQI 286 > 200
    assert held.state == "active" and held.held
    ev2 = IncrementalEvaluator(get_profile("hebei-db13-2934-2019"), "s1")
    ev2.add_reference(rd(0.2, 100, src="ref-1"))
    ev2.add_reading(rd(0.5, 600))
    [normal] = ev2.close_until(h(1))
    assert normal.state == "active" and not normal.held


def test_late_horizon_drops_too_old_data_but_keeps_state() -> None:
    ev = IncrementalEvaluator(RULE, late_horizon=timedelta(hours=3))
    ev.add_reading(rd(0.5, 200))
    assert states(ev.close_until(h(1))) == [("active", h(1))]
    ev.close_until(h(10))  # 00:00 window frozen; the alert is still open
    assert ev.add_reading(rd(0.7, 10)) == [] and ev.late_dropped == 1
    assert ev.open_alert is not None and ev.open_alert.first_window == h(0)
    assert states(ev.add_reading(rd(11.5, 10))) == []
    assert states(ev.close_until(h(12))) == [("cleared", h(12))]
    ev.close_until(h(30))
    assert ev.episodes == [] and ev.results == []  # everything frozen, memory bounded


def test_alert_book_keeps_one_evaluator_per_site_and_rule() -> None:
    book = AlertBook()
    a = book.evaluator("site-a", RULE)
    assert book.evaluator("site-a", RULE) is a
    b = book.evaluator("site-b", RULE)
    for ev in (a, b):
        ev.add_reading(rd(0.5, 200))
        ev.add_reading(rd(1.5, 200))
        ev.add_reading(rd(2.5, 200))
    assert sorted(e.site for e in book.open_alerts()) == ["site-a", "site-b"]
    assert len(a.episodes) == 1


def _replay(ts: list[AlertTransition]) -> dict[datetime, datetime | None]:
    state: dict[datetime, datetime | None] = {}
    for t in ts:
        if t.state == "active":
            state[t.first_window] = None
        elif t.state == "cleared":
            state[t.first_window] = t.at
        else:
            state.pop(t.first_window, None)
    return state


values = st.lists(st.one_of(st.none(), st.sampled_from([50.0, 150.0])), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(values, st.integers(1, 3), st.integers(1, 3), st.randoms(use_true_random=False))
def test_incremental_matches_batch_in_any_order(
    series: list[float | None], raise_after: int, clear_after: int, rnd: random.Random
) -> None:
    rule = tune(RULE, raise_after=raise_after, clear_after=clear_after)
    readings = [rd(i + 0.5, v) for i, v in enumerate(series) if v is not None]
    batch = alert_episodes(rule, evaluate_windows(rule, readings))
    expected = {e.first_window: e.cleared_at for e in batch}

    in_order = IncrementalEvaluator(rule, late_horizon=timedelta(hours=2))
    ts = [t for r in readings for t in in_order.add_reading(r)]
    ts += in_order.close_until(h(len(series)))
    assert _replay(ts) == expected  # pruning beyond the horizon loses nothing

    shuffled = list(readings)
    rnd.shuffle(shuffled)
    any_order = IncrementalEvaluator(rule, late_horizon=timedelta(days=7))
    ts = [t for r in shuffled for t in any_order.add_reading(r)]
    ts += any_order.close_until(h(len(series)))
    assert _replay(ts) == expected
    assert {e.first_window: e.cleared_at for e in any_order.episodes} == expected
