"""Stay points per truck-day: the sliding rule in a compiled kernel (numba).

Fixes are sorted by (terminal, time) with numpy, cut into truck-days (local days,
``TrajectoryPolicy.utc_offset_hours``), and one numba kernel walks every truck-day once:

- the first fix is the *anchor*; the stay grows while each next fix lies within
  ``stay_distance_m`` of the anchor (haversine; exactly the distance counts as inside);
- a fix farther than that ends the stay at the fix before it, and becomes the new anchor;
  with ``spike_fixes`` = k, up to k consecutive far fixes followed by a fix back inside are
  GPS jitter (multipath spikes) and neither end the stay nor count in its centre;
- a gap between consecutive fixes longer than ``gap_max_minutes`` ends the stay at the fix
  before the gap; with ``rejoin_after_gap`` a terminal that reappears within the distance
  of the anchor (after at most ``rejoin_max_minutes`` of silence) continues the same stay:
  it went silent inside the place (engine off, a shed) and its silence is dwell;
- a stay is kept when the time from its anchor to its last fix inside is at least
  ``stay_min_minutes``; the last stay of a truck-day is kept as well (the terminal need not
  be seen leaving);
- the centre is the median latitude and longitude of the stay's fixes.

Per point there is no Python: numpy sorts and cuts, the kernel loops in machine code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numba
import numpy as np
import numpy.typing as npt

from dustgrid.geo.coords import EARTH_RADIUS_M
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY, TrajectoryPolicy

SECONDS_PER_DAY = 86_400
# Haversine distances carry ~1e-9 m of rounding: a fix at exactly D is inside.
_DISTANCE_SLACK_M = 1e-6

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Fixes:
    """GPS fixes as columns: ``terminal`` indexes ``terminals``; ``t`` is UTC epoch seconds;
    ``lat``/``lon`` are WGS-84 degrees."""

    terminals: tuple[str, ...]
    terminal: I64
    t: I64
    lat: F64
    lon: F64

    def __len__(self) -> int:
        return int(self.t.shape[0])

    @classmethod
    def from_columns(
        cls, terminal_ids: list[str] | npt.NDArray[Any], t: Any, lat: Any, lon: Any
    ) -> Fixes:
        """Build from a terminal id per fix (strings) and equal-length columns."""
        names, codes = np.unique(np.asarray(terminal_ids, dtype=object), return_inverse=True)
        return cls(
            terminals=tuple(str(n) for n in names),
            terminal=codes.astype(np.int64),
            t=np.asarray(t, dtype=np.int64),
            lat=np.asarray(lat, dtype=np.float64),
            lon=np.asarray(lon, dtype=np.float64),
        )

    @classmethod
    def concat(cls, parts: list[Fixes]) -> Fixes:
        """One set of fixes from several (terminal codes re-mapped to one sorted list)."""
        names = sorted(set().union(*(p.terminals for p in parts))) if parts else []
        lookup = np.asarray(names, dtype=object)
        codes = [
            np.searchsorted(lookup, np.asarray(p.terminals, dtype=object))[p.terminal]
            if len(p.terminals)
            else p.terminal
            for p in parts
        ]
        return cls(
            terminals=tuple(names),
            terminal=np.concatenate(codes or [np.empty(0, np.int64)]).astype(np.int64),
            t=np.concatenate([p.t for p in parts] or [np.empty(0, np.int64)]),
            lat=np.concatenate([p.lat for p in parts] or [np.empty(0)]),
            lon=np.concatenate([p.lon for p in parts] or [np.empty(0)]),
        )

    def select(self, mask: B) -> Fixes:
        return Fixes(
            self.terminals, self.terminal[mask], self.t[mask], self.lat[mask], self.lon[mask]
        )


@dataclass(frozen=True, slots=True)
class Stays:
    """Stay points as columns, ordered by terminal then start. ``day`` is the local day
    (days since 1970-01-01 in local time); ``start``/``end`` are UTC epoch seconds of the
    anchor and of the last fix inside; ``n_fixes`` counts the fixes inside."""

    terminals: tuple[str, ...]
    terminal: I64
    day: I64
    start: I64
    end: I64
    lat: F64
    lon: F64
    n_fixes: I64

    def __len__(self) -> int:
        return int(self.start.shape[0])

    @property
    def dwell_seconds(self) -> I64:
        return cast(I64, self.end - self.start)


def _kernel_py(
    seg_start: I64,
    seg_end: I64,
    t: I64,
    phi: F64,
    lam: F64,
    cos_phi: F64,
    h_max: float,
    min_s: int,
    gap_s: int,
    rejoin: bool,
    rejoin_s: int,
    spikes: int,
) -> tuple[I64, I64, I64]:
    """(first fix, last fix, fixes inside) of every stay. ``phi``/``lam`` are radians,
    sorted by terminal and time; ``h_max`` is the haversine term of the distance D
    (comparing the term spares an arcsin and a square root per fix)."""
    n = t.shape[0]
    first = np.empty(n, np.int64)
    last = np.empty(n, np.int64)
    inside = np.empty(n, np.int64)
    k = 0
    for s in range(seg_start.shape[0]):
        e = seg_end[s]
        anchor = seg_start[s]
        prev = anchor  # last fix inside the current stay
        count = 1
        i = anchor + 1
        while i < e:
            near = _h(phi, lam, cos_phi, anchor, i) <= h_max
            gap = t[i] - t[prev]
            if gap > gap_s and not (near and rejoin and gap <= rejoin_s):
                near = False  # a silence that breaks the stay
            elif not near and spikes > 0:
                j = _back_inside(phi, lam, cos_phi, anchor, i, e, spikes, h_max)
                if j > 0 and t[j] - t[prev] <= gap_s:
                    i = j  # the far fixes were jitter; fix j is inside
                    continue
            if near:
                prev = i
                count += 1
            else:
                if t[prev] - t[anchor] >= min_s:
                    first[k] = anchor
                    last[k] = prev
                    inside[k] = count
                    k += 1
                anchor = i
                prev = i
                count = 1
            i += 1
        if t[prev] - t[anchor] >= min_s:
            first[k] = anchor
            last[k] = prev
            inside[k] = count
            k += 1
    return first[:k], last[:k], inside[:k]


def _h_py(phi: F64, lam: F64, cos_phi: F64, a: int, i: int) -> float:
    """Haversine term between fixes a and i (distance = 2R·asin(√h))."""
    return float(
        np.sin((phi[i] - phi[a]) / 2.0) ** 2
        + cos_phi[a] * cos_phi[i] * np.sin((lam[i] - lam[a]) / 2.0) ** 2
    )


def _back_inside_py(
    phi: F64, lam: F64, cos_phi: F64, anchor: int, i: int, e: int, spikes: int, h_max: float
) -> int:
    """The first fix after i, within ``spikes`` fixes, back inside; 0 when none."""
    j = i + 1
    while j < e and j <= i + spikes:
        if _h(phi, lam, cos_phi, anchor, j) <= h_max:
            return j
        j += 1
    return 0


def _centres_py(first: I64, last: I64, lat: F64, lon: F64) -> tuple[F64, F64]:
    """Median latitude and longitude of fixes first..last of each stay."""
    m = first.shape[0]
    clat = np.empty(m, np.float64)
    clon = np.empty(m, np.float64)
    for k in range(m):
        clat[k] = np.median(lat[first[k] : last[k] + 1])
        clon[k] = np.median(lon[first[k] : last[k] + 1])
    return clat, clon


# Compiled on first use and cached on disk (numba's cache=True) so later processes skip it.
_h = cast(Callable[..., float], numba.njit(cache=True, inline="always")(_h_py))
_back_inside = cast(Callable[..., int], numba.njit(cache=True)(_back_inside_py))
_kernel = cast(Callable[..., tuple[I64, I64, I64]], numba.njit(cache=True, nogil=True)(_kernel_py))
_centres = cast(Callable[..., tuple[F64, F64]], numba.njit(cache=True, nogil=True)(_centres_py))


def _is_sorted(fixes: Fixes) -> bool:
    dt, dterm = np.diff(fixes.t), np.diff(fixes.terminal)
    return bool(np.all((dterm > 0) | ((dterm == 0) & (dt >= 0))))


def truck_days(fixes: Fixes, policy: TrajectoryPolicy) -> tuple[Fixes, I64, I64, I64]:
    """Fixes sorted by (terminal, time) without repeated (terminal, time) pairs, with the
    local day of each fix and the [start, end) index of each truck-day."""
    if _is_sorted(fixes):  # files usually come sorted: skip the sort
        sorted_fixes = fixes
    else:
        order = np.lexsort((fixes.t, fixes.terminal))
        sorted_fixes = Fixes(
            fixes.terminals,
            fixes.terminal[order],
            fixes.t[order],
            fixes.lat[order],
            fixes.lon[order],
        )
    term, t = sorted_fixes.terminal, sorted_fixes.t
    repeated = (term[1:] == term[:-1]) & (t[1:] == t[:-1])
    if repeated.any():  # the same fix twice (resent batches): keep the first
        keep = np.ones(t.shape[0], dtype=np.bool_)
        keep[1:] = ~repeated
        sorted_fixes = sorted_fixes.select(keep)
    day = (sorted_fixes.t + policy.utc_offset_seconds) // SECONDS_PER_DAY
    n = len(sorted_fixes)
    change = np.ones(n, dtype=np.bool_)
    if n:
        change[1:] = (sorted_fixes.terminal[1:] != sorted_fixes.terminal[:-1]) | (
            day[1:] != day[:-1]
        )
    starts = np.flatnonzero(change).astype(np.int64)
    ends = np.append(starts[1:], n).astype(np.int64)
    return sorted_fixes, day.astype(np.int64), starts, ends


def detect_stays(fixes: Fixes, policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY) -> Stays:
    """The stay points of every truck-day in ``fixes`` (any order)."""
    fx, day, starts, ends = truck_days(fixes, policy)
    phi = np.radians(fx.lat)
    h_max = math.sin((policy.stay_distance_m + _DISTANCE_SLACK_M) / (2.0 * EARTH_RADIUS_M)) ** 2
    first, last, inside = _kernel(
        starts,
        ends,
        fx.t,
        phi,
        np.radians(fx.lon),
        np.cos(phi),
        h_max,
        policy.stay_min_seconds,
        policy.gap_max_seconds,
        policy.rejoin_after_gap,
        round(policy.rejoin_max_minutes * 60),
        policy.spike_fixes,
    )
    clat, clon = _centres(first, last, fx.lat, fx.lon)
    return Stays(
        terminals=fx.terminals,
        terminal=fx.terminal[first],
        day=day[first],
        start=fx.t[first],
        end=fx.t[last],
        lat=clat,
        lon=clon,
        n_fixes=inside,
    )
