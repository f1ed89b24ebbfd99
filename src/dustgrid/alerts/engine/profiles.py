"""Dust standards as data: versioned rule profiles a city picks and tunes.

Each provincial standard is encoded once as a frozen :class:`Profile`; every
number taken from a standard is a named constant below, tagged with the
standard's version, and reaches the rule logic only through profile fields.
A city adapts a profile with :func:`tune`, which records what was changed so
an audit can tell the published standard from the local setting.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from dustgrid.alerts.engine.aqi import BREAKPOINTS, HEAVY_POLLUTION_AQI_ABOVE, iaqi
from dustgrid.alerts.engine.windows import (
    DEFAULT_TZ_NAME,
    MINUTES_PER_HOUR,
    Aggregation,
    check_window_minutes,
    mg_m3,
)

RuleKind = Literal["absolute", "difference"]
LimitBasis = Literal["fixed", "area", "stage", "day_night"]

AREA_CLASSES = ("built-up", "other")  # 城市建成区 / elsewhere
STAGES = (
    "earthwork",
    "foundation",
    "structure",
    "decoration",
    "demolition",
    "completed",
    "suspended",
)
UG = "µg/m³"
DBA = "dB(A)"
# Day period (昼间) of day/night limits, per the platform spec 07:00-22:00.  The
# national default (noise law, GB 12523-2011 §3) is 06:00-22:00 and cities may
# set their own, hence a profile setting.
DAY_PERIOD_START = time(7)
DAY_PERIOD_END = time(22)


class ContextError(ValueError):
    """The profile needs a site attribute (area class, stage) that was not given."""


@dataclass(frozen=True)
class DeclaredPeriod:
    """A declared heavy-pollution emergency order covering the site, ``[start, end)``.

    While one covers a window, the site is held to its emergency order: exceedances are
    the site's own (``held`` stays False) even when the region is polluted.
    """

    start: datetime
    end: datetime
    level: str
    emergency_id: int = 0

    def covers(self, t: datetime) -> bool:
        return self.start <= t < self.end


@dataclass(frozen=True)
class EvalContext:
    """Site and city facts a rule needs besides the data."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TZ_NAME))
    area: str | None = None
    stage: str | None = None
    #: Regional AQI supplied by the caller; overrides the AQI derived from the
    #: reference window when deciding the regional-episode hold.
    regional_aqi: float | None = None
    #: Declared emergency orders of the site (input data; see DeclaredPeriod).
    declared: tuple[DeclaredPeriod, ...] = ()

    def order_at(self, t: datetime) -> DeclaredPeriod | None:
        """The declared order covering ``t`` (the first one given), if any."""
        return next((p for p in self.declared if p.covers(t)), None)


@dataclass(frozen=True)
class Profile:
    """One alert rule.  ``limits`` keys are area classes, stages or day/night."""

    id: str
    version: str
    standard: str
    title_zh: str
    title_en: str
    metric: str
    window_minutes: int
    aggregation: Aggregation = "mean"
    kind: RuleKind = "absolute"
    limit_basis: LimitBasis = "fixed"
    limit: float | None = None
    limits: tuple[tuple[str, float | None], ...] = ()
    unit: str = UG
    day_period_start: time = DAY_PERIOD_START
    day_period_end: time = DAY_PERIOD_END
    #: difference kind: at most this much reference is subtracted.
    reference_cap: float | None = None
    #: valid values a window needs to count (see module docs of rules.py).
    min_valid_count: int = 1
    #: a local day fails when its exceeding windows are MORE than this.
    day_max_exceedances: int = 0
    #: consecutive exceeding windows before an alert goes active.
    raise_after: int = 1
    #: consecutive clear windows before an active alert clears.
    clear_after: int = 1
    #: difference kind: alerts are held while the reference AQI is above this.
    episode_hold_aqi_above: float | None = None
    #: fields changed from the published profile by :func:`tune`.
    tuned: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_window_minutes(self.window_minutes)
        if self.min_valid_count < 1 or self.raise_after < 1 or self.clear_after < 1:
            raise ValueError(f"{self.id}: counts must be >= 1")
        if self.day_max_exceedances < 0:
            raise ValueError(f"{self.id}: day_max_exceedances must be >= 0")
        if self.limit_basis == "fixed" and self.limit is None:
            raise ValueError(f"{self.id}: fixed limit missing")
        if self.limit_basis != "fixed" and not self.limits:
            raise ValueError(f"{self.id}: limits table missing for {self.limit_basis}")

    @property
    def limit_table(self) -> dict[str, float | None]:
        return dict(self.limits)

    def check_context(self, context: EvalContext) -> None:
        """Fail early, before any data is read, when a site attribute is missing."""
        key = {"area": context.area, "stage": context.stage}.get(self.limit_basis, "")
        if key is None:
            raise ContextError(f"profile {self.id} needs the site's {self.limit_basis}")
        if key and key not in self.limit_table:
            choices = ", ".join(self.limit_table)
            raise ContextError(f"profile {self.id}: unknown {self.limit_basis} {key!r} ({choices})")

    def limit_for(self, context: EvalContext, start: datetime) -> float | None:
        """Limit for a window starting at ``start``; None means "not evaluated"."""
        if self.limit_basis == "fixed":
            return self.limit
        self.check_context(context)
        table = self.limit_table
        if self.limit_basis == "area":
            return table[context.area or ""]
        if self.limit_basis == "stage":
            return table[context.stage or ""]
        clock = start.astimezone(context.tz).time()
        is_day = self.day_period_start <= clock < self.day_period_end
        return table["day" if is_day else "night"]

    def holds(
        self, reference: float | None, context: EvalContext, start: datetime | None = None
    ) -> bool:
        """Regional-episode hold: reference AQI above the hold level (difference kind only).

        Uses the caller's regional AQI, else the IAQI of the reference window
        average on HJ 633-2012's 24-hour breakpoints (there are no 1-hour ones).
        Never while a declared emergency order covers the window starting at ``start``.
        """
        if self.kind != "difference" or self.episode_hold_aqi_above is None:
            return False
        if start is not None and context.order_at(start) is not None:
            return False
        regional = context.regional_aqi
        if regional is None and reference is not None and self.metric in BREAKPOINTS:
            regional = iaqi(self.metric, max(reference, 0.0))
        return regional is not None and regional > self.episode_hold_aqi_above

    def describe(self) -> dict[str, object]:
        """Plain JSON-ready description for listings and audit records."""
        return {
            "id": self.id,
            "version": self.version,
            "standard": self.standard,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "metric": self.metric,
            "window_minutes": self.window_minutes,
            "kind": self.kind,
            "limit": self.limit,
            "limits": self.limit_table,
            "unit": self.unit,
            "tuned": list(self.tuned),
        }


