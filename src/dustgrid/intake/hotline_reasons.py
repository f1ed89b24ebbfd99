"""Why a site is proposed and why a complaint looks like a duplicate, as messages the
page renders in the reader's language (``i18n/*/hotline.json``)."""

from __future__ import annotations

from dustgrid.i18n import Msg
from dustgrid.intake.schemas import ComplaintDuplicate, SiteSuggestion


def site_reasons(s: SiteSuggestion) -> list[Msg]:
    """The matched words, the distance and the district behind a site's score."""
    out = []
    if s.matched:
        out.append(Msg("hotline.suggest.why_text", {"words": "、".join(s.matched)}))
    elif s.text_score is not None:
        out.append(Msg("hotline.suggest.why_no_text"))
    if s.distance_m is not None:
        out.append(Msg("hotline.suggest.why_distance", {"m": s.distance_m}))
    if s.same_district is not None:
        key = "same_district" if s.same_district else "other_district"
        out.append(Msg(f"hotline.suggest.why_{key}"))
    return out


def gap(minutes: int) -> Msg:
    """Time between two calls: within the minute, in minutes up to two hours, else hours."""
    if minutes < 1:
        return Msg("hotline.dup.gap.same_minute")
    if minutes < 120:
        return Msg("hotline.dup.gap.minutes", {"n": minutes})
    return Msg("hotline.dup.gap.hours", {"n": minutes // 60})


def duplicate_reasons(d: ComplaintDuplicate) -> list[Msg]:
    """Every rule under which the earlier complaint repeats this one, with its figure."""
    out = []
    for rule in d.rules:
        if rule == "same_caller":
            out.append(Msg("hotline.dup.rule.same_caller", {"gap": gap(d.gap_minutes)}))
        elif rule == "similar_place":
            pct = round(d.place_similarity * 100)
            out.append(Msg("hotline.dup.rule.similar_place", {"pct": pct}))
        elif rule == "near":
            out.append(Msg("hotline.dup.rule.near", {"m": d.distance_m}))
        else:
            out.append(Msg(f"hotline.dup.rule.{rule}"))
    return out
