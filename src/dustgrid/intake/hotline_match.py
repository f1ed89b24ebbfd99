"""How the 12319 desk's suggestions are scored: which sites a complaint is about, and which
earlier complaints it repeats. Pure: no database, every number from ``IntakePolicy``.

**Sites.** A site's score (0–1) is the weighted mean of up to three parts, each 0–1:

* *text*: how much of the place text the site's name or address contains, by character
  pairs (Chinese place names have no spaces to split on). A pair is weighed by how rare it
  is among the candidate sites (inverse document frequency), so the ``沈阳市``/``和平区``
  every address shares weighs little and ``中山路`` or ``118号`` weighs much; pairs no site
  has (``东门``, ``附近``) say nothing about which site it is and are left out.
* *distance*, only when the complaint has a point: ``0.5 ** (d / suggestion_half_distance_m)``.
* *district*, only when the complaint's district is known: 1 in the same district, else 0.

A part that cannot be computed is left out of the mean (its weight too), so a text-only
complaint is ranked by text (and district). Sites scoring below ``suggestion_min_score``
are not proposed. Each suggestion carries its reasons: the matched words, the distance,
the district.

**Duplicates.** Two complaints are likely duplicates when any rule holds, and every rule
that holds is named on the page:

* ``near``: both have a point, at most ``DedupPolicy.hotline_radius_m`` apart, received
  within ``DedupPolicy.hotline_window`` (the case core's rule, kept);
* ``same_caller``: the same phone number, received within ``duplicate_caller_window``,
  and the place or the description at least ``duplicate_caller_text_min`` alike;
* ``similar_place``: place texts at least ``duplicate_place_min`` alike, received within
  ``duplicate_window``;
* ``same_site``: both already linked to the same site, within ``DedupPolicy.hotline_window``.

"Alike" is the Dice coefficient of the two texts' character pairs (2·shared / total):
1 for the same text, 0 for texts with no pair in common.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dustgrid.geo.coords import haversine_m
from dustgrid.intake.policy import IntakePolicy

# --------------------------------------------------------------------------- text


def chars(text: str) -> list[str]:
    """The text's letters and digits, lower-cased (spaces and punctuation dropped)."""
    return [ch for ch in text.lower() if ch.isalnum()]


def bigrams(text: str) -> set[str]:
    """Character pairs of the text without spaces and punctuation (single chars if short)."""
    cs = chars(text)
    if len(cs) < 2:
        return set(cs)
    return {cs[i] + cs[i + 1] for i in range(len(cs) - 1)}


def dice(a: str, b: str) -> float:
    """How alike two texts are (0–1): twice the shared character pairs over all pairs."""
    x, y = bigrams(a), bigrams(b)
    if not x or not y:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


