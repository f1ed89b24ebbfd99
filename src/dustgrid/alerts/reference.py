"""Reference stations (国控/省控点): hourly CSV import and the AQI shown for them.

Reference stations are devices of kind ``reference_station``; live ones report through the
same ingest paths as site monitors. Stations the platform cannot reach are fed from hourly
exports: :func:`import_prsa` reads the PRSA layout (``year,month,day,hour,PM2.5,PM10,…``,
``NA`` for missing) and stores hour averages (kind ``havg``, source ``csv``) at their data
time; hour ``h`` is the window ``[h:00, h+1:00)`` in the given time zone, as HJ 212 stamps
its 2061 hour data. Re-importing is harmless (the store keeps the first value).

AQI per HJ 633-2012 (``alerts.engine.aqi``) on 24-hour averages: the mean of the day's hourly
means, valid when at least 20 hours have one (GB 3095-2012 §8, data validity).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.alerts.engine.aqi import HJ633_VERSION, aqi
from dustgrid.alerts.engine.windows import MINUTES_PER_HOUR, bucket_values
from dustgrid.alerts.repository import sources
from dustgrid.alerts.series import REFERENCE_KINDS, load_readings
from dustgrid.devices.models import DeviceKind
from dustgrid.errors import Invalid
from dustgrid.identity.principal import Principal
from dustgrid.models import utcnow
from dustgrid.telemetry.store import ReadingRow, write_readings

COLUMNS: Final = {"PM2.5": "pm25", "PM10": "pm10"}
TIME_COLUMNS: Final = ("year", "month", "day", "hour")
MISSING: Final = frozenset({"", "na", "nan", "null"})
KIND: Final = "havg"
SOURCE: Final = "csv"
BATCH: Final = 5000
HOUR: Final = timedelta(hours=1)  # a row of hour h is the average of [h:00, h+1:00)
MIN_HOURS_PER_DAY: Final = 20  # GB 3095-2012 §8: a 24-hour mean needs 20 hourly values


@dataclass
class ImportReport:
    rows: int = 0
    new: int = 0
    skipped: int = 0
    first: datetime | None = None
    last: datetime | None = None
    problems: list[str] = field(default_factory=list)


def _value(raw: str | None) -> float | None:
    text = (raw or "").strip()
    if text.lower() in MISSING:
        return None
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"bad value {text!r}")
    return value


def parse_prsa(
    path: Path,
    device_id: int,
    tz: ZoneInfo,
    *,
    start: date | None = None,
    end: date | None = None,
    shift: timedelta = timedelta(0),
    until: datetime | None = None,
    report: ImportReport,
) -> Iterator[ReadingRow]:
    """Rows of a PRSA CSV as hour-average readings (missing values are skipped).

    ``start``/``end`` select the file's days; ``shift`` then moves them (to replay an old
    year as the demo's present); hours not over by ``until`` (after the shift) are left
    out: an hour's average exists once the hour is over.
    """
    now = utcnow()
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in (*TIME_COLUMNS, *COLUMNS) if c not in (reader.fieldnames or [])]
        if missing:
            raise Invalid("alerts.error.missing_columns", missing=", ".join(missing))
        for row in reader:
            try:
                y, m, d, h = (int(row[c]) for c in TIME_COLUMNS)
                stamped = datetime(y, m, d, h, tzinfo=tz)
            except (TypeError, ValueError) as exc:
                report.problems.append(f"line {reader.line_num}: {exc}")
                report.skipped += 1
                continue
            if (start and stamped.date() < start) or (end and stamped.date() > end):
                continue  # the filter reads the file's own dates, before any shift
            t = (stamped + shift).astimezone(UTC)
            if until is not None and t + HOUR > until:
                continue
            for column, metric in COLUMNS.items():
                try:
                    value = _value(row.get(column))
                except ValueError as exc:
                    report.problems.append(f"line {reader.line_num}: {exc}")
                    value = None
                if value is None:
                    report.skipped += 1
                    continue
                report.first = t if report.first is None else min(report.first, t)
                report.last = t if report.last is None else max(report.last, t)
                yield ReadingRow(
                    device_id=device_id,
                    metric=metric,
                    kind=KIND,
                    data_time=t,
                    value=value,
                    flag="N",
                    valid=True,
                    source=SOURCE,
                    received_at=now,
                )


def import_prsa(
    session: Session,
    path: Path,
    *,
    mn: str,
    tz: ZoneInfo,
    start: date | None = None,
    end: date | None = None,
    shift: timedelta = timedelta(0),
    until: datetime | None = None,
) -> ImportReport:
    """Store a station's hourly CSV (the caller commits)."""
    device = sources.device_by_mn(session, mn)
    if device is None:
        raise Invalid("alerts.error.no_device_mn", mn=mn)
    if device.kind != DeviceKind.reference_station:
        raise Invalid("alerts.error.not_reference_station", mn=mn)
    report = ImportReport()
    batch: list[ReadingRow] = []
    conn = session.connection()
    rows = parse_prsa(
        path, device.id, tz, start=start, end=end, shift=shift, until=until, report=report
    )
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            report.new += write_readings(conn, batch)
            report.rows += len(batch)
            batch = []
    if batch:
        report.new += write_readings(conn, batch)
        report.rows += len(batch)
    return report


