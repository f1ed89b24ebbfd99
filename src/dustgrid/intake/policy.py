"""Numbers of the intake channels as one named, versioned setting (domain.md §4, §8).

Why a versioned dataclass and not loose constants: a video event recorded "below the
threshold" or a month's satisfaction rate must stay explainable after a city changes the
numbers, so every event row stores the ``version`` it was judged under. Everything here
is a platform default (the rules give no figure), marked so in ``BASIS``.

The deduplication windows themselves belong to the case core (``cases.policy.DedupPolicy``:
video AI per site and kind, hotline by radius and time); this module only builds the keys.

A city overrides a number through ``Settings`` fields named ``intake_<field>`` (for example
``DUSTGRID_INTAKE_VIDEO_MIN_CONFIDENCE=0.7``) once those fields exist in ``config.py``;
``intake_policy`` reads them when present and marks the version ``+local``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from dustgrid.cases.categories import Severity
from dustgrid.config import Settings


class VideoEventKind(enum.StrEnum):
    """What a video-AI analyser reports (vendor vocabularies are mapped onto these)."""

    bare_soil_uncovered = "bare_soil_uncovered"  # 裸土未覆盖
    vehicle_not_washed = "vehicle_not_washed"  # 车辆未冲洗
    dust_plume = "dust_plume"  # 扬尘
    hoarding_broken = "hoarding_broken"  # 围挡破损
    no_spraying = "no_spraying"  # 未喷淋降尘
    other = "other"


# Event kind → (case category from ``cases.categories``, default severity).
VIDEO_CATEGORY = MappingProxyType({
    VideoEventKind.bare_soil_uncovered: ("bare_soil_cover", Severity.medium),
    VideoEventKind.vehicle_not_washed: ("tyre_washing", Severity.medium),
    VideoEventKind.dust_plume: ("illegal_behaviour_on_video", Severity.high),
    VideoEventKind.hoarding_broken: ("hoarding", Severity.medium),
    VideoEventKind.no_spraying: ("wet_earthwork", Severity.medium),
    VideoEventKind.other: ("illegal_behaviour_on_video", Severity.low),
})  # fmt: skip

VIDEO_KIND_LABELS = MappingProxyType({
    VideoEventKind.bare_soil_uncovered: ("裸土未覆盖", "Bare soil uncovered"),
    VideoEventKind.vehicle_not_washed: ("车辆未冲洗", "Vehicle not washed"),
    VideoEventKind.dust_plume: ("扬尘", "Dust plume"),
    VideoEventKind.hoarding_broken: ("围挡破损", "Hoarding broken"),
    VideoEventKind.no_spraying: ("未喷淋降尘", "No spraying"),
    VideoEventKind.other: ("其他违规", "Other violation"),
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class IntakePolicy:
    """The numbers every intake channel computes with."""

    version: str = "2026.2"
    # video AI: events below this confidence are recorded, but open no case
    video_min_confidence: float = 0.6
    # video AI: an event older than this (vendor backlog) or this far in the future
    # (camera clock) is refused, so no case starts its clock long ago or later
    video_max_age: timedelta = timedelta(hours=24)
    video_max_skew: timedelta = timedelta(minutes=5)
    # snapshots: the smaller of this and ``Settings.attachment_max_bytes``
    snapshot_max_bytes: int = 5 * 1024 * 1024
    # hotline: a complaint counts as answered in time when responded to within this
    hotline_response_limit: timedelta = timedelta(hours=24)
    # hotline: a score (1–5) at or above this is "satisfied" when no yes/no was given
    satisfied_min_score: int = 4
    # hotline: how many sites the desk is shown, best score first (``hotline_match``)
    suggestion_count: int = 5
    # hotline: the parts of a site's score (weighted mean of those that can be computed):
    # the place text found in its name/address, its distance, the same district
    suggestion_text_weight: float = 0.5
    suggestion_distance_weight: float = 0.4
    suggestion_district_weight: float = 0.1
    # hotline: a site this far from the complaint's point gets half the distance part
    suggestion_half_distance_m: float = 300.0
    # hotline: sites scoring below this are not proposed (unrelated sites)
    suggestion_min_score: float = 0.2
    # hotline duplicates: place texts at least this alike (Dice of character pairs, 0–1)
    # within ``duplicate_window`` of each other are likely the same problem
    duplicate_place_min: float = 0.5
    duplicate_window: timedelta = timedelta(hours=48)
    # hotline duplicates: the same caller's number within ``duplicate_caller_window``,
    # place or description at least ``duplicate_caller_text_min`` alike
    duplicate_caller_window: timedelta = timedelta(hours=24)
    duplicate_caller_text_min: float = 0.3
    # Open311: a point at most this far outside every drawn district boundary is still the
    # city's (taken into the nearest district); further out it is refused
    open311_city_edge_m: float = 500.0
    # Open311: an address_string locates a request at a ledger site only when the matched
    # site address or name (or the address text itself) has at least this many characters
    open311_address_min_chars: int = 4

    def __post_init__(self) -> None:
        if not 0 <= self.video_min_confidence <= 1:
            raise ValueError("video_min_confidence must be within 0..1")
        if not 1 <= self.satisfied_min_score <= 5:
            raise ValueError("satisfied_min_score must be within 1..5")
        shares = (self.suggestion_min_score, self.duplicate_place_min,
                  self.duplicate_caller_text_min)  # fmt: skip
        if not all(0 <= v <= 1 for v in shares):
            raise ValueError("scores and similarities must be within 0..1")
        weights = (self.suggestion_text_weight, self.suggestion_distance_weight,
                   self.suggestion_district_weight)  # fmt: skip
        if min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("suggestion weights must not be negative, nor all zero")
        if self.suggestion_half_distance_m <= 0:
            raise ValueError("suggestion_half_distance_m must be positive")
        if self.duplicate_window <= timedelta(0) or self.duplicate_caller_window <= timedelta(0):
            raise ValueError("duplicate windows must be positive")
        if self.open311_city_edge_m < 0:
            raise ValueError("open311_city_edge_m must not be negative")
        if (self.snapshot_max_bytes <= 0 or self.suggestion_count <= 0
                or self.open311_address_min_chars <= 0):  # fmt: skip
            raise ValueError("sizes and counts must be positive")


BASIS = MappingProxyType({
    "video_min_confidence": "platform default",
    "video_max_age": "platform default",
    "video_max_skew": "platform default",
    "snapshot_max_bytes": "platform default",
    "hotline_response_limit": "platform default (domain.md §8 names the rate, not the limit)",
    "satisfied_min_score": "platform default",
    "suggestion_count": "platform default",
    "suggestion_text_weight": "platform default (the place named matters most)",
    "suggestion_distance_weight": "platform default",
    "suggestion_district_weight": "platform default",
    "suggestion_half_distance_m": "platform default (a site fence is a few hundred metres)",
    "suggestion_min_score": "platform default",
    "duplicate_place_min": "platform default",
    "duplicate_window": "platform default (as DedupPolicy.hotline_window)",
    "duplicate_caller_window": "platform default (a caller calling back the same day)",
    "duplicate_caller_text_min": "platform default",
    "open311_city_edge_m": "platform default (boundaries are digitised from coarse maps)",
    "open311_address_min_chars": "platform default (shorter text matches too many sites)",
})  # fmt: skip

DEFAULT_INTAKE_POLICY = IntakePolicy()


def intake_policy(settings: Settings | None = None) -> IntakePolicy:
    """The policy in force: defaults, overridden by ``Settings.intake_<field>`` if defined."""
    policy = DEFAULT_INTAKE_POLICY
    if settings is None:
        return policy
    changes: dict[str, Any] = {}
    for f in fields(IntakePolicy):
        if f.name == "version":
            continue
        value = getattr(settings, f"intake_{f.name}", None)
        if value is None or value == getattr(policy, f.name):
            continue
        if isinstance(getattr(policy, f.name), timedelta) and not isinstance(value, timedelta):
            value = timedelta(seconds=float(value))
        changes[f.name] = value
    if not changes:
        return policy
    return replace(policy, version=f"{policy.version}+local", **changes)


def snapshot_limit(settings: Settings, policy: IntakePolicy) -> int:
    """Largest snapshot accepted: the intake limit, never above the attachment limit."""
    return min(policy.snapshot_max_bytes, settings.attachment_max_bytes)
