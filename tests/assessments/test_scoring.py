"""The pure scoring on constructed months: every rule and every band edge, by hand.

Default rule set (docs/assessments.md): base 100, floor 0.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from dustgrid.assessments.months import Month
from dustgrid.assessments.policy import DEFAULT_ASSESSMENT_POLICY as P
from dustgrid.assessments.policy import PerEvent
from dustgrid.assessments.scoring import (
    GroupFacts,
    HeldCase,
    L2UnitFacts,
    OfficerFacts,
    OfflineSpan,
    OutsideFinding,
    PlanDay,
    ProviderDevice,
    ProviderFacts,
    Ref,
    UnitCase,
    Visit,
    Waivers,
    band_points,
    consequence,
    repair_days,
    score_inspector_group,
    score_l2_unit,
    score_officer,
    score_officer_group,
    score_provider,
)
from dustgrid.errors import Invalid

NOV = Month(2026, 11)
END = datetime(2026, 12, 1, tzinfo=UTC)


def _items(score):  # rule -> item (first of a rule)
    out = {}
    for i in score.items:
        out.setdefault(i.rule, i)
    return out


# ---------------------------------------------------------------------------- months


def test_month_parse_and_check_weeks() -> None:
    assert str(Month.parse("2026-11")) == "2026-11"
    with pytest.raises(Invalid):
        Month.parse("2026-13")
    with pytest.raises(Invalid):
        Month.parse("11/2026")
    # November 2026: Thursdays 5, 12, 19, 26 → four checks, the first from Mon 2 Nov
    weeks = NOV.check_weeks()
    assert weeks[0] == (date(2026, 11, 2), date(2026, 11, 8))
    assert len(weeks) == 4
    # October 2026 starts on a Thursday: its first check week starts on Mon 28 Sep
    assert Month(2026, 10).check_weeks()[0][0] == date(2026, 9, 28)
    assert len(Month(2026, 10).check_weeks()) == 5
    assert Month(2026, 12).previous == NOV and NOV.next == Month(2026, 12)
    assert Month(2026, 1).previous == Month(2025, 12)


# ---------------------------------------------------------------------------- L2 units


def _case(i: int, **kw: bool) -> UnitCase:
    base = {"handled": True, "closed": True, "city_assigned": False, "pushed": False,
            "archived": True}  # fmt: skip
    base.update(kw)
    return UnitCase(i, **base)


def test_l2_unit_perfect_month_is_100() -> None:
    facts = L2UnitFacts(1, "和平区建设局", [_case(1), _case(2)], [(1, "full"), (2, "basic")])
    s = score_l2_unit(facts)
    assert s.score == 100.0
    assert all(i.points == 0 for i in s.items)


def test_l2_unit_handling_and_closure_rates() -> None:
    # 20 cases: 18 handled (90 %: 10 pp below the 100 % line × 0.5 = −5),
    # 16 closed (80 %: 10 pp below the 90 % line × 0.5 = −5)
    cases = [_case(i, handled=i <= 18, closed=i <= 16) for i in range(1, 21)]
    s = score_l2_unit(L2UnitFacts(1, "u", cases))
    it = _items(s)
    assert it["handling_rate"].value == 0.9 and it["handling_rate"].points == -5.0
    assert [r.id for r in it["handling_rate"].evidence] == [19, 20]
    assert it["closure_rate"].value == 0.8 and it["closure_rate"].points == -5.0
    assert [r.id for r in it["closure_rate"].evidence] == [17, 18, 19, 20]
    # archive: only closed cases count (16, all archived) → 0
    assert it["archive_complete"].points == 0
    assert s.score == 90.0


def test_l2_unit_closure_at_the_line_costs_nothing_and_caps() -> None:
    cases = [_case(i, closed=i <= 9) for i in range(1, 11)]  # 90 % exactly
    assert _items(score_l2_unit(L2UnitFacts(1, "u", cases)))["closure_rate"].points == 0
    cases = [_case(i, handled=False, closed=False) for i in range(1, 11)]  # 0 %
    it = _items(score_l2_unit(L2UnitFacts(1, "u", cases)))
    assert it["handling_rate"].points == -10.0  # 100 pp × 0.5 = 50, capped at 10
    assert it["closure_rate"].points == -10.0


def test_l2_unit_city_assigned_95_line() -> None:
    # 20 city-assigned cases: 19 rectified = 95 % passes; 18 = 90 % fails (−20)
    at_line = [_case(i, city_assigned=True, closed=i <= 19) for i in range(1, 21)]
    it = _items(score_l2_unit(L2UnitFacts(1, "u", at_line)))
    assert it["city_rectified"].value == 0.95 and it["city_rectified"].points == 0
    below = [_case(i, city_assigned=True, closed=i <= 18) for i in range(1, 21)]
    it = _items(score_l2_unit(L2UnitFacts(1, "u", below)))
    assert it["city_rectified"].points == -20.0
    assert [r.id for r in it["city_rectified"].evidence] == [19, 20]


def test_l2_unit_excellent_30_and_non_compliant_10_lines() -> None:
    # 10 sites: 3 full (30 % passes), 1 non-compliant (10 % passes)
    grades = [(i, "full" if i <= 3 else "non_compliant" if i == 4 else "basic")
              for i in range(1, 11)]  # fmt: skip
    it = _items(score_l2_unit(L2UnitFacts(1, "u", grades=grades)))
    assert it["excellent_share"].value == 0.3 and it["excellent_share"].points == 0
    assert it["non_compliant_share"].value == 0.1 and it["non_compliant_share"].points == 0
    # 2 full (20 % < 30 % → −10), 2 non-compliant (20 % > 10 % → −10)
    grades = [(i, "full" if i <= 2 else "non_compliant" if i <= 4 else "basic")
              for i in range(1, 11)]  # fmt: skip
    s = score_l2_unit(L2UnitFacts(1, "u", grades=grades))
    it = _items(s)
    assert it["excellent_share"].points == -10.0
    assert it["non_compliant_share"].points == -10.0
    assert [r.id for r in it["non_compliant_share"].evidence] == [3, 4]
    assert s.score == 80.0


def test_l2_unit_ledger_misses_pushed_and_archive() -> None:
    cases = [_case(1, pushed=True, closed=False, archived=False), _case(2, pushed=True),
             _case(3, archived=False), _case(4), _case(5)]  # fmt: skip
    s = score_l2_unit(L2UnitFacts(1, "u", cases, ledger_misses=[7, 8, 9, 10, 11, 12]))
    it = _items(s)
    assert it["ledger_missing"].value == 6 and it["ledger_missing"].points == -10.0  # 12 → cap
    # pushed: 1 of 2 closed = 50 %: 50 pp × 0.2 = −10 (the cap)
    assert it["pushed_rectified"].points == -10.0
    # archive: closed cases 2,3,4,5; 3 archived of 4 = 75 %: 25 pp × 0.1 = −2.5
    assert it["archive_complete"].value == 0.75 and it["archive_complete"].points == -2.5
    # closure: 4 of 5 = 80 %: 10 pp below 90 % × 0.5 = −5
    assert it["closure_rate"].points == -5.0
    assert s.score == 100 - 10 - 10 - 2.5 - 5


def test_l2_unit_waivers_count_a_case_as_met_or_drop_it() -> None:
    cases = [_case(i, city_assigned=True, closed=i <= 18) for i in range(1, 21)]
    w = Waivers(frozenset({("city_rectified", "", "case:19")}))
    it = _items(score_l2_unit(L2UnitFacts(1, "u", cases), P, w))
    assert it["city_rectified"].value == 0.95 and it["city_rectified"].points == 0
    whole = Waivers(frozenset({("city_rectified", "", "")}))
    s = score_l2_unit(L2UnitFacts(1, "u", cases), P, whole)
    it = _items(s)
    assert it["city_rectified"].points == 0 and it["city_rectified"].waived
    assert s.score == 100.0


@pytest.mark.parametrize(
    ("closed", "points"), [(0, 0.0), (1, -2.0), (4, -8.0), (5, -10.0), (6, -10.0)]
)
def test_l2_unit_connect_gate_per_site_and_cap(closed: int, points: float) -> None:
    # −2 a site producing waste with the gate closed at the month's end, at most −10
    # (the cap is reached exactly at 5 sites)
    gates = [(i, "no_video_connected") for i in range(1, closed + 1)]
    s = score_l2_unit(L2UnitFacts(1, "u", gates_closed=gates))
    it = _items(s)["connect_gate"]
    assert it.value == closed and it.points == points
    assert [(r.kind, r.id, r.detail) for r in it.evidence] == [
        ("gate", i, "no_video_connected") for i in range(1, closed + 1)]  # fmt: skip
    assert s.score == 100 + points


def test_l2_unit_connect_gate_waived_site_is_dropped() -> None:
    gates = [(7, "nothing_connected"), (8, "no_monitor_connected")]
    w = Waivers(frozenset({("connect_gate", "", "gate:7")}))
    it = _items(score_l2_unit(L2UnitFacts(1, "u", gates_closed=gates), P, w))["connect_gate"]
    assert it.points == -2.0 and [r.key for r in it.evidence] == ["gate:8"]
    assert P.l2_unit.gate_closed == PerEvent(points=2.0, max_points=10.0)


# ---------------------------------------------------------------------------- officer groups


def _at(day: int, hour: int = 2) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def _visit(i: int, site: int, day: int, member: int = 1, passed: bool = True) -> Visit:
    return Visit(i, site, member, date(2026, 11, day), _at(day), passed)


def test_officer_group_coverage_frequency_found_late_missed() -> None:
    sites = list(range(1, 11))  # 10 sites
    visits = [_visit(i, i, 2 + (i % 2)) for i in range(1, 9)]  # sites 1–8, on 2 and 3 Nov
    plan_days = [
        PlanDay(5, date(2026, 11, 2), None, 4),
        PlanDay(5, date(2026, 11, 3), None, 4),
        PlanDay(5, date(2026, 11, 4), None, 2),
        PlanDay(5, date(2026, 11, 5), None, 1),
    ]
    held = [HeldCase(30, _at(10), _at(9)), HeldCase(31, _at(10), _at(12)),
            HeldCase(32, _at(20), None)]  # fmt: skip
    outside = [
        OutsideFinding(40, 2, _at(15)),  # site 2 passed on 2 Nov: 13 days before → missed
        OutsideFinding(41, 1, _at(20)),  # site 1 passed on 3 Nov: 17 days → outside window
        OutsideFinding(42, 9, _at(20)),  # site 9 never visited
    ]
    facts = GroupFacts(7, "E-HP 组", NOV, END, sites, visits, plan_days, found=[50, 51, 52],
                       held=held, outside=outside)  # fmt: skip
    s = score_officer_group(facts)
    it = _items(s)
    # coverage 8/10 = 80 %: 20 pp × 0.2 = −4; evidence the unvisited sites
    assert it["coverage"].value == 0.8 and it["coverage"].points == -4.0
    assert [r.id for r in it["coverage"].evidence] == [9, 10]
    # quota 2: 2 Nov (4 visits) and 3 Nov (4) fine; 4 Nov 0/2 short; 5 Nov 0/1 short
    assert it["patrol_frequency"].points == -2.0
    assert [r.day for r in it["patrol_frequency"].evidence] == ["2026-11-04", "2026-11-05"]
    assert it["patrol_frequency"].evidence[0].detail == "0/2"
    # 3 found × 0.5 = +1.5
    assert it["problems_found"].points == 1.5
    # late: 31 done after due, 32 open past due at month end → 2 × −2
    assert [r.id for r in it["handled_on_time"].evidence] == [31, 32]
    assert it["handled_on_time"].points == -4.0
    # missed: only case 40, linked to the visit that passed the site
    assert [(r.id, r.detail) for r in it["missed_reports"].evidence] == [(40, "visit:2")]
    assert it["missed_reports"].points == -5.0
    assert s.score == 100 - 4 - 2 + 1.5 - 4 - 5


def test_officer_group_never_above_base_and_caps() -> None:
    facts = GroupFacts(7, "g", NOV, END, [1], [_visit(1, 1, 2)], found=list(range(20)))
    s = score_officer_group(facts)
    assert _items(s)["problems_found"].points == 5.0  # 20 × 0.5 capped at 5
    assert s.score == 100.0
    outside = [OutsideFinding(i, 1, _at(3)) for i in range(10)]
    s = score_officer_group(GroupFacts(7, "g", NOV, END, [1], [_visit(1, 1, 2)], outside=outside))
    assert _items(s)["missed_reports"].points == -30.0  # 10 × 5 capped at 30


def test_officer_group_missed_window_edge() -> None:
    # visit at 2 Nov 02:00; finding exactly 14 days later is inside, a second later is not
    v = [_visit(1, 1, 2)]
    inside = OutsideFinding(1, 1, _at(16))
    outside = OutsideFinding(2, 1, _at(16) + timedelta(seconds=1))
    s = score_officer_group(GroupFacts(7, "g", NOV, END, [1], v, outside=[inside, outside]))
    assert [r.id for r in _items(s)["missed_reports"].evidence] == [1]
    # a visit that found problems is not "passed": no missed report
    v = [_visit(1, 1, 2, passed=False)]
    s = score_officer_group(GroupFacts(7, "g", NOV, END, [1], v, outside=[inside]))
    assert _items(s)["missed_reports"].points == 0


# ---------------------------------------------------------------------------- officers


def _ofacts(**kw) -> OfficerFacts:  # noqa: ANN003
    return OfficerFacts(**{"officer_id": 11, "name": "E-HP 张三", "month": NOV,
                           "month_end": END, **kw})  # fmt: skip


def test_officer_scored_from_their_own_records() -> None:
    """Officer 11 walks with officer 12. Only the visits 11 filed count for 11."""
    sites = [1, 2, 3, 4, 5]
    visits = [
        _visit(1, 1, 2, member=11), _visit(2, 2, 2, member=11),  # 2 Nov: 2 sites
        _visit(3, 3, 3, member=11),  # 3 Nov: 1 site
        _visit(4, 4, 4, member=11, passed=False),  # 4 Nov: found a problem
    ]  # fmt: skip
    plan_days = [
        PlanDay(5, date(2026, 11, 2), None, 3),  # together: need min(2, 3) = 2 → 2 ok
        PlanDay(5, date(2026, 11, 3), None, 4),  # together: 1 < 2 → short
        PlanDay(5, date(2026, 11, 4), 11, 1),  # their own stop: need 1 → 1 ok
    ]
    held = [
        HeldCase(30, _at(10), _at(10)),  # closed exactly at the deadline: on time
        HeldCase(31, _at(10), _at(10) + timedelta(seconds=1)),
    ]  # a second late
    outside = [
        OutsideFinding(40, 1, _at(16)),  # site 1 passed on 2 Nov, 14 days before
        OutsideFinding(41, 4, _at(6)),
    ]  # site 4: the visit found problems
    s = score_officer(_ofacts(sites=sites, visits=visits, plan_days=plan_days, found=[50, 51],
                              held=held, outside=outside, groups=[5]))  # fmt: skip
    assert (s.kind, s.party_id, s.name) == ("officer", 11, "E-HP 张三")
    it = _items(s)
    # coverage 4 of 5 = 80 %: 20 pp × 0.2 = −4; the evidence is site 5
    assert it["coverage"].value == 0.8 and it["coverage"].points == -4.0
    assert [r.id for r in it["coverage"].evidence] == [5]
    assert [(r.day, r.detail) for r in it["patrol_frequency"].evidence] == [("2026-11-03", "1/2")]
    assert it["patrol_frequency"].points == -1.0
    assert it["problems_found"].points == 1.0  # 2 × 0.5
    assert [r.id for r in it["handled_on_time"].evidence] == [31]
    assert it["handled_on_time"].points == -2.0
    assert [(r.id, r.detail) for r in it["missed_reports"].evidence] == [(40, "visit:1")]
    assert it["missed_reports"].points == -5.0
    assert s.score == 100 - 4 - 1 + 1 - 2 - 5


def test_officer_coverage_line_and_caps() -> None:
    # every site seen: exactly at the 100 % line, no deduction
    full = score_officer(_ofacts(sites=[1, 2], visits=[_visit(1, 1, 2), _visit(2, 2, 3)]))
    assert _items(full)["coverage"].points == 0 and full.score == 100.0
    # 99 of 100 sites: 1 pp × 0.2 = −0.2
    visits = [_visit(i, i, 2) for i in range(1, 100)]
    it = _items(score_officer(_ofacts(sites=list(range(1, 101)), visits=visits)))
    assert it["coverage"].points == -0.2
    # nothing seen: 100 pp × 0.2 = 20 = the cap exactly
    assert _items(score_officer(_ofacts(sites=[1])))["coverage"].points == -20.0


@pytest.mark.parametrize(
    ("rule", "n", "points"),
    [("patrol_frequency", 20, -20.0), ("patrol_frequency", 21, -20.0),
     ("problems_found", 10, 5.0), ("problems_found", 11, 5.0),
     ("handled_on_time", 10, -20.0), ("handled_on_time", 11, -20.0),
     ("missed_reports", 6, -30.0), ("missed_reports", 7, -30.0)],
)  # fmt: skip
def test_officer_per_event_caps(rule: str, n: int, points: float) -> None:
    """Each cap is reached exactly (20 short days × 1, 10 finds × 0.5, 10 late × 2,
    6 missed × 5) and one more changes nothing."""
    kw: dict[str, object] = {}
    if rule == "patrol_frequency":
        kw["plan_days"] = [PlanDay(1, date(2026, 11, 1) + timedelta(days=i), None, 2)
                           for i in range(n)]  # fmt: skip
    elif rule == "problems_found":
        kw["found"] = list(range(n))
    elif rule == "handled_on_time":
        kw["held"] = [HeldCase(i, _at(2), None) for i in range(n)]
    else:
        kw["visits"] = [_visit(1, 1, 2)]
        kw["outside"] = [OutsideFinding(i, 1, _at(3)) for i in range(n)]
    it = _items(score_officer(_ofacts(sites=[1], **kw)))[rule]
    assert it.value == n and it.points == points


def test_officer_rules_are_their_own_setting() -> None:
    """The officer's numbers are ``AssessmentPolicy.officer``, apart from the group's."""
    assert P.officer == P.officer_group  # the same numbers by default
    stricter = dataclasses.replace(
        P, officer=dataclasses.replace(P.officer, missed=PerEvent(points=10.0, max_points=30.0))
    )
    facts = _ofacts(sites=[1], visits=[_visit(1, 1, 2)], outside=[OutsideFinding(9, 1, _at(3))])
    assert _items(score_officer(facts, stricter))["missed_reports"].points == -10.0
    group = GroupFacts(7, "g", NOV, END, [1], [_visit(1, 1, 2)],
                       outside=[OutsideFinding(9, 1, _at(3))])  # fmt: skip
    assert _items(score_officer_group(group, stricter))["missed_reports"].points == -5.0


# ---------------------------------------------------------------------------- inspector groups


def test_inspector_group_weekly_coverage_daily_confirmed_rechecks() -> None:
    sites = list(range(1, 11))
    # week 1 (2–8 Nov): all 10 sites; week 2 (9–15): 9 sites; weeks 3, 4: none
    visits = [_visit(i, i, 2, member=1) for i in range(1, 11)]
    visits += [_visit(100 + i, i, 9, member=2) for i in range(1, 10)]
    plan_days = [PlanDay(8, date(2026, 11, 2), 1, 12), PlanDay(8, date(2026, 11, 9), 2, 12),
                 PlanDay(8, date(2026, 11, 10), 1, 5)]  # fmt: skip
    rechecks = [
        HeldCase(60, _at(5), _at(12)),  # due 5 Nov, done 12 Nov: 7 days grace → ok
        HeldCase(61, _at(5), _at(12, 3)),  # an hour past the grace → late
        HeldCase(62, _at(28), None),
    ]  # due 28 Nov, grace ends 5 Dec → not yet late
    facts = GroupFacts(9, "I-HP 组", NOV, END, sites, visits, plan_days,
                       found=[70, 71, 72, 73, 74, 75, 76, 77, 78, 79], dismissed=[70, 71],
                       rechecks=rechecks)  # fmt: skip
    s = score_inspector_group(facts)
    weekly = [i for i in s.items if i.rule == "weekly_coverage"]
    assert [w.period for w in weekly] == ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    assert [w.value for w in weekly] == [1.0, 0.9, 0.0, 0.0]
    # 10 pp × 0.1 = −1; 100 pp × 0.1 = 10 → capped at 5, twice
    assert [w.points for w in weekly] == [0.0, -1.0, -5.0, -5.0]
    assert weekly[1].evidence == (Ref("site", 10, day="2026-11-09"),)
    it = _items(s)
    # member 1 on 2 Nov: 10 ≥ 10; member 2 on 9 Nov: 9 < 10; member 1 on 10 Nov: 0 < 5
    assert [(r.day, r.member, r.detail) for r in it["daily_visits"].evidence] == [
        ("2026-11-09", 2, "9/10"), ("2026-11-10", 1, "0/5")]  # fmt: skip
    assert it["daily_visits"].points == -2.0
    # 8 of 10 findings confirmed = 80 %: 10 pp below 90 % × 0.5 = −5
    assert it["findings_confirmed"].value == 0.8 and it["findings_confirmed"].points == -5.0
    assert [r.id for r in it["rechecks_on_time"].evidence] == [61]
    assert it["rechecks_on_time"].points == -2.0
    assert s.score == 100 - 1 - 5 - 5 - 2 - 5 - 2


def test_inspector_daily_numbers_follow_the_patrol_policy() -> None:
    assert P.inspector_group.daily_min == 10 and P.inspector_group.daily_max == 12
    assert P.officer_group.daily_quota == 2


# ---------------------------------------------------------------------------- providers

WEEKS = [(m.isoformat(), datetime.combine(m, datetime.min.time(), UTC),
          datetime.combine(m + timedelta(days=7), datetime.min.time(), UTC))
         for m, _ in NOV.check_weeks()]  # fmt: skip
START = datetime(2026, 11, 1, tzinfo=UTC)


def _pfacts(devices, offline, failures_before=0) -> ProviderFacts:
    return ProviderFacts(3, "服务商", NOV, END, WEEKS, START, devices, offline, failures_before)


def _monitor(i: int) -> ProviderDevice:
    return ProviderDevice(i, "dust_monitor", datetime(2026, 1, 1, tzinfo=UTC), None)


@pytest.mark.parametrize(
    ("rate", "points"),
    [(0.0, 0), (0.0999, 0), (0.10, 10), (0.1999, 10), (0.20, 20), (0.2999, 20), (0.30, 40),
     (1.0, 40)],
)  # fmt: skip
def test_offline_bands(rate: float, points: float) -> None:
    assert band_points(P.provider.offline_bands, rate) == points


@pytest.mark.parametrize(
    ("days", "points"), [(0, 0), (1, 0), (3, 0), (4, 10), (7, 10), (8, 20), (14, 20), (15, 40)]
)
def test_repair_bands(days: int, points: float) -> None:
    assert band_points(P.provider.repair_bands, days) == points


def test_provider_weekly_offline_rate_edges() -> None:
    # 10 monitors; week 1 = 70 device-days. 7 device-days offline = 10 % → −10;
    # 6.99 → pass. Week 2: 14 device-days = 20 % → −20. Week 3: 21 = 30 % → −40.
    w1 = WEEKS[0][1]
    w2 = WEEKS[1][1]
    w3 = WEEKS[2][1]
    devices = [_monitor(i) for i in range(1, 11)]
    spans = [
        OfflineSpan(1, 1, w1, w1 + timedelta(days=7), None),  # 7 device-days in week 1
        OfflineSpan(2, 2, w2, w2 + timedelta(days=7), None),
        OfflineSpan(3, 3, w2, w2 + timedelta(days=7), None),  # 14 in week 2
        OfflineSpan(4, 4, w3, None, None),  # open from week 3: 7 in w3, 7 in w4
        OfflineSpan(5, 5, w3, w3 + timedelta(days=14), None),  # 7 in w3, 7 in w4
        OfflineSpan(6, 6, w3, w3 + timedelta(days=7), None),  # 7 in w3 → w3: 21 = 30 %
    ]
    s = score_provider(_pfacts(devices, spans))
    weekly = [i for i in s.items if i.rule == "offline_rate"]
    assert [w.value for w in weekly] == [0.1, 0.2, 0.3, 0.2]
    assert [w.points for w in weekly] == [-10.0, -20.0, -40.0, -20.0]
    assert [r.id for r in weekly[0].evidence] == [1]
    assert s.score == 10.0
    # just under the line: 7 device-days minus a minute → passes
    short = [OfflineSpan(1, 1, w1, w1 + timedelta(days=7, minutes=-1), None)]
    weekly = [i for i in score_provider(_pfacts(devices, short)).items if i.rule == "offline_rate"]
    assert weekly[0].points == 0


def test_provider_repair_time_per_point() -> None:
    n = datetime(2026, 11, 3, tzinfo=UTC)
    spans = [
        OfflineSpan(1, 1, n, n + timedelta(days=3), n),  # 3 days → pass
        OfflineSpan(2, 2, n, n + timedelta(days=3, seconds=1), n),  # day 4 started → −10
        OfflineSpan(3, 3, n, n + timedelta(days=7), n),  # 7 → −10
        OfflineSpan(4, 4, n, n + timedelta(days=8), n),  # 8 → −20
        OfflineSpan(5, 5, n, n + timedelta(days=14), n),  # 14 → −20
        OfflineSpan(6, 6, n, None, n),  # open at month end: 28 days → −40
        OfflineSpan(7, 7, n, n + timedelta(days=20), None),  # never notified: not scored
    ]
    assert repair_days(spans[1], END) == 4
    s = score_provider(_pfacts([_monitor(i) for i in range(1, 8)], spans))
    it = _items(s)
    assert [(r.id, r.detail) for r in it["repair_time"].evidence] == [
        (2, "4d"), (3, "7d"), (4, "8d"), (5, "14d"), (6, "28d")]  # fmt: skip
    assert it["repair_time"].points == -(10 + 10 + 20 + 20 + 40)


@pytest.mark.parametrize(
    ("main", "sub", "lost"),
    [((1920, 1080), (704, 576), 0.0),  # exactly at both lines: pass
     ((1919, 1080), (704, 576), -10.0),  # a pixel narrower: −10
     ((1920, 1079), (704, 576), -10.0),  # a pixel lower: −10
     ((1920, 1080), (703, 576), -10.0),
     ((1920, 1080), (704, 575), -10.0),
     ((1919, 1079), (703, 575), -20.0)],  # both streams below: −10 each
)  # fmt: skip
def test_provider_stream_edges(main: tuple[int, int], sub: tuple[int, int], lost: float) -> None:
    cam = ProviderDevice(1, "video_camera", datetime(2026, 1, 1, tzinfo=UTC), None, main, sub)
    s = score_provider(_pfacts([cam], []))
    it = _items(s)
    assert it["main_stream"].points + it["sub_stream"].points == lost
    assert s.score == 100 + lost


def test_provider_stream_evidence_names_the_measurement() -> None:
    """A measured resolution names the day it was measured; a typed one names none."""
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    cams = [
        ProviderDevice(1, "video_camera", t0, None, (1919, 1080), (704, 576), "2026-11-20", ""),
        ProviderDevice(2, "video_camera", t0, None, (1280, 720), None),  # typed
    ]
    it = _items(score_provider(_pfacts(cams, [])))
    assert [(r.id, r.day, r.detail) for r in it["main_stream"].evidence] == [
        (1, "2026-11-20", "1919x1080"), (2, "", "1280x720")]  # fmt: skip
    assert [r.key for r in it["main_stream"].evidence] == ["device:1:2026-11-20", "device:2"]


def test_provider_streams_and_unknown_resolution() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    cams = [
        ProviderDevice(1, "video_camera", t0, None, (1920, 1080), (704, 576)),  # at the lines
        ProviderDevice(2, "video_camera", t0, None, (1280, 720), (640, 480)),  # both below
        ProviderDevice(3, "video_camera", t0, None, (1920, 1079), None),  # main below, sub ?
        ProviderDevice(4, "video_camera", t0, None, None, None),  # nothing recorded
    ]
    it = _items(score_provider(_pfacts(cams, [])))
    assert [r.id for r in it["main_stream"].evidence] == [2, 3]
    assert it["main_stream"].points == -20.0
    assert [r.id for r in it["sub_stream"].evidence] == [2]
    assert it["sub_stream"].points == -10.0


def test_provider_consequences() -> None:
    r = P.provider
    assert consequence(60.0, 0, r) == ""
    assert consequence(59.9, 0, r) == "interview"
    assert consequence(59.9, 1, r) == "interview"
    assert consequence(59.9, 2, r) == "suspended"  # the 3rd in a year
    assert consequence(59.9, 4, r) == "suspended"
    assert consequence(59.9, 5, r) == "blacklisted"  # the 6th
    devices = [_monitor(i) for i in range(1, 3)]
    spans = [OfflineSpan(i, 1, WEEKS[i][1], WEEKS[i][2], None) for i in range(4)]
    s = score_provider(_pfacts(devices, spans, failures_before=2))
    assert s.score == 0.0 and s.consequence == "suspended"  # 4 × −40, floored at 0


def test_provider_waivers() -> None:
    devices = [_monitor(1)]
    w1 = WEEKS[0]
    spans = [OfflineSpan(1, 1, w1[1], w1[2], None)]
    waived = Waivers(frozenset({("offline_rate", w1[0], "device_period:1")}))
    s = score_provider(_pfacts(devices, spans), P, waived)
    assert _items(s)["offline_rate"].points == 0 and s.score == 100.0


def test_score_json_shape() -> None:
    s = score_l2_unit(L2UnitFacts(1, "u", [_case(1, handled=False)]))
    j = s.as_json()
    assert j["kind"] == "l2_unit" and j["id"] == 1 and j["name"] == "u"
    item = next(i for i in j["items"] if i["rule"] == "handling_rate")
    assert item == {"rule": "handling_rate", "value": 0.0, "points": -10.0,
                    "evidence": [{"kind": "case", "id": 1, "key": "case:1"}]}  # fmt: skip


def test_facts_survive_json() -> None:
    from dustgrid.assessments.codec import decode, encode

    facts = _pfacts([_monitor(1)], [OfflineSpan(1, 1, WEEKS[0][1], None, START)], 2)
    back = decode(ProviderFacts, encode(facts))
    assert encode(back) == encode(facts) and score_provider(back) == score_provider(facts)
    g = GroupFacts(
        7,
        "g",
        NOV,
        END,
        [1],
        [_visit(1, 1, 2)],
        [PlanDay(1, date(2026, 11, 2), 3, 2)],
        held=[HeldCase(1, _at(3), None)],
        outside=[OutsideFinding(1, 1, _at(4))],
    )
    assert encode(decode(GroupFacts, encode(g))) == encode(g)
    u = L2UnitFacts(1, "u", [_case(1)], [(1, "full")], [5], [(3, "nothing_connected")])
    assert score_l2_unit(decode(L2UnitFacts, encode(u))) == score_l2_unit(u)
    o = OfficerFacts(11, "o", NOV, END, [1], [_visit(1, 1, 2)], held=[HeldCase(1, _at(3), None)])
    assert score_officer(decode(OfficerFacts, encode(o))) == score_officer(o)


def test_facts_stored_before_a_field_existed_still_decode() -> None:
    """Facts stored under the 2026.1 rule set lack the fields added since (the gate, the
    measured streams): they decode with the defaults, so their month can be appealed."""
    from dustgrid.assessments.codec import decode, encode

    old = encode(L2UnitFacts(1, "u", [_case(1, handled=False)]))
    del old["gates_closed"]
    back = decode(L2UnitFacts, old)
    assert back.gates_closed == () and _items(score_l2_unit(back))["connect_gate"].points == 0
    facts = encode(_pfacts([ProviderDevice(1, "video_camera", START, None, (1280, 720))], []))
    for d in facts["devices"]:
        del d["main_measured"], d["sub_measured"]
    device = decode(ProviderFacts, facts).devices[0]
    assert device.main_stream == (1280, 720) and device.main_measured == ""