# --- DB13/2934-2019 Hebei 施工场地扬尘排放标准 ---------------------------------
HEBEI_VERSION = "DB13/2934-2019"
HEBEI_PM10_NET_HOURLY_LIMIT = 80.0  # µg/m³, site hour average minus reference
HEBEI_REFERENCE_CAP = 150.0  # µg/m³, largest reference value that is subtracted
HEBEI_DAY_MAX_EXCEEDING_HOURS = 2  # a day with more exceeding hours fails

# --- DB31/964-2016 Shanghai 建筑施工颗粒物控制标准 ------------------------------
SHANGHAI_VERSION = "DB31/964-2016"
SHANGHAI_WINDOW_MINUTES = 15
# Tunable default, not a quoted figure: cities set their own value via tune().
SHANGHAI_PM10_15MIN_LIMIT_DEFAULT = 100.0  # µg/m³
SHANGHAI_DAY_MAX_EXCEEDING_WINDOWS = 1

# --- DB21/2642-2016 Liaoning 施工及堆料场地扬尘排放标准 --------------------------
LIAONING_VERSION = "DB21/2642-2016"
LIAONING_WINDOW_MINUTES = 5
LIAONING_TSP_LIMIT_BUILT_UP = mg_m3(0.8)  # 城市建成区
LIAONING_TSP_LIMIT_OTHER = mg_m3(1.0)

# --- DB61/1078-2017 Shaanxi 施工场界扬尘排放限值 --------------------------------
SHAANXI_VERSION = "DB61/1078-2017"
SHAANXI_TSP_LIMIT_EARTH_STAGES = mg_m3(0.8)  # demolition, earthwork, foundation
SHAANXI_TSP_LIMIT_BUILD_STAGES = mg_m3(0.7)  # structure, decoration

# --- GB 12523-2011 建筑施工场界环境噪声排放标准 ---------------------------------
NOISE_VERSION = "GB 12523-2011"
NOISE_DAY_LIMIT = 70.0  # dB(A)
NOISE_NIGHT_LIMIT = 55.0  # dB(A)
NOISE_DAY_START = DAY_PERIOD_START
NOISE_DAY_END = DAY_PERIOD_END

PROFILE_DATA_VERSION = "1"

