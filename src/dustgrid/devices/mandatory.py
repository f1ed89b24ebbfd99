"""Mandatory devices (003 附件6): which violations a site's devices show today.

Pure: no database, no web. The caller gathers a site's facts (:class:`SiteDeviceFacts`) and
:func:`check_site` answers with the 附件6 violations and the measure each one calls for.
:func:`connect_gate` answers the connect-before-waste question the site page and the L2
score show: a site above the threshold may produce construction waste only with video and a
dust monitor connected.

Every rule number lives in :class:`MandatoryDevicePolicy` (named, versioned).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from dustgrid.sites.policy import DEFAULT_MONITOR_THRESHOLD_POLICY, MonitorThresholdPolicy


class MeasureKind(enum.StrEnum):
    """What the violation calls for (附件6 处理措施)."""

    fine = "fine"  # 罚款 (contractor), with the fine range
    rectification_order = "rectification_order"  # 责令限期整改 (contractor)
    provider_rectification = "provider_rectification"  # 服务商整改通知 + 约谈 (003)


class Party(enum.StrEnum):
    """Who answers for the violation."""

    contractor = "contractor"  # 施工单位: the penalty ladder applies
    provider = "provider"  # 设备服务商: rectification order and interview, no ladder


@dataclass(frozen=True, slots=True)
class Measure:
    kind: MeasureKind
    party: Party
    fine_min_yuan: int = 0
    fine_max_yuan: int = 0
    severity: str = "medium"  # a cases.categories.Severity value


@dataclass(frozen=True, slots=True)
class MandatoryDevicePolicy:
    """The rule numbers of 003 附件6 (docs/devices.md, *Mandatory devices*).

    - ``threshold``: investment ≥ 1 million yuan or area ≥ 500 m² (domain.md §7);
    - ``waste_stages``: the stages in which a site produces construction waste (from
      earthwork to decoration); a completed or suspended site is not checked;
    - ``min_cameras``: video points a site needs (entrance/exit and the work area);
    - ``stream_check_max_age_hours``: a stream check older than this no longer proves the
      video can be viewed, nor that it cannot; the camera counts as unchecked;
    - ``measures``: the measure for each violation; the offline kinds (video not
      connected, video unviewable, monitor not networked) go to the device provider.
    """

    version: str = "2026.12"
    threshold: MonitorThresholdPolicy = DEFAULT_MONITOR_THRESHOLD_POLICY
    waste_stages: frozenset[str] = frozenset({"earthwork", "foundation", "structure", "decoration"})
    min_cameras: int = 2
    stream_check_max_age_hours: int = 48
    measures: tuple[tuple[str, Measure], ...] = (
        ("no_video", Measure(MeasureKind.fine, Party.contractor, 50_000, 100_000, "high")),
        ("too_few_cameras", Measure(MeasureKind.rectification_order, Party.contractor)),
        ("no_dust_monitor", Measure(MeasureKind.rectification_order, Party.contractor)),
        ("video_not_connected", Measure(MeasureKind.provider_rectification, Party.provider)),
        ("video_unviewable", Measure(MeasureKind.provider_rectification, Party.provider)),
        ("monitor_not_networked", Measure(MeasureKind.provider_rectification, Party.provider)),
    )

    def __post_init__(self) -> None:
        if self.min_cameras < 1:
            raise ValueError("min_cameras must be at least 1")
        if self.stream_check_max_age_hours < 1:
            raise ValueError("stream_check_max_age_hours must be at least 1")

    def measure(self, violation: str) -> Measure:
        for key, m in self.measures:
            if key == violation:
                return m
        raise KeyError(violation)

    def provider_violations(self) -> frozenset[str]:
        """The violations routed to the provider (offline devices), not the ladder."""
        return frozenset(k for k, m in self.measures if m.party is Party.provider)


DEFAULT_MANDATORY_DEVICE_POLICY = MandatoryDevicePolicy()


@dataclass(frozen=True, slots=True)
class MonitorFact:
    device_id: int
    networked: bool  # connected and online now


@dataclass(frozen=True, slots=True)
class CameraFact:
    device_id: int
    connected: bool  # connected to the platform and online now
    last_check_at: datetime | None = None  # the last stream check
    last_check_ok: bool | None = None  # could the stream be viewed then


@dataclass(frozen=True, slots=True)
class SiteDeviceFacts:
    site_id: int
    investment_yuan: Decimal | float
    area_m2: float
    stage: str
    monitors: Sequence[MonitorFact] = ()
    cameras: Sequence[CameraFact] = ()


@dataclass(frozen=True, slots=True)
class Violation:
    key: str  # a key of cases.categories.VIOLATIONS
    measure: Measure
    device_ids: tuple[int, ...] = ()  # the devices at fault (empty when none is installed)
    policy_version: str = ""


def is_required(facts: SiteDeviceFacts, policy: MandatoryDevicePolicy) -> bool:
    """Above the threshold (either figure reaches it)."""
    return policy.threshold.monitors_required(
        investment_yuan=facts.investment_yuan, area_m2=facts.area_m2
    )


def is_producing_waste(stage: str, policy: MandatoryDevicePolicy) -> bool:
    return stage in policy.waste_stages


def _viewable(c: CameraFact, now: datetime, policy: MandatoryDevicePolicy) -> bool | None:
    """True/False from a fresh stream check, None when unchecked or stale."""
    if c.last_check_at is None or c.last_check_ok is None:
        return None
    if now - c.last_check_at > timedelta(hours=policy.stream_check_max_age_hours):
        return None
    return c.last_check_ok


def check_site(
    facts: SiteDeviceFacts,
    now: datetime,
    policy: MandatoryDevicePolicy = DEFAULT_MANDATORY_DEVICE_POLICY,
) -> list[Violation]:
    """The 附件6 violations of one site, most serious first; empty when none apply.

    Nothing is due below the threshold or outside the waste-producing stages. No camera at
    all is ``no_video`` (and no further video item); fewer than ``min_cameras`` is
    ``too_few_cameras``; a camera not connected is ``video_not_connected``; a connected
    camera whose fresh stream check failed is ``video_unviewable``. No monitor is
    ``no_dust_monitor``; a monitor not networked is ``monitor_not_networked``.
    """
    if not is_required(facts, policy) or not is_producing_waste(facts.stage, policy):
        return []
    out: list[Violation] = []

    def add(key: str, ids: Sequence[int] = ()) -> None:
        out.append(Violation(key, policy.measure(key), tuple(sorted(ids)), policy.version))

    cams = list(facts.cameras)
    if not cams:
        add("no_video")
    else:
        if len(cams) < policy.min_cameras:
            add("too_few_cameras")
        down = [c.device_id for c in cams if not c.connected]
        if down:
            add("video_not_connected", down)
        blind = [c.device_id for c in cams if c.connected and _viewable(c, now, policy) is False]
        if blind:
            add("video_unviewable", blind)
    if not facts.monitors:
        add("no_dust_monitor")
    else:
        off = [m.device_id for m in facts.monitors if not m.networked]
        if off:
            add("monitor_not_networked", off)
    return out


class GateReason(enum.StrEnum):
    not_required = "not_required"  # below the threshold
    connected = "connected"  # video and a dust monitor connected
    no_video_connected = "no_video_connected"
    no_monitor_connected = "no_monitor_connected"
    nothing_connected = "nothing_connected"


@dataclass(frozen=True, slots=True)
class Gate:
    """Connect-before-waste (003): may this site produce construction waste?"""

    required: bool
    open: bool  # True: the site may produce waste (or the rule does not apply)
    reason: GateReason
    policy_version: str = field(default="")


def connect_gate(
    facts: SiteDeviceFacts, policy: MandatoryDevicePolicy = DEFAULT_MANDATORY_DEVICE_POLICY
) -> Gate:
    """Open when the site is below the threshold, or has at least one connected camera and
    one networked dust monitor. The stage does not close the gate by itself: a site not yet
    producing waste sees whether it may start (``required`` tells whether the rule binds)."""
    if not is_required(facts, policy):
        return Gate(False, True, GateReason.not_required, policy.version)
    video = any(c.connected for c in facts.cameras)
    monitor = any(m.networked for m in facts.monitors)
    if video and monitor:
        return Gate(True, True, GateReason.connected, policy.version)
    if not video and not monitor:
        reason = GateReason.nothing_connected
    elif not video:
        reason = GateReason.no_video_connected
    else:
        reason = GateReason.no_monitor_connected
    return Gate(True, False, reason, policy.version)


#: Prefix of the dedup key of the cases the daily check opens.
CASE_KEY_PREFIX = "mandatory:"


def dedup_key(site_id: int, violation: str) -> str:
    """One open case per site and violation: ``mandatory:<site>:<violation>``."""
    return f"{CASE_KEY_PREFIX}{site_id}:{violation}"


def is_provider_case(
    category: str,
    case_dedup_key: str | None,
    policy: MandatoryDevicePolicy = DEFAULT_MANDATORY_DEVICE_POLICY,
) -> bool:
    """A mandatory-device case about offline devices: the provider answers for it
    (rectification order and interview, 003), so it takes no step of the contractor's
    penalty ladder and records no bad behaviour."""
    return bool(case_dedup_key and case_dedup_key.startswith(CASE_KEY_PREFIX)) and (
        category in policy.provider_violations()
    )
