"""A raw reading as every ingest hands it to the store, and the 15-minute dirty-mark grain."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Final

WINDOW: Final = timedelta(minutes=15)  # the finest roll-up window, and the dirty-mark grain
_WINDOW_S: Final = int(WINDOW.total_seconds())
COLUMNS: Final = (
    "device_id",
    "metric",
    "kind",
    "data_time",
    "value",
    "flag",
    "valid",
    "source",
    "received_at",
)
_COLS: Final = ", ".join(COLUMNS)
_as_tuple = attrgetter(*COLUMNS)
_data_time = attrgetter("data_time")
_device_id = attrgetter("device_id")


# Not frozen (treat it as immutable; hashable all the same): a frozen dataclass's __init__
# costs ~4x more, and the HJ 212 listener builds ~10 rows per frame on its event loop.
@dataclass(slots=True, unsafe_hash=True)
class ReadingRow:
    """One raw reading ready to store (canonical unit, aware UTC ``data_time``)."""

    device_id: int
    metric: str
    kind: str
    data_time: datetime
    value: float | None
    flag: str
    valid: bool
    source: str
    received_at: datetime


def window_start(t: datetime) -> datetime:
    """Start (aware UTC) of the 15-minute window holding ``t``.

    A local 15-minute window is also a UTC one: every zone offset in use is a multiple of
    15 minutes, so the write path needs no time zone.
    """
    ts = int(t.timestamp())
    return datetime.fromtimestamp(ts - ts % _WINDOW_S, UTC)


def check_aware(times: Iterable[datetime]) -> None:
    for t in times:
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"naive datetime {t!r} given to the reading store (want aware UTC)")