def daily_aqi(readings_by_metric: dict[str, list[Any]], tz: ZoneInfo) -> dict[date, dict[str, Any]]:
    """Per local day: 24-hour means of PM2.5 and PM10 and the AQI (HJ 633-2012)."""
    means: dict[date, dict[str, float | None]] = {}
    for metric in COLUMNS.values():
        readings = readings_by_metric.get(metric, [])
        hours = bucket_values(readings, metric, MINUTES_PER_HOUR, tz)
        per_day: dict[date, list[float]] = {}
        for start, values in hours.items():
            per_day.setdefault(start.date(), []).append(math.fsum(values) / len(values))
        for day, hourly in per_day.items():
            ok = len(hourly) >= MIN_HOURS_PER_DAY
            means.setdefault(day, {})[metric] = math.fsum(hourly) / len(hourly) if ok else None
    out: dict[date, dict[str, Any]] = {}
    for day in sorted(means):
        result = aqi(means[day])
        out[day] = {
            "date": day.isoformat(),
            "pm25": _r(means[day].get("pm25")),
            "pm10": _r(means[day].get("pm10")),
            "aqi": result.aqi if result else None,
            "category_zh": result.category.zh if result else None,
            "category_en": result.category.en if result else None,
            "level": result.category.level if result else None,
            "primary": list(result.primary) if result else [],
        }
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def station_aqi(
    session: Session,
    principal: Principal,
    *,
    now: datetime,
    tz: ZoneInfo,
    days: int = 7,
    device_id: int | None = None,
) -> list[dict[str, Any]]:
    """Visible reference stations with their daily AQI over the last ``days`` local days."""
    stations = sources.visible_reference_stations(session, principal, device_id)
    first_day = (now.astimezone(tz) - timedelta(days=days - 1)).date()
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=tz).astimezone(UTC)
    end = now + timedelta(minutes=1)
    by_dev = load_readings(
        session, [s.id for s in stations], list(COLUMNS.values()), start, end, kinds=REFERENCE_KINDS
    )
    out = []
    for s in stations:
        readings = by_dev.get(s.id, [])
        split = {m: [r for r in readings if r.metric == m] for m in COLUMNS.values()}
        table = daily_aqi(split, tz)
        out.append(
            {
                "device_id": s.id,
                "mn": s.mn,
                "name": s.name,
                "district_id": s.district_id,
                "online": bool(s.online),
                "standard": HJ633_VERSION,
                "days": [table[d] for d in sorted(table)],
            }
        )
    return out