HEBEI = Profile(
    id="hebei-db13-2934-2019",
    version=f"{HEBEI_VERSION}/{PROFILE_DATA_VERSION}",
    standard=HEBEI_VERSION,
    title_zh="施工场地扬尘排放标准（河北）",
    title_en="Hebei construction-site dust emission standard",
    metric="pm10",
    window_minutes=MINUTES_PER_HOUR,
    kind="difference",
    limit=HEBEI_PM10_NET_HOURLY_LIMIT,
    reference_cap=HEBEI_REFERENCE_CAP,
    day_max_exceedances=HEBEI_DAY_MAX_EXCEEDING_HOURS,
    episode_hold_aqi_above=HEAVY_POLLUTION_AQI_ABOVE,
)
SHANGHAI = Profile(
    id="shanghai-db31-964-2016",
    version=f"{SHANGHAI_VERSION}/{PROFILE_DATA_VERSION}",
    standard=SHANGHAI_VERSION,
    title_zh="建筑施工颗粒物控制标准（上海）",
    title_en="Shanghai building-construction particulate control standard",
    metric="pm10",
    window_minutes=SHANGHAI_WINDOW_MINUTES,
    limit=SHANGHAI_PM10_15MIN_LIMIT_DEFAULT,
    day_max_exceedances=SHANGHAI_DAY_MAX_EXCEEDING_WINDOWS,
)
LIAONING = Profile(
    id="liaoning-db21-2642-2016",
    version=f"{LIAONING_VERSION}/{PROFILE_DATA_VERSION}",
    standard=LIAONING_VERSION,
    title_zh="施工及堆料场地扬尘排放标准（辽宁）",
    title_en="Liaoning construction and stockpile site dust emission standard",
    metric="tsp",
    window_minutes=LIAONING_WINDOW_MINUTES,
    limit_basis="area",
    limits=(("built-up", LIAONING_TSP_LIMIT_BUILT_UP), ("other", LIAONING_TSP_LIMIT_OTHER)),
)
SHAANXI = Profile(
    id="shaanxi-db61-1078-2017",
    version=f"{SHAANXI_VERSION}/{PROFILE_DATA_VERSION}",
    standard=SHAANXI_VERSION,
    title_zh="施工场界扬尘排放限值（陕西）",
    title_en="Shaanxi construction-site boundary dust emission limits",
    metric="tsp",
    window_minutes=MINUTES_PER_HOUR,
    limit_basis="stage",
    limits=(
        ("demolition", SHAANXI_TSP_LIMIT_EARTH_STAGES),
        ("earthwork", SHAANXI_TSP_LIMIT_EARTH_STAGES),
        ("foundation", SHAANXI_TSP_LIMIT_EARTH_STAGES),
        ("structure", SHAANXI_TSP_LIMIT_BUILD_STAGES),
        ("decoration", SHAANXI_TSP_LIMIT_BUILD_STAGES),
        ("completed", None),
        ("suspended", None),
    ),
)
NOISE = Profile(
    id="noise-gb12523-2011",
    version=f"{NOISE_VERSION}/{PROFILE_DATA_VERSION}",
    standard=NOISE_VERSION,
    title_zh="建筑施工场界环境噪声排放标准（小时等效声级）",
    title_en="Construction-site boundary noise (hourly Leq, day/night)",
    metric="noise",
    window_minutes=MINUTES_PER_HOUR,
    aggregation="leq",
    limit_basis="day_night",
    limits=(("day", NOISE_DAY_LIMIT), ("night", NOISE_NIGHT_LIMIT)),
    unit=DBA,
    day_period_start=NOISE_DAY_START,
    day_period_end=NOISE_DAY_END,
)

BUILTIN_PROFILES: Mapping[str, Profile] = {
    p.id: p for p in (HEBEI, SHANGHAI, LIAONING, SHAANXI, NOISE)
}
ABSOLUTE_PREFIX = "absolute"


def absolute_profile(metric: str, window_minutes: int, limit: float, **settings: object) -> Profile:
    """A generic "window average above a fixed limit" rule on any metric."""
    unit = DBA if metric == "noise" else UG
    base = Profile(
        id=f"{ABSOLUTE_PREFIX}:{metric}:{window_minutes}:{limit:g}",
        version=f"local/{PROFILE_DATA_VERSION}",
        standard="local",
        title_zh=f"{metric} {window_minutes} 分钟均值超过 {limit:g}",
        title_en=f"{metric} {window_minutes}-min average above {limit:g}",
        metric=metric,
        window_minutes=window_minutes,
        aggregation="leq" if metric == "noise" else "mean",
        limit=limit,
        unit=unit,
    )
    return dataclasses.replace(base, **settings) if settings else base  # type: ignore[arg-type]


def get_profile(name: str) -> Profile:
    """Built-in profile by id, or ``absolute:METRIC:WINDOW_MIN:LIMIT`` (absolute:pm10:60:150)."""
    if name in BUILTIN_PROFILES:
        return BUILTIN_PROFILES[name]
    parts = name.split(":")
    if len(parts) == 4 and parts[0] == ABSOLUTE_PREFIX:
        try:
            return absolute_profile(parts[1], int(parts[2]), float(parts[3]))
        except ValueError as exc:
            raise KeyError(f"bad absolute profile spec {name!r}: {exc}") from None
    raise KeyError(f"unknown profile {name!r}; known: {', '.join(BUILTIN_PROFILES)}")


def tune(profile: Profile, **changes: object) -> Profile:
    """A city's variant of a profile; changed field names are recorded in ``tuned``."""
    names = {f.name for f in dataclasses.fields(Profile)} - {"id", "version", "standard", "tuned"}
    unknown = set(changes) - names
    if unknown:
        raise ValueError(f"cannot tune {sorted(unknown)}; tunable: {sorted(names)}")
    tuned = tuple(sorted(set(profile.tuned) | set(changes)))
    return dataclasses.replace(profile, tuned=tuned, **changes)  # type: ignore[arg-type]
