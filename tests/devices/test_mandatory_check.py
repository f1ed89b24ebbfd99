"""The 附件6 check and the connect-before-waste gate (pure, no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from dustgrid.cases.categories import VIOLATIONS
from dustgrid.devices.mandatory import (
    DEFAULT_MANDATORY_DEVICE_POLICY as P,
)
from dustgrid.devices.mandatory import (
    CameraFact,
    GateReason,
    MandatoryDevicePolicy,
    MeasureKind,
    MonitorFact,
    Party,
    SiteDeviceFacts,
    check_site,
    connect_gate,
)

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def cam(i: int, connected: bool = True, ok: bool | None = True, age_h: float = 1) -> CameraFact:
    at = None if ok is None else NOW - timedelta(hours=age_h)
    return CameraFact(i, connected, at, ok)


def facts(**kw: object) -> SiteDeviceFacts:
    base = SiteDeviceFacts(
        site_id=1,
        investment_yuan=Decimal("2000000"),
        area_m2=800,
        stage="earthwork",
        monitors=(MonitorFact(10, True),),
        cameras=(cam(1), cam(2)),
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def keys(f: SiteDeviceFacts, policy: MandatoryDevicePolicy = P) -> list[str]:
    return [v.key for v in check_site(f, NOW, policy)]


def test_a_compliant_site_has_no_violation() -> None:
    assert keys(facts()) == []


@pytest.mark.parametrize(
    ("investment", "area", "required"),
    [
        (Decimal("999999.99"), 499.99, False),
        (Decimal("1000000"), 0, True),  # investment exactly at the threshold
        (Decimal("0"), 500, True),  # area exactly at the threshold
        (Decimal("999999.99"), 500, True),
        (Decimal("1000000"), 499.99, True),
    ],
)
def test_the_threshold_edges(investment: Decimal, area: float, required: bool) -> None:
    f = facts(investment_yuan=investment, area_m2=area, cameras=(), monitors=())
    assert (keys(f) == ["no_video", "no_dust_monitor"]) is required
    assert (keys(f) == []) is not required
    assert connect_gate(f).required is required


@pytest.mark.parametrize(
    ("stage", "checked"),
    [
        ("earthwork", True),
        ("foundation", True),
        ("structure", True),
        ("decoration", True),
        ("completed", False),
        ("suspended", False),
    ],
)
def test_only_sites_producing_waste_are_checked(stage: str, checked: bool) -> None:
    assert bool(keys(facts(stage=stage, cameras=()))) is checked


def test_no_video_is_a_fine_of_50000_to_100000_yuan_for_the_contractor() -> None:
    (v,) = check_site(facts(cameras=()), NOW)
    assert v.key == "no_video"
    assert v.measure.kind is MeasureKind.fine
    assert (v.measure.fine_min_yuan, v.measure.fine_max_yuan) == (50_000, 100_000)
    assert v.measure.party is Party.contractor
    assert v.policy_version == P.version


def test_camera_count_edge() -> None:
    assert keys(facts(cameras=(cam(1),))) == ["too_few_cameras"]
    assert keys(facts(cameras=(cam(1), cam(2)))) == []
    three = MandatoryDevicePolicy(min_cameras=3)
    assert keys(facts(cameras=(cam(1), cam(2))), three) == ["too_few_cameras"]
    assert keys(facts(cameras=(cam(1), cam(2), cam(3))), three) == []


def test_a_camera_not_connected_names_the_device_and_goes_to_the_provider() -> None:
    (v,) = check_site(facts(cameras=(cam(1), cam(2, connected=False))), NOW)
    assert (v.key, v.device_ids) == ("video_not_connected", (2,))
    assert v.measure.party is Party.provider
    assert v.measure.kind is MeasureKind.provider_rectification


def test_video_unviewable_needs_a_fresh_failed_stream_check() -> None:
    limit = P.stream_check_max_age_hours
    failed = facts(cameras=(cam(1), cam(2, ok=False, age_h=limit)))
    assert [(v.key, v.device_ids) for v in check_site(failed, NOW)] == [("video_unviewable", (2,))]
    stale = facts(cameras=(cam(1), cam(2, ok=False, age_h=limit + 0.01)))
    assert keys(stale) == []  # a stale check proves nothing
    unchecked = facts(cameras=(cam(1), cam(2, ok=None)))
    assert keys(unchecked) == []
    # a camera not connected is "not connected", not also "unviewable"
    both = facts(cameras=(cam(1), cam(2, connected=False, ok=False)))
    assert keys(both) == ["video_not_connected"]


def test_monitors() -> None:
    assert keys(facts(monitors=())) == ["no_dust_monitor"]
    f = facts(monitors=(MonitorFact(10, True), MonitorFact(11, False)))
    (v,) = check_site(f, NOW)
    assert (v.key, v.device_ids, v.measure.party) == (
        "monitor_not_networked",
        (11,),
        Party.provider,
    )


def test_every_violation_is_a_case_category() -> None:
    assert {k for k, _ in P.measures} <= set(VIOLATIONS)
    assert P.provider_violations() == {
        "video_not_connected",
        "video_unviewable",
        "monitor_not_networked",
    }


@pytest.mark.parametrize(
    ("cameras", "monitors", "open_", "reason"),
    [
        ((cam(1),), (MonitorFact(10, True),), True, GateReason.connected),
        (
            (cam(1, connected=False),),
            (MonitorFact(10, True),),
            False,
            GateReason.no_video_connected,
        ),
        ((cam(1),), (MonitorFact(10, False),), False, GateReason.no_monitor_connected),
        ((), (), False, GateReason.nothing_connected),
    ],
)
def test_connect_before_waste_gate(
    cameras: tuple[CameraFact, ...],
    monitors: tuple[MonitorFact, ...],
    open_: bool,
    reason: GateReason,
) -> None:
    g = connect_gate(facts(cameras=cameras, monitors=monitors))
    assert (g.required, g.open, g.reason) == (True, open_, reason)


def test_gate_below_threshold_is_open() -> None:
    g = connect_gate(facts(investment_yuan=0, area_m2=10, cameras=(), monitors=()))
    assert (g.required, g.open, g.reason) == (False, True, GateReason.not_required)


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="min_cameras"):
        MandatoryDevicePolicy(min_cameras=0)
    with pytest.raises(ValueError, match="stream_check_max_age_hours"):
        MandatoryDevicePolicy(stream_check_max_age_hours=0)
