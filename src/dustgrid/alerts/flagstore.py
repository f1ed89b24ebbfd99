"""Where data-quality flags are kept: insert a flag or extend the stored one it touches.

Used by the periodic detectors (``alerts.flags``) and by the ingest path as frames arrive
(time flags, replayed frames), so it imports no more than the tables it writes and the
pure detectors: not the alert lifecycle. Never commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.orm import Session

from dustgrid.alerts.engine import quality as detectors
from dustgrid.alerts.models import QualityFlagRow
from dustgrid.alerts.repository import quality as flag_repo
from dustgrid.devices.models import Device

#: The detectors' rules and numbers (alerts/engine/quality.py) as one version: 2026.2 added
#: replayed_series and replayed_frame.
DETECTOR_VERSION: Final = "2026.2"
MERGE_GAP: Final = timedelta(minutes=5)
CHUNK: Final = 200


def note_repeated_frames(
    session: Session, repeats: Iterable[tuple[int, datetime, datetime]]
) -> int:
    """Flag frames that arrived again: ``repeats`` are (device id, data time, received at) of
    real-time uploads in a batch the store found rows of already (the ingest path calls this
    only then). The pure rule decides: a copy at least ``REPLAY_MIN_DELAY`` after the first
    is a replay, quicker ones are transport retries (and the batch's own new rows, received
    just now, are no repeat at all). Returns the number of flags stored or extended."""
    received = {(dev, t): at for dev, t, at in repeats}
    wanted = sorted(received)
    if not wanted:
        return 0
    first: dict[tuple[int, datetime], datetime] = {}
    for i in range(0, len(wanted), CHUNK):
        part = wanted[i : i + CHUNK]
        rows = flag_repo.first_receipts_of(session, part)
        first.update({(dev, t): seen for dev, t, seen in rows})
    stored = 0
    devices: dict[int, Device | None] = {}
    for (device_id, data_time), seen in first.items():
        again = received[(device_id, data_time)]
        frames = [detectors.Frame(data_time, seen, {}), detectors.Frame(data_time, again, {})]
        for flag in detectors.replayed_frames(frames):
            if device_id not in devices:
                devices[device_id] = session.get(Device, device_id)
            device = devices[device_id]
            if device is not None:
                store_flag(session, device, flag)
                stored += 1
    return stored


def store_flag(
    session: Session, device: Device, flag: detectors.QualityFlag
) -> tuple[QualityFlagRow, bool]:
    """Insert the flag or extend the stored one it overlaps; (row, created)."""
    row = flag_repo.touching_flag(
        session, device.id, flag.kind, flag.metric, flag.start, flag.end, MERGE_GAP
    )
    if row is not None:
        row.start_at, row.end_at = min(row.start_at, flag.start), max(row.end_at, flag.end)
        row.detail = flag.detail
        return row, False
    row = QualityFlagRow(
        device_id=device.id,
        site_id=device.site_id,
        provider_id=device.provider_id,
        kind=flag.kind,
        metric=flag.metric,
        start_at=flag.start,
        end_at=flag.end,
        detail=flag.detail,
        detector_version=DETECTOR_VERSION,
    )
    session.add(row)
    return row, True
