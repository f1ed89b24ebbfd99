"""Sites and working days in, crew-days out: who visits which sites on which day. Pure.

A *crew* is who walks one route: the whole group when its members go together, else each
member alone (``DutyPolicy.together``). A *slot* is one crew on one working day; slots are
taken day by day, so sites are cut into days in priority order (a higher-priority site is
never on a later day than a lower-priority one) and each day's share is then split among
the day's crews by position, so each crew's sites lie together.

Counts per slot (``m`` sites, ``D`` slots, quota ``min``–``max``):

* more sites than ``max × D``: the ``max × D`` first in priority order are planned and the
  rest are the **shortfall** (``unscheduled``, in priority order); with no working day
  left every site is shortfall;
* otherwise ``k`` slots are used, as many as keep every used slot at ``min`` or more
  (``k = m // min``, at most ``D``), spread evenly over the period; each used slot holds
  ``m / k`` sites give or take one. When no ``k`` keeps a slot between ``min`` and ``max``
  (``underfilled``), slots get ``max`` or fewer and the minimum is not met.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial

from dustgrid.patrols.policy import DutyPolicy
from dustgrid.patrols.priority import PriorityInputs, priority_key
from dustgrid.patrols.routing import Router, Stop, ortools_order


@dataclass(frozen=True, slots=True)
class PlanSite:
    site_id: int
    lat: float
    lon: float
    priority: PriorityInputs = PriorityInputs()

    @property
    def stop(self) -> Stop:
        return Stop(self.site_id, self.lat, self.lon)


@dataclass(frozen=True, slots=True)
class CrewDay:
    crew: int  # 0 .. crews-1 (the service maps it to a member, or to the group)
    day: date
    site_ids: tuple[int, ...]  # in route order


@dataclass(frozen=True, slots=True)
class PeriodPlan:
    crew_days: tuple[CrewDay, ...]  # every crew on every working day (possibly empty)
    unscheduled: tuple[int, ...]  # the shortfall, in priority order
    underfilled: bool  # some used slot is below the daily minimum (too few sites for it)

    @property
    def shortfall(self) -> int:
        return len(self.unscheduled)


def ordered(sites: Sequence[PlanSite]) -> list[PlanSite]:
    """Sites in priority order (ties by site id, so the plan is deterministic)."""
    return sorted(sites, key=lambda s: (priority_key(s.priority), s.site_id))


def slot_counts(m: int, slots: int, duty: DutyPolicy) -> tuple[list[int], bool]:
    """Sites per slot (``m`` at most ``max × slots``) and whether the minimum is missed."""
    if m == 0 or slots == 0:
        return [0] * slots, False
    k = max(1, min(slots, m // duty.per_day_min))
    if duty.per_day_max is not None and k * duty.per_day_max < m:
        k = math.ceil(m / duty.per_day_max)
    base, extra = divmod(m, k)
    used = {(i * slots) // k for i in range(k)}
    counts, n_used = [], 0
    for j in range(slots):
        if j in used:
            counts.append(base + (1 if n_used < extra else 0))
            n_used += 1
        else:
            counts.append(0)
    return counts, base < duty.per_day_min


def _split_by_position(sites: list[PlanSite], counts: list[int]) -> list[list[PlanSite]]:
    """Cut a day's sites into the crews' shares along the direction they spread most."""
    if len(counts) == 1 or not sites:
        return [sites] + [[] for _ in counts[1:]]
    lat_span = max(s.lat for s in sites) - min(s.lat for s in sites)
    mid_lat = math.radians(sum(s.lat for s in sites) / len(sites))
    lon_span = (max(s.lon for s in sites) - min(s.lon for s in sites)) * math.cos(mid_lat)
    by_lat = lat_span >= lon_span
    line = sorted(sites, key=lambda s: ((s.lat, s.lon) if by_lat else (s.lon, s.lat), s.site_id))
    shares, i = [], 0
    for c in counts:
        shares.append(line[i : i + c])
        i += c
    return shares


def plan_period(
    sites: Sequence[PlanSite],
    days: Sequence[date],
    crews: int,
    duty: DutyPolicy,
    *,
    start: Stop | None = None,
    route: Router | None = None,
    time_limit_ms: int = 200,
) -> PeriodPlan:
    """Plan one period for one group (``days``: its working days, ascending)."""
    if crews < 1:
        raise ValueError(f"crews must be >= 1, got {crews}")
    router: Callable[[Sequence[Stop], Stop | None], list[int]] = route or partial(
        ortools_order, time_limit_ms=time_limit_ms
    )
    queue = ordered(sites)
    slots = len(days) * crews
    cap = len(queue) if duty.per_day_max is None and slots else (duty.per_day_max or 0) * slots
    planned, unscheduled = queue[:cap], queue[cap:]
    counts, underfilled = slot_counts(len(planned), slots, duty)
    crew_days: list[CrewDay] = []
    taken = 0
    for d, day in enumerate(days):
        day_counts = counts[d * crews : (d + 1) * crews]
        day_sites = planned[taken : taken + sum(day_counts)]
        taken += sum(day_counts)
        for crew, share in enumerate(_split_by_position(day_sites, day_counts)):
            order = tuple(router([s.stop for s in share], start)) if share else ()
            crew_days.append(CrewDay(crew, day, order))
    return PeriodPlan(tuple(crew_days), tuple(s.site_id for s in unscheduled), underfilled)
