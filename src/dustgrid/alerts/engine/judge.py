"""Judging many sites' windows in one round, with the pure engine's own judgement.

``rules.evaluate_windows`` judges one series: it places every reading in its window (a
time-zone conversion per reading) and buckets the reference again for every site. A live
round judges thousands of sites over the same minutes, so :class:`Judge` keeps the same
rules - valid values only, grouped by window start, each window judged by
``rules.evaluate_window`` - but places each distinct time stamp once per round and lets a
district's reference be bucketed once. Windows of 15 minutes or a multiple are filled from
the roll-ups: ``count_valid`` copies of a device's 15-minute mean aggregate (arithmetically
or energetically) to exactly the window value of the values themselves, and the count is
the number of valid values, so ``min_valid_count`` and the result are unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dustgrid.alerts.engine.profiles import EvalContext, Profile
from dustgrid.alerts.engine.rules import WindowResult, evaluate_window
from dustgrid.alerts.engine.values import Granule, Value
from dustgrid.alerts.engine.windows import window_start

Buckets = dict[datetime, list[float]]
_HOURS: dict[datetime, str] = {}
ROLLUP_MINUTES = 15


def uses_rollups(profile: Profile) -> bool:
    """Windows made of whole roll-up quarters are judged from the roll-ups."""
    return profile.window_minutes % ROLLUP_MINUTES == 0


def _hour_key(t: datetime) -> str:
    h = _HOURS.get(t)
    if h is None:
        if len(_HOURS) > 100_000:
            _HOURS.clear()
        u = t.astimezone(UTC)
        h = _HOURS[t] = u.replace(minute=0, second=0, microsecond=0).isoformat()
    return h


def count_hours(values: Iterable[Value], until: datetime) -> dict[str, int]:
    """Readings per UTC hour (ISO), as the roll-ups' ``count_total`` counts them."""
    counts: dict[str, int] = defaultdict(int)
    for v in values:
        if v.time < until:
            counts[_hour_key(v.time)] += 1
    return dict(counts)


def count_granule_hours(granules: Iterable[Granule], until: datetime) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for g in granules:
        if g.start < until:
            counts[_hour_key(g.start)] += g.count_total
    return dict(counts)


class Judge:
    def __init__(self, profile: Profile, tz: ZoneInfo) -> None:
        self.profile, self.tz = profile, tz
        self._starts: dict[datetime, datetime] = {}

    def _start(self, t: datetime) -> datetime:
        w = self._starts.get(t)
        if w is None:
            w = self._starts[t] = window_start(t, self.profile.window_minutes, self.tz)
        return w

    def bucket(self, values: Iterable[Value]) -> Buckets:
        """Valid values by window start (``windows.bucket_values`` on fetched values)."""
        buckets: Buckets = defaultdict(list)
        for v in values:
            if v.ok and v.value is not None:
                buckets[self._start(v.time)].append(v.value)
        return buckets

    def bucket_granules(self, granules: Iterable[Granule]) -> Buckets:
        """The same buckets from 15-minute roll-ups (see the module doc)."""
        buckets: Buckets = defaultdict(list)
        for g in granules:
            if g.count_valid > 0 and g.mean is not None:
                buckets[self._start(g.start)].extend([g.mean] * g.count_valid)
        return buckets

    def windows(self, site: Buckets, ref: Buckets, ctx: EvalContext) -> list[WindowResult]:
        """Every window with values, judged by ``rules.evaluate_window`` (None: skipped)."""
        self.profile.check_context(ctx)
        out = []
        for start in sorted(site):
            result = evaluate_window(self.profile, start, site[start], ref.get(start, []), ctx)
            if result is not None:
                out.append(result)
        return out
