"""Stored readings as the pure engine's series: one site's monitors, a district's stations.

Why a module of its own: the live evaluator, the replay/dry run and the alert page's chart
must judge exactly the same values. Rules (the same as the roll-ups, ``telemetry.policy``):

* a device may send real-time (``rtd``) and minute (``avg``) values for the same minutes;
  per device, metric and 15-minute granule the kind with the most valid values is used, so
  nothing is counted twice (reference stations may also send hour averages, ``havg``);
* invalid readings stay in the series with an invalid flag, so the pure engine drops them
  by its own rule (``windows.Reading.valid``); the live evaluator reads the same values
  without building reading objects (``fetch.py``);
* reference readings carry the station's MN as ``source``; several stations of a
  district are averaged window by window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final, NamedTuple

from sqlalchemy.orm import Session

from dustgrid.alerts.engine.profiles import DeclaredPeriod, EvalContext
from dustgrid.alerts.engine.windows import VALID_FLAGS
from dustgrid.alerts.engine.windows import Reading as PureReading
from dustgrid.alerts.fetch import fetch
from dustgrid.alerts.repository import sources
from dustgrid.sites.models import Site

SITE_KINDS: Final = ("rtd", "avg")
REFERENCE_KINDS: Final = ("rtd", "avg", "havg")
INVALID_FLAG: Final = "F"  # what a stored ``valid = false`` row becomes for the pure engine


class SiteInfo(NamedTuple):
    """What judging a site needs of it (read without the ORM: a round reads every site)."""

    id: int
    name: str
    district_id: int | None
    built_up_area: bool
    stage: str
    #: declared emergency orders covering the site during the round (evaluate.py).
    declared: tuple[DeclaredPeriod, ...] = ()


def site_infos(session: Session, site_ids: Iterable[int]) -> dict[int, SiteInfo]:
    out: dict[int, SiteInfo] = {}
    for sid, name, district, built_up, stage in sources.site_facts(session, sorted(site_ids)):
        out[sid] = SiteInfo(sid, name, district, bool(built_up), getattr(stage, "value", stage))
    return out


def site_context(
    site: Site | SiteInfo, tz: Any, declared: tuple[DeclaredPeriod, ...] = ()
) -> EvalContext:
    """Site facts the profiles need: area class (built-up or not), construction stage, and
    the declared emergency orders covering it."""
    return EvalContext(
        tz=tz,
        area="built-up" if site.built_up_area else "other",
        stage=getattr(site.stage, "value", site.stage),
        declared=declared or getattr(site, "declared", ()),
    )


def monitors_by_site(
    session: Session, site_ids: Iterable[int] | None = None
) -> dict[int, list[int]]:
    """Active dust monitors per (non-retired) site."""
    out: dict[int, list[int]] = defaultdict(list)
    for site_id, dev in sources.live_monitors(session, site_ids):
        if site_id is not None:
            out[int(site_id)].append(int(dev))
    return dict(out)


def reference_devices(session: Session) -> dict[int | None, list[tuple[int, str]]]:
    """Active reference stations per district (``None``: every station of the city)."""
    out: dict[int | None, list[tuple[int, str]]] = defaultdict(list)
    for district, dev, mn in sources.live_reference_stations(session):
        out[district].append((int(dev), mn))
        out[None].append((int(dev), mn))
    return dict(out)


def stations_for(
    refs: dict[int | None, list[tuple[int, str]]], district_id: int | None
) -> list[tuple[int, str]]:
    """The district's stations, else the city's (a district without a control point is
    compared with the city's background)."""
    return refs.get(district_id) or refs.get(None, [])


def load_readings(
    session: Session,
    device_ids: Sequence[int],
    metrics: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    kinds: Sequence[str] = SITE_KINDS,
    sources: dict[int, str] | None = None,
) -> dict[int, list[PureReading]]:
    """Per device, its readings of ``metrics`` in ``[start, end)`` as pure readings, one
    kind per device × metric × 15-minute granule (``fetch.fetch``)."""
    out: dict[int, list[PureReading]] = {}
    names = sources or {}
    for (dev, metric), values in fetch(session, device_ids, metrics, kinds, start, end).items():
        source = names.get(dev, str(dev))
        out.setdefault(dev, []).extend(
            PureReading(
                v.time,
                metric,
                v.value,
                (v.flag if v.flag in VALID_FLAGS else "N") if v.ok else INVALID_FLAG,
                source,
            )  # fmt: skip
            for v in values
        )
    for series in out.values():
        series.sort(key=lambda r: r.time)
    return out


def site_series(
    session: Session,
    device_ids: Sequence[int],
    metrics: Sequence[str],
    start: datetime,
    end: datetime,
) -> list[PureReading]:
    """All of a site's monitors in one series (each value counts once in a window mean)."""
    by_device = load_readings(session, device_ids, metrics, start, end)
    merged = [r for rows in by_device.values() for r in rows]
    merged.sort(key=lambda r: r.time)
    return merged


def reference_series(
    session: Session,
    stations: Sequence[tuple[int, str]],
    metrics: Sequence[str],
    start: datetime,
    end: datetime,
) -> list[PureReading]:
    """The stations' readings (source = MN) over ``[start, end)``."""
    ids = [d for d, _ in stations]
    by_device = load_readings(
        session, ids, metrics, start, end, kinds=REFERENCE_KINDS, sources=dict(stations)
    )
    merged = [r for rows in by_device.values() for r in rows]
    merged.sort(key=lambda r: r.time)
    return merged