def phone_digits(phone: str) -> str:
    """The digits of a phone number, without a +86/0086 country prefix."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) - len(prefix) >= 11:
            return digits[len(prefix) :]
    return digits


def matched_words(text: str, matched: set[str]) -> tuple[str, ...]:
    """The runs of ``text`` covered by ``matched`` pairs: ``中山路住宅项目东门`` with the
    pairs of ``中山路住宅项目`` matched gives ``("中山路住宅项目",)``."""
    cs = chars(text)
    runs: list[str] = []
    i = 0
    while i < len(cs) - 1:
        if cs[i] + cs[i + 1] not in matched:
            i += 1
            continue
        j = i + 1
        while j < len(cs) - 1 and cs[j] + cs[j + 1] in matched:
            j += 1
        runs.append("".join(cs[i : j + 1]))
        i = j + 1
    return tuple(runs)


# --------------------------------------------------------------------------- sites


@dataclass(frozen=True, slots=True)
class SiteMatch:
    """One candidate site and why it scored what it did."""

    row: Any  # id, project_code, name, address, lat, lon, district_id
    score: float
    text_score: float | None  # None: no place text to compare
    matched: tuple[str, ...]  # the words of the place text the site's name/address holds
    distance_m: float | None  # None: the complaint has no point
    same_district: bool | None  # None: the complaint's district is unknown


def _weights(sites: Sequence[set[str]]) -> dict[str, float]:
    """Inverse document frequency of each pair over the candidate sites."""
    df: Counter[str] = Counter()
    for s in sites:
        df.update(s)
    n = len(sites)
    return {b: math.log(1 + n / k) for b, k in df.items()}


def score_sites(
    rows: Sequence[Any],
    *,
    place_text: str,
    lat: float | None,
    lon: float | None,
    district_id: int | None,
    policy: IntakePolicy,
) -> list[SiteMatch]:
    """Every row scored, best first (ties: nearest, then lowest id); none dropped."""
    place = bigrams(place_text)
    texts = [bigrams(r.name or "") | bigrams(r.address or "") for r in rows]
    idf = _weights(texts)
    known = {b: idf[b] for b in place if b in idf}
    total = sum(known.values())
    has_point = lat is not None and lon is not None
    out = []
    for r, site_pairs in zip(rows, texts, strict=True):
        parts: list[tuple[float, float]] = []  # (weight, value)
        text: float | None = None
        hit: set[str] = set()
        if place:
            hit = {b for b in known if b in site_pairs}
            text = sum(known[b] for b in hit) / total if total else 0.0
            parts.append((policy.suggestion_text_weight, text))
        dist: float | None = None
        if has_point:
            assert lat is not None and lon is not None
            dist = haversine_m(lat, lon, r.lat, r.lon)
            near = 0.5 ** (dist / policy.suggestion_half_distance_m)
            parts.append((policy.suggestion_distance_weight, near))
        same: bool | None = None
        if district_id is not None:
            same = getattr(r, "district_id", None) == district_id
            parts.append((policy.suggestion_district_weight, 1.0 if same else 0.0))
        weight = sum(w for w, _ in parts)
        score = sum(w * v for w, v in parts) / weight if weight else 0.0
        out.append(SiteMatch(row=r, score=round(score, 3),
                             text_score=None if text is None else round(text, 3),
                             matched=matched_words(place_text, hit), distance_m=dist,
                             same_district=same))  # fmt: skip
    out.sort(key=lambda m: (-m.score, m.distance_m if m.distance_m is not None else 0, m.row.id))
    return out


def rank_sites(
    rows: Sequence[Any],
    *,
    place_text: str,
    lat: float | None,
    lon: float | None,
    district_id: int | None,
    policy: IntakePolicy,
) -> list[SiteMatch]:
    """The ``suggestion_count`` best sites scoring at least ``suggestion_min_score``."""
    if not place_text.strip() and (lat is None or lon is None):
        return []
    scored = score_sites(rows, place_text=place_text, lat=lat, lon=lon,
                         district_id=district_id, policy=policy)  # fmt: skip
    kept = [m for m in scored if m.score >= policy.suggestion_min_score]
    return kept[: policy.suggestion_count]


# --------------------------------------------------------------------------- duplicates


@dataclass(frozen=True, slots=True)
class ComplaintFacts:
    """What the duplicate rules read of a complaint."""

    id: int | None
    caller_phone: str
    place_text: str
    content: str
    received_at: datetime
    lat: float | None
    lon: float | None
    site_id: int | None = None


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    """Why ``other`` is a likely duplicate: the rules that hold and the figures behind them."""

    other_id: int | None
    rules: tuple[str, ...]  # of "same_caller", "similar_place", "near", "same_site"
    gap: timedelta  # between the two calls, never negative
    distance_m: float | None
    place_similarity: float
    content_similarity: float


def facts(c: Any) -> ComplaintFacts:
    """The facts of a complaint row (or anything with the same attributes)."""
    return ComplaintFacts(id=getattr(c, "id", None), caller_phone=c.caller_phone or "",
                          place_text=c.place_text or "", content=c.content or "",
                          received_at=c.received_at, lat=c.lat, lon=c.lon,
                          site_id=getattr(c, "site_id", None))  # fmt: skip


def match_duplicate(
    new: ComplaintFacts,
    other: ComplaintFacts,
    *,
    policy: IntakePolicy,
    radius_m: float,
    near_window: timedelta,
) -> DuplicateMatch | None:
    """The rules under which ``other`` repeats ``new`` (None when no rule holds)."""
    gap = abs(new.received_at - other.received_at)
    dist = None
    if None not in (new.lat, new.lon, other.lat, other.lon):
        dist = haversine_m(new.lat, new.lon, other.lat, other.lon)  # type: ignore[arg-type]
    place = dice(new.place_text, other.place_text)
    content = dice(new.content, other.content)
    rules = []
    phone = phone_digits(new.caller_phone)
    if (phone and phone == phone_digits(other.caller_phone)
            and gap <= policy.duplicate_caller_window
            and max(place, content) >= policy.duplicate_caller_text_min):  # fmt: skip
        rules.append("same_caller")
    if place >= policy.duplicate_place_min and gap <= policy.duplicate_window:
        rules.append("similar_place")
    if dist is not None and dist <= radius_m and gap <= near_window:
        rules.append("near")
    if new.site_id is not None and new.site_id == other.site_id and gap <= near_window:
        rules.append("same_site")
    if not rules:
        return None
    return DuplicateMatch(other_id=other.id, rules=tuple(rules), gap=gap, distance_m=dist,
                          place_similarity=round(place, 3),
                          content_similarity=round(content, 3))  # fmt: skip


def duplicates(
    new: ComplaintFacts,
    others: Iterable[ComplaintFacts],
    *,
    policy: IntakePolicy,
    radius_m: float,
    near_window: timedelta,
) -> list[DuplicateMatch]:
    """The likely duplicates among ``others``: most rules first, then the closest in time."""
    found = []
    for o in others:
        if o.id is not None and o.id == new.id:
            continue
        m = match_duplicate(new, o, policy=policy, radius_m=radius_m, near_window=near_window)
        if m is not None:
            found.append(m)
    found.sort(key=lambda m: (-len(m.rules), m.gap, m.other_id or 0))
    return found
