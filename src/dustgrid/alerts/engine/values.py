"""What the engine judges: stored readings and 15-minute roll-ups, as plain tuples.

The runtime (``alerts.fetch``) reads them from the database; the engine (``judge``) only
counts and buckets them.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class Value(NamedTuple):
    """One stored reading: ``ok`` is the pure engine's validity (valid flag, finite value)."""

    time: datetime
    value: float | None
    ok: bool
    flag: str


class Granule(NamedTuple):
    """A device's 15-minute roll-up of one metric: the valid values' mean and count."""

    start: datetime
    mean: float | None
    count_valid: int
    count_total: int
