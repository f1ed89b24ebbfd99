"""The site page's grade panel: "why this grade" and the grade history, in the reader's
language and local time (the grading service stores message keys with parameters)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.cases.categories import category_label
from dustgrid.i18n import translate
from dustgrid.inspections.grading import service as grading
from dustgrid.sites.models import Site
from dustgrid.workcal.calendar import people_time

__all__ = ["GradePanel", "grade_panel", "reason_text"]


@dataclass(frozen=True, slots=True)
class HistoryRow:
    at: str  # local time
    grade: str
    previous_grade: str | None
    by: str
    reasons: list[str]
    policy_version: str


@dataclass(frozen=True, slots=True)
class GradePanel:
    why: list[str]  # the latest verdict's reasons, as sentences
    policy_version: str
    by_rule: bool  # False: the grade predates grading by the rule (typed by hand)
    history: list[HistoryRow]


def _local(value: str | datetime, tz: ZoneInfo) -> str:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return people_time(at, tz)


def reason_text(reason: dict[str, Any], locale: str, tz: ZoneInfo) -> str:
    """One reason (message key and parameters) as a sentence in ``locale``."""
    params = dict(reason.get("params") or {})
    for name in ("item", "category"):
        if name in params:
            params[name] = category_label(str(params[name]), locale)
    if "mode" in params:
        params["mode"] = translate(f"grading.mode.{params['mode']}", locale)
    if "at" in params:
        params["at"] = _local(str(params["at"]), tz)
    text = translate(str(reason.get("key", "")), locale)
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text


def grade_panel(session: Session, site: Site, *, locale: str, tz: ZoneInfo) -> GradePanel:
    """The panel of a site the caller has read in its scope (``grids.service.site_card``)."""
    lines = grading.history_of(session, site)
    rows = [
        HistoryRow(
            at=_local(h.changed_at, tz),
            grade=h.grade,
            previous_grade=h.previous_grade,
            by=h.actor_name or translate("grading.by_system", locale),
            reasons=[reason_text(r, locale, tz) for r in h.reasons],
            policy_version=h.policy_version,
        )
        for h in lines
    ]
    latest = rows[0] if rows else None
    return GradePanel(
        why=latest.reasons if latest else [],
        policy_version=latest.policy_version if latest else "",
        by_rule=latest is not None,
        history=rows,
    )
