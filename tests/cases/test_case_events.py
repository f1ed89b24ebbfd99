"""The case timeline writer (``cases/events.py``) and the check step of ``open_case``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

import dustgrid
from dustgrid.audit.models import AuditEntry
from dustgrid.cases import events
from dustgrid.cases.attachments import check as check_files
from dustgrid.cases.models import CaseAttachment, CaseEvent
from dustgrid.cases.reporting import check_report
from dustgrid.cases.states import CaseSource, MoveNotAllowed
from dustgrid.config import Settings
from dustgrid.errors import Invalid
from tests.cases.case_kit import MONDAY, photo, report, who
from tests.fixtures.city import City

SRC = Path(dustgrid.__file__).parent


def test_only_the_timeline_writer_builds_case_events() -> None:
    builders = sorted(
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if re.search(r"(?<!class )\bCaseEvent\(", p.read_text(encoding="utf-8"))
    )
    assert builders == ["cases/events.py"]


def test_an_event_gets_its_files_then_its_follow_ups_then_its_audit_row(
    db: Session, city: City, settings: Settings
) -> None:
    case = report(db, city, settings)
    actor = who(db, city, "insp_hp1")
    seen: list[int] = []

    def then(event: CaseEvent) -> None:
        seen.append(len(event.data["attachments"]))
        case.severity = "high"

    ev = events.record_event(
        db,
        case,
        "case.note",
        actor=actor,
        now=MONDAY,
        policy_version="t1",
        settings=settings,
        reason="补充照片",
        from_state=case.state.value,
        checked=check_files([photo("more.jpg")], settings),
        then=then,
        audit_row=events.CaseAudit(
            action="case.note",
            summary="note",
            changes=lambda: {"severity": ["medium", case.severity]},
        ),
    )
    assert seen == [1]  # the follow-ups saw the stored file
    assert (ev.actor_name, ev.actor_role, ev.to_state) == ("insp_hp1", actor.role.value, "reported")
    stored = db.scalars(select(CaseAttachment).where(CaseAttachment.event_id == ev.id)).all()
    assert [a.filename for a in stored] == ["more.jpg"]
    row = db.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == "case", AuditEntry.action == "case.note")
        .order_by(AuditEntry.id.desc())
    ).first()
    assert row is not None and row.changes == {"severity": ["medium", "high"]}


def test_a_system_event_names_the_system() -> None:
    ev = events.new_event(7, "case.reminder", actor=None, now=MONDAY, policy_version="t1")
    assert (ev.actor_id, ev.actor_name, ev.actor_role, ev.data) == (None, "system", "system", {})


def test_a_report_is_checked_without_the_database(settings: Settings) -> None:
    ok = check_report(
        actor=None,
        source=CaseSource.city_brain,
        category="bare_soil_cover",
        description="  裸土  ",
        severity="high",
        attachments=[],
        external_ref=" CB-9 ",
        settings=settings,
    )
    assert (ok.description, ok.external_ref, ok.plan.event_kind) == (
        "裸土",
        "CB-9",
        "case.reported",
    )
    with pytest.raises(Invalid, match="未知的问题类别"):
        check_report(
            actor=None,
            source=CaseSource.city_brain,
            category="nope",
            description="x",
            severity="high",
            attachments=[],
            external_ref=None,
            settings=settings,
        )
    with pytest.raises(MoveNotAllowed):  # the app channel needs a person
        check_report(
            actor=None,
            source=CaseSource.third_party_inspector,
            category="bare_soil_cover",
            description="x",
            severity="high",
            attachments=[photo()],
            external_ref=None,
            settings=settings,
        )
