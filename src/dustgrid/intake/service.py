"""The intake other modules call (alerts, analytics, City Brain adapters). Never commits.

``raise_case`` wraps ``cases.service.open_case`` with one convention for machine callers:
a report about a site is deduplicated by default on ``"{source}:{site}:{category}"``, so an
alert that keeps firing while a case about it is open adds ``case.merged`` events to that
case instead of opening new ones. Machine sources (sensor, video AI, City Brain) are
opened as the system, as the case core requires (``states.REPORTERS``); the person or
service account that called is written to the audit trail. Hotline and higher-level
assignments are opened as the caller, whose role the case core checks.

``update_case`` lets a channel add to the case it opened (by its own reference).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.cases import service as cases
from dustgrid.cases.attachments import AttachmentIn
from dustgrid.cases.models import Case, CaseEvent
from dustgrid.cases.states import CaseSource
from dustgrid.config import Settings, get_settings
from dustgrid.errors import Invalid
from dustgrid.i18n import Msg, localize
from dustgrid.identity.principal import Principal
from dustgrid.models import utcnow

MACHINE_SOURCES = frozenset({CaseSource.sensor, CaseSource.video_ai, CaseSource.city_brain})
# App reports carry an inspector's or officer's own evidence: they use POST /api/v1/cases.
APP_SOURCES = frozenset({CaseSource.third_party_inspector, CaseSource.enforcement_officer})
EVIDENCE_MAX_CHARS = 16_000


def default_dedup_key(source: str, site_id: int | None, category: str) -> str | None:
    return f"{source}:{site_id}:{category}" if site_id is not None else None


def _evidence_text(evidence: Mapping[str, Any]) -> str:
    text = json.dumps(evidence, ensure_ascii=False, sort_keys=True, default=str)
    if len(text) > EVIDENCE_MAX_CHARS:
        raise Invalid("intake.error.evidence_json_too_large", limit=EVIDENCE_MAX_CHARS,
                      details={"field": "evidence"})  # fmt: skip
    return text


def raise_case(
    session: Session,
    *,
    source: CaseSource | str,
    category: str,
    description: str | Msg,
    severity: str = "medium",
    site_id: int | None = None,
    location: tuple[float, float] | None = None,
    dedup_key: str | None = None,
    dedup: bool = True,
    dedup_window: timedelta | None = None,
    evidence: Mapping[str, Any] | None = None,
    attachments: Sequence[AttachmentIn] = (),
    external_ref: str | None = None,
    caller: Principal | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> tuple[Case, bool]:
    """Open a case or merge into the open duplicate; returns (case, created).

    ``dedup_key`` None with ``dedup`` True uses ``default_dedup_key``; ``dedup`` False
    never merges. ``evidence`` (readings, rule ids, model scores) is kept on the case's
    timeline as a ``case.evidence`` event next to the report or the merge.
    """
    settings = settings or get_settings()
    now = now or utcnow()
    try:
        src = CaseSource(source)
    except ValueError as exc:
        raise Invalid(
            "intake.error.unknown_source", source=source, details={"field": "source"}
        ) from exc
    if src in APP_SOURCES:
        raise Invalid("intake.error.app_reports_use_post_api_v1",
                      details={"field": "source"})  # fmt: skip
    evidence_text = _evidence_text(evidence) if evidence else None
    key = (dedup_key or default_dedup_key(src, site_id, category)) if dedup else None
    actor = None if src in MACHINE_SOURCES else caller
    case, created = cases.open_case(
        session, actor=actor, source=src, site_id=site_id, location=location,
        category=category, description=localize(description), severity=severity,
        attachments=attachments, dedup_key=key, dedup_window=dedup_window,
        external_ref=external_ref, now=now, settings=settings,
        description_msg=description if isinstance(description, Msg) else None,
    )  # fmt: skip
    if evidence_text:
        cases.add_note(session, None, case.id, text=evidence_text, now=now, settings=settings,
                       kind="case.evidence")  # fmt: skip
    if caller is not None and actor is None:
        audit.record(session, actor=caller, action="intake.raise", entity_type="case",
                     entity_id=case.id, changes={"source": [None, src.value],
                                                 "created": [None, created]},
                     summary=f"系统接口{'上报' if created else '并入'}案件 #{case.id}"
                     f"（{src.value}）")  # fmt: skip
    return case, created


def update_case(
    session: Session,
    *,
    source: CaseSource | str,
    external_ref: str,
    text: str,
    evidence: Mapping[str, Any] | None = None,
    attachments: Sequence[AttachmentIn] = (),
    caller: Principal | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseEvent:
    """Add to the case a channel opened (``case.source_update``; the responsible is told)."""
    body = text.strip()
    if evidence:
        body = f"{body}\n{_evidence_text(evidence)}"
    ev = cases.update_case_from_source(session, source=CaseSource(source),
                                       external_ref=external_ref, text=body,
                                       attachments=attachments, now=now,
                                       settings=settings)  # fmt: skip
    if caller is not None:
        audit.record(session, actor=caller, action="intake.update", entity_type="case",
                     entity_id=ev.case_id, summary=f"来源更新案件 #{ev.case_id}")  # fmt: skip
    return ev
