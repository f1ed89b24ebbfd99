"""Inspection numbers as named, versioned settings (docs/inspections.md).

The check-in fence (how far from the site a phone may be), the photo checks (how far from
the site and from the visit's time a photo may have been taken) and who may check a site
by video. Numbers not taken from the rules are marked "platform default" in ``basis``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from dustgrid.identity.roles import Role


@dataclass(frozen=True, slots=True)
class CheckInPolicy:
    """A check-in is accepted within ``radius_m`` of the site's drawn boundary (or of its
    point when no boundary is drawn). Video checks (视频巡查) are for ``video_roles`` only:
    they count towards an officer's quota (domain.md §3)."""

    version: str = "2026.2"
    radius_m: float = 200.0
    # The phone's reported accuracy is recorded; a fix worse than this is refused as unusable.
    max_accuracy_m: float = 1000.0
    video_roles: frozenset[Role] = frozenset({Role.officer})
    # A check-in queued on the phone (no network on site) keeps the phone's time, at most
    # this long ago: three days cover a weekend's field work without coverage.
    max_client_age: timedelta = timedelta(hours=72)
    basis: str = (
        "platform default (radius 200 m; a queued check-in at most 72 h old); video checks "
        "count for officers (seed 000 §3)"
    )


@dataclass(frozen=True, slots=True)
class PhotoCheckPolicy:
    """What the EXIF check flags: a photo with no EXIF time or position, taken farther than
    ``max_distance_m`` from the site, or more than ``max_time_off`` from the visit."""

    version: str = "2026.1"
    max_distance_m: float = 500.0
    max_time_off: timedelta = timedelta(hours=2)
    max_photos_per_visit: int = 40
    basis: str = "platform default"


DEFAULT_CHECK_IN_POLICY = CheckInPolicy()
DEFAULT_PHOTO_CHECK_POLICY = PhotoCheckPolicy()
