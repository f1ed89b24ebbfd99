"""Data-quality flags from stored readings: run the pure detectors, keep what they find.

Every ``quality_every`` the pure detectors (``alerts.engine.quality``) look at each active dust
monitor's last ``quality_lookback`` of readings (and its district's reference stations, for
the spray test). A finding overlapping or touching a stored flag of the same device, kind
and metric extends it, so re-running over overlapping history never double-counts. Flags
copy the device's site and provider, for the counts per site and per provider that the
assessment reads. Kinds in ``quality_case_kinds`` raise a ``quality:<kind>`` alert per
site (and so a case of their own kind); it clears after ``quality_clear_after`` without a
new flag. Replayed frames leave no trace in ``reading`` (the store keeps the first copy), so
the ingest path reports them as they arrive (``alerts.flagstore.note_repeated_frames``).
Never commits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from dustgrid.alerts import repository as repo
from dustgrid.alerts import service as alerts
from dustgrid.alerts.engine import quality as detectors
from dustgrid.alerts.engine.windows import Reading as PureReading
from dustgrid.alerts.flagstore import DETECTOR_VERSION, store_flag
from dustgrid.alerts.policy import DEFAULT_ALERT_POLICY, MEDIUM, AlertPolicy
from dustgrid.alerts.repository import quality as flag_repo
from dustgrid.alerts.repository import runtime as runtime_repo
from dustgrid.alerts.repository import sources
from dustgrid.alerts.series import load_readings, reference_devices, reference_series, stations_for
from dustgrid.i18n import Msg

VALUE_METRICS: Final = ("tsp", "pm10", "pm25")
METRICS: Final = (*VALUE_METRICS, "humidity")
CHUNK: Final = 200


@dataclass
class QualityReport:
    devices: int = 0
    new: int = 0
    extended: int = 0
    raised: int = 0
    cleared: int = 0


def find_flags(
    readings: list[PureReading], reference: list[PureReading], frames: list[detectors.Frame]
) -> list[detectors.QualityFlag]:
    """Every detector over one device's readings (pure; the detectors' default settings)."""
    found: list[detectors.QualityFlag] = []
    for metric in VALUE_METRICS:
        found += detectors.flat_line(readings, metric)
        found += detectors.repeated_value(readings, metric)
    found += detectors.pm25_above_pm10(readings)
    if reference:
        found += detectors.spray_drop(readings, reference, "pm10")
    found += detectors.high_humidity(readings)
    found += detectors.replayed_series(readings)
    found += detectors.clock_drift(frames)
    return found


def _frames(
    session: Session, device_ids: list[int], start: datetime, end: datetime
) -> dict[int, list[detectors.Frame]]:
    """Data time vs first receive time per device and data time (clock drift)."""
    out: dict[int, list[detectors.Frame]] = defaultdict(list)
    for dev, t, received in flag_repo.first_receipts(session, device_ids, start, end):
        out[dev].append(detectors.Frame(t, received, {}))
    return out


def detect_quality(
    session: Session, *, now: datetime, policy: AlertPolicy = DEFAULT_ALERT_POLICY
) -> QualityReport:
    report = QualityReport()
    start = now - policy.quality_lookback
    devices = sources.active_dust_monitors(session)
    refs = reference_devices(session)
    ref_cache: dict[int | None, list[PureReading]] = {}
    touched: dict[tuple[int, str], datetime] = {}
    for i in range(0, len(devices), CHUNK):
        part = devices[i : i + CHUNK]
        ids = [d.id for d in part]
        by_dev = load_readings(session, ids, METRICS, start, now)
        frames = _frames(session, ids, start, now)
        for device in part:
            readings = by_dev.get(device.id, [])
            if not readings:
                continue
            report.devices += 1
            if device.district_id not in ref_cache:
                ref_cache[device.district_id] = reference_series(
                    session, stations_for(refs, device.district_id), ["pm10"], start, now
                )
            for flag in find_flags(
                readings, ref_cache[device.district_id], frames.get(device.id, [])
            ):
                row, created = store_flag(session, device, flag)
                report.new += created
                report.extended += not created
                if flag.kind in policy.quality_case_kinds and device.site_id is not None:
                    key = (device.site_id, flag.kind)
                    touched[key] = max(touched.get(key, flag.start), flag.end)
        session.flush()
    _quality_alerts(session, touched, now, policy, report)
    return report


def _quality_alerts(
    session: Session,
    touched: dict[tuple[int, str], datetime],
    now: datetime,
    policy: AlertPolicy,
    report: QualityReport,
) -> None:
    from dustgrid.sites.models import Site

    for (site_id, kind), last in touched.items():
        rule = f"quality:{kind}"
        if repo.by_open_key(session, alerts.open_key(site_id, None, rule)) is not None:
            continue
        flags = flag_repo.site_flags_since(session, site_id, kind, last - policy.quality_lookback)
        site = session.get(Site, site_id)
        alerts.raise_alert(
            session,
            kind=rule,
            rule_key=rule,
            rule_version=f"quality/{DETECTOR_VERSION}",
            started_at=flags[0].start_at if flags else last,
            now=now,
            severity=MEDIUM,
            site_id=site_id,
            district_id=site.district_id if site else None,
            device_id=flags[0].device_id if flags else None,
            policy=policy,
            evidence={
                "flags": [
                    {
                        "device_id": f.device_id,
                        "metric": f.metric,
                        "start": f.start_at.isoformat(),
                        "end": f.end_at.isoformat(),
                        "detail": f.detail,
                    }
                    for f in flags[-10:]
                ],
                "detector_version": DETECTOR_VERSION,
            },
            description=Msg(
                "alerts.case.quality",
                {"where": site.name if site else str(site_id), "flag": Msg(f"alerts.flag.{kind}")},
            ),
        )
        report.raised += 1
    stale = now - policy.quality_clear_after
    for alert in runtime_repo.open_quality_alerts(session):
        kind = alert.kind.split(":", 1)[1]
        newest = flag_repo.newest_flag_end(session, alert.site_id, kind)
        if newest is None or newest < stale:
            alerts.clear_alert(session, alert, now=now, ended_at=newest, reason="condition_gone")
            report.cleared += 1
