"""A case's timeline as people read it: who (name and unit, not the username), what (the
event's name), the reason in the reader's language, and evidence as a table, not JSON."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from sqlalchemy.orm import Session

from dustgrid.cases.schemas import CaseDetail, EventOut
from dustgrid.i18n import localize
from dustgrid.web.evidence import Evidence, parse_evidence, present
from dustgrid.web.history import people

__all__ = ["TimelineEntry", "description", "timeline"]

EVIDENCE_KIND = "case.evidence"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    event: EventOut
    who: str
    reason: str
    evidence: Evidence | None


def _entry(event: EventOut, who: str, locale: str, tz: tzinfo) -> TimelineEntry:
    data = parse_evidence(event.reason) if event.kind == EVIDENCE_KIND else None
    if data is not None:
        return TimelineEntry(event, who, "", present(data, locale, tz))
    reason = localize(event.data["reason_msg"], locale) if "reason_msg" in event.data else None
    return TimelineEntry(event, who, reason or localize(event.reason, locale), None)


def description(case: CaseDetail, locale: str) -> str:
    """The case's description in ``locale``: from the message key its report kept, else
    the stored text (an older bilingual one is cut to the reader's half)."""
    for event in case.events:
        if "reason_msg" in event.data and event.reason == case.description:
            return localize(event.data["reason_msg"], locale)
    return localize(case.description or "", locale)


def timeline(
    session: Session, events: Sequence[EventOut], locale: str, tz: tzinfo
) -> list[TimelineEntry]:
    """The events of one case page, in order (evidence times in the city's zone ``tz``)."""
    person = people(session, locale, (e.actor_id for e in events))
    return [_entry(e, person(e.actor_id, e.actor_name), locale, tz) for e in events]
