"""What a simulated dust monitor measures: a pure function of (site seed, model time).

Why pure: a device answering a history request (backfill) must report the same minute
values it would have sent live, so nothing here keeps state or shares a random stream; each
quantity is drawn from a generator seeded by (site, time bucket).

Shape of the signal (µg/m³, canonical units):

* background: the city's hourly PM2.5/PM10 (the PRSA Dongsi series when the CSV is there,
  by calendar day and hour, interpolated) or a synthetic diurnal curve with morning and
  evening peaks (traffic, boundary layer);
* the site itself: extra dust in working hours, scaled by a per-site factor;
* dust events: per model hour a chance of an event (earthworks, a truck, wind) that adds
  100-600 µg/m³ of PM10 with a fast rise and an exponential decay;
* measurement noise of a few per cent; noise level 50-75 dB(A) by day, 40-55 at night.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

# HJ 212 pollutant codes the simulator sends (see dustgrid.ingest.hj212.codes)
TSP: Final = "a34001"
PM10: Final = "a34002"
PM25: Final = "a34004"
PM1: Final = "a34005"
NOISE: Final = "LA"
LA_CODE: Final = NOISE
TEMPERATURE: Final = "a01001"
HUMIDITY: Final = "a01002"
PRESSURE: Final = "a01006"
WIND_SPEED: Final = "a01007"
WIND_DIRECTION: Final = "a01008"
PARTICULATE_CODES: Final = frozenset({TSP, PM10, PM25, PM1})

DAY_START_H: Final = 6
DAY_END_H: Final = 22
WORK_START_H: Final = 7
WORK_END_H: Final = 18
NOISE_DAY_DB: Final = (50.0, 75.0)
NOISE_NIGHT_DB: Final = (40.0, 55.0)
EVENT_P_PER_HOUR: Final = 0.12
EVENT_PM10: Final = (100.0, 600.0)
EVENT_DECAY_MIN: Final = (8.0, 30.0)
EVENT_RISE_MIN: Final = 3.0
EVENT_PM25_SHARE: Final = 0.25
PM25_SHARE: Final = 0.55  # of background PM10
PM1_OF_PM25: Final = 0.7
TSP_OF_PM10: Final = 1.6
MEASUREMENT_NOISE: Final = 0.05
#: A site whose dust control has failed (bare soil, no spraying): its own dust times this.
DUSTY_FACTOR: Final = 12.0
SYNTH_PM10_BASE: Final = 70.0
PRSA_YEAR_SPRING: Final = 2016  # PRSA covers 2013-03 .. 2017-02: March-Dec from 2016 ...
PRSA_YEAR_WINTER: Final = 2017  # ... January-February from 2017
MARCH: Final = 3


def _peak(hour: float, centre: float, width: float) -> float:
    return math.exp(-(((hour - centre) / width) ** 2))


class Background:
    """Hourly city background PM (µg/m³) by calendar day and hour."""

    def __init__(self, hourly: Mapping[tuple[int, int, int], tuple[float, float]]) -> None:
        self._hourly = dict(hourly)  # (month, day, hour) -> (pm25, pm10)

    @classmethod
    def load(cls, path: Path | None) -> Background:
        """From a PRSA CSV (year,month,day,hour,PM2.5,PM10,...); synthetic when absent."""
        hourly: dict[tuple[int, int, int], tuple[float, float]] = {}
        if path is not None and path.is_file():
            with path.open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    try:
                        year, month = int(row["year"]), int(row["month"])
                        wanted = PRSA_YEAR_WINTER if month < MARCH else PRSA_YEAR_SPRING
                        if year != wanted:
                            continue
                        pm25, pm10 = float(row["PM2.5"]), float(row["PM10"])
                    except (KeyError, ValueError):
                        continue  # "NA" gaps: the synthetic curve fills them
                    hourly[(month, int(row["day"]), int(row["hour"]))] = (pm25, pm10)
        return cls(hourly)

    @property
    def real(self) -> bool:
        return bool(self._hourly)

    def at(self, t: datetime) -> tuple[float, float]:
        """(PM2.5, PM10) at ``t``, linear between hours."""
        a = self._hour(t.replace(minute=0, second=0, microsecond=0))
        b = self._hour(t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
        f = (t.minute * 60 + t.second) / 3600
        return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f

    def _hour(self, t: datetime) -> tuple[float, float]:
        found = self._hourly.get((t.month, t.day, t.hour))
        if found is not None:
            return found
        h = t.hour
        pm10 = SYNTH_PM10_BASE * (0.7 + 0.6 * _peak(h, 8, 2.5) + 0.5 * _peak(h, 20, 3))
        return pm10 * PM25_SHARE, pm10


def _rng(*key: object) -> random.Random:
    return random.Random(hash_key(*key))


def hash_key(*key: object) -> int:
    """A stable integer from the key (``hash()`` of str is salted per process)."""
    text = "|".join(map(str, key))
    value = 1469598103934665603
    for ch in text.encode():
        value = ((value ^ ch) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return value


@dataclass(frozen=True)
class SiteModel:
    """The measurements of one device; ``seed`` makes each site different but repeatable."""

    seed: int
    background: Background
    dusty: bool = False  # dust control failed: the site's own dust times DUSTY_FACTOR

    @property
    def site_factor(self) -> float:
        factor = 0.8 + 0.6 * _rng(self.seed, "site").random()
        return factor * DUSTY_FACTOR if self.dusty else factor

    def event_pm10(self, t: datetime) -> float:
        """Extra PM10 from dust events that started in the last three hours."""
        total = 0.0
        hour0 = t.replace(minute=0, second=0, microsecond=0)
        for back in range(3):
            h = hour0 - timedelta(hours=back)
            rng = _rng(self.seed, "event", h.isoformat())
            if rng.random() >= EVENT_P_PER_HOUR:
                continue
            start = h + timedelta(minutes=rng.uniform(0, 60))
            peak = rng.uniform(*EVENT_PM10)
            decay = rng.uniform(*EVENT_DECAY_MIN)
            age = (t - start).total_seconds() / 60
            if age < 0:
                continue
            rise = min(1.0, age / EVENT_RISE_MIN)
            total += peak * rise * math.exp(-max(0.0, age - EVENT_RISE_MIN) / decay)
        return total

    def values(self, t: datetime, *, sample: object = 0) -> dict[str, float]:
        """Every code's value (canonical units) at model time ``t``.

        ``sample`` varies the measurement noise (a minute's min/max use other samples).
        """
        rng = _rng(self.seed, "noise", t.replace(microsecond=0).isoformat(), sample)
        hour = t.hour + t.minute / 60
        bg25, bg10 = self.background.at(t)
        working = WORK_START_H <= hour < WORK_END_H
        site10 = (25.0 + 20.0 * _peak(hour, 10, 2) + 15 * _peak(hour, 15, 2)) if working else 5.0
        site10 *= self.site_factor
        event = self.event_pm10(t)
        jitter = 1 + rng.gauss(0, MEASUREMENT_NOISE)
        pm10 = max(1.0, (bg10 + site10 + event) * jitter)
        pm25 = max(1.0, (bg25 + 0.3 * site10 + EVENT_PM25_SHARE * event) * jitter)
        pm25 = min(pm25, pm10)
        day = DAY_START_H <= hour < DAY_END_H
        lo, hi = NOISE_DAY_DB if day else NOISE_NIGHT_DB
        level = 0.5 + 0.3 * math.sin((hour + self.seed % 7) / 24 * 2 * math.pi)
        noise = lo + (hi - lo) * min(1.0, max(0.0, level + rng.gauss(0, 0.12)))
        temp = 12 + 7 * math.sin((hour - 9) / 24 * 2 * math.pi) + rng.gauss(0, 0.3)
        humid = min(99.0, max(15.0, 60 - 1.8 * (temp - 12) + rng.gauss(0, 2)))
        wind = max(0.0, 2.2 + 1.2 * math.sin((hour - 13) / 24 * 2 * math.pi) + rng.gauss(0, 0.4))
        return {
            TSP: round(pm10 * TSP_OF_PM10, 1),
            PM10: round(pm10, 1),
            PM25: round(pm25, 1),
            PM1: round(pm25 * PM1_OF_PM25, 1),
            NOISE: round(noise, 1),
            TEMPERATURE: round(temp, 1),
            HUMIDITY: round(humid, 1),
            PRESSURE: round(101.3 + rng.gauss(0, 0.05), 2),
            WIND_SPEED: round(wind, 1),
            WIND_DIRECTION: round(rng.uniform(0, 360), 0),
        }


def in_unit(code: str, value: float, unit: str) -> float:
    """A canonical (µg/m³) particulate value in the device's unit (mg/m³ devices)."""
    if code in PARTICULATE_CODES and unit.lower().startswith("mg"):
        return round(value / 1000, 4)
    return value
