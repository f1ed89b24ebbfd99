"""Opening cases: who may report what, validation, attachments, duplicates, intake hooks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.cases import attachments, service
from dustgrid.cases.attachments import AttachmentIn
from dustgrid.cases.models import Case, CaseAttachment, CaseEvent
from dustgrid.cases.states import CaseSource, CaseState, MoveNotAllowed
from dustgrid.config import Settings
from dustgrid.errors import Invalid, NotFound
from dustgrid.notifications.models import Notification
from tests.cases.case_kit import JPEG, MONDAY, PNG, photo, report, who
from tests.fixtures.city import City


def _notified(db: Session, case_id: int) -> set[int]:
    return set(db.scalars(select(Notification.user_id).where(Notification.case_id == case_id)))


def test_inspector_report_reaches_l1_l2_l3_and_the_site_contact(
    db: Session, city: City, settings: Settings
) -> None:
    case = report(db, city, settings)
    assert case.state == CaseState.reported
    assert case.site_id == city.sites["HP-001"]
    assert (case.lat, case.lon) == (41.791, 123.401)  # the site's location
    assert case.district_id == city.districts["heping"]
    assert case.clock == "dispatch" and case.level == "L1"
    events = list(db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)))
    assert [e.kind for e in events] == ["case.reported"]
    assert events[0].actor_name == "insp_hp1" and events[0].to_state == "reported"
    assert events[0].data["attachments"][0]["mime"] == "image/jpeg"
    u = city.users
    assert _notified(db, case.id) == {u["admin"], u["d_heping"], u["st_heping"], u["con_alpha"]}
    audit = db.scalar(
        select(AuditEntry).where(AuditEntry.entity_type == "case", AuditEntry.entity_id == case.id)
    )
    assert audit is not None and audit.action == "case.report"


def test_city_brain_push_starts_the_24_hour_feedback_clock(
    db: Session, city: City, settings: Settings
) -> None:
    case, created = service.open_case(
        db,
        actor=None,
        source=CaseSource.city_brain,
        site_id=None,
        location=(41.80, 123.46),
        category="unpermitted_construction",
        description="疑似未批先建",
        severity="high",
        external_ref="CB-1",
        now=MONDAY,
        settings=settings,
    )
    assert created and case.clock == "feedback"
    assert case.due_at == MONDAY + timedelta(hours=24)
    assert case.district_id == city.districts["shenhe"]  # found by the district boundary
    assert case.reporter_id is None


@pytest.mark.parametrize(
    ("user", "source"),
    [
        ("d_heping", CaseSource.third_party_inspector),
        ("insp_hp1", CaseSource.enforcement_officer),
        ("con_alpha", CaseSource.third_party_inspector),
        ("off_hp1", CaseSource.hotline_12319),
        ("insp_hp1", CaseSource.video_ai),
    ],
)
def test_reporting_from_a_source_the_role_may_not_use_is_403(
    db: Session, city: City, settings: Settings, user: str, source: CaseSource
) -> None:
    with pytest.raises(MoveNotAllowed) as err:
        report(db, city, settings, by=user, source=source)
    assert err.value.status_code == 403
    assert db.scalar(select(func.count()).select_from(Case)) == 0


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"site_id": 999_999}, "unknown site"),
        ({"site": "SH-001"}, "unknown site"),  # exists, but not in the inspector's grid
        ({"site": "", "location": None}, "give a site or a location"),
        ({"site": "", "location": (91.0, 10.0)}, "out of range"),
        ({"category": "nonsense"}, "unknown category"),
        ({"severity": "apocalyptic"}, "unknown severity"),
        ({"attachments": []}, "evidence"),  # an app report needs a photo
        ({"description": "  "}, "description"),
        ({"attachments": [AttachmentIn("x.jpg", b"MZ\x90\x00 not an image")]}, "not an image"),
        ({"attachments": [AttachmentIn("x.pdf", b"%PDF-1.4 ...")]}, "not an image"),
        ({"attachments": [AttachmentIn("empty.jpg", b"")]}, "empty file"),
    ],
)
def test_bad_input_is_a_clear_422_and_writes_nothing(
    db: Session, city: City, settings: Settings, kw: dict, needle: str
) -> None:
    before = db.scalar(select(func.count()).select_from(Case))
    with pytest.raises(Invalid) as err:
        report(db, city, settings, **kw)
    assert err.value.status_code == 422
    said = err.value.text("en").lower()
    assert needle in said or needle == (err.value.details or {}).get("field")
    assert err.value.text("en") != err.value.text("zh-CN")  # said in each language
    assert db.scalar(select(func.count()).select_from(Case)) == before


def test_too_large_and_too_many_files(db: Session, city: City, settings: Settings) -> None:
    small = settings.model_copy(update={"attachment_max_bytes": 100, "attachment_max_files": 2})
    big = AttachmentIn("big.jpg", JPEG + b"\x00" * 200)
    with pytest.raises(Invalid, match="附件过大"):
        report(db, city, small, attachments=[big])
    with pytest.raises(Invalid, match="附件过多"):
        report(db, city, small, attachments=[photo(), photo(), photo()])


def test_files_are_content_addressed_and_removed_when_the_transaction_rolls_back(
    db: Session, city: City, settings: Settings
) -> None:
    content = PNG + b"unique-rollback-test"
    import hashlib

    path = attachments.path_for(settings, hashlib.sha256(content).hexdigest())
    savepoint = db.begin_nested()
    case = report(
        db, city, settings, attachments=[photo("a.png", content), photo("b.png", content)]
    )
    rows = list(db.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case.id)))
    assert len(rows) == 2 and rows[0].sha256 == rows[1].sha256 and path.exists()
    assert path.read_bytes() == content
    savepoint.rollback()
    assert not path.exists()
    assert db.get(Case, case.id) is None


def test_committed_files_stay(db: Session, city: City, settings: Settings) -> None:
    content = PNG + b"unique-commit-test"
    case = report(db, city, settings, attachments=[photo("c.png", content)])
    db.commit()
    row = db.scalar(select(CaseAttachment).where(CaseAttachment.case_id == case.id))
    assert row is not None and attachments.path_for(settings, row.sha256).exists()


def test_same_external_ref_twice_returns_the_first_case(
    db: Session, city: City, settings: Settings
) -> None:
    args = dict(
        actor=None,
        source=CaseSource.video_ai,
        site_id=city.sites["SH-002"],
        location=None,
        category="illegal_behaviour_on_video",
        description="未苫盖",
        severity="low",
        external_ref="EVT-77",
        now=MONDAY,
        settings=settings,
    )
    first, created = service.open_case(db, **args)  # type: ignore[arg-type]
    again, created2 = service.open_case(db, **args)  # type: ignore[arg-type]
    assert created and not created2 and again.id == first.id
    assert db.scalar(select(func.count()).where(CaseEvent.case_id == first.id)) == 1


def test_duplicates_merge_into_the_open_case_within_the_window(
    db: Session, city: City, settings: Settings
) -> None:
    def push(at: timedelta, severity: str = "low") -> tuple[Case, bool]:
        return service.open_case(
            db,
            actor=None,
            source=CaseSource.video_ai,
            site_id=city.sites["SH-002"],
            location=None,
            category="material_cover",
            description=f"AI 事件 {at}",
            severity=severity,
            dedup_key="cam-9:material_cover",
            now=MONDAY + at,
            settings=settings,
            attachments=[photo()],
        )

    first, created = push(timedelta(0))
    merged, created2 = push(timedelta(hours=2), severity="high")
    assert created and not created2 and merged.id == first.id
    assert first.merged_count == 1 and first.severity == "high"
    kinds = list(db.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == first.id)))
    assert kinds == ["case.reported", "case.merged"]
    assert db.scalar(select(func.count()).where(CaseAttachment.case_id == first.id)) == 2
    later, created3 = push(timedelta(hours=7))  # the video-AI window is 6 hours
    assert created3 and later.id != first.id


def test_hotline_reports_merge_by_distance(db: Session, city: City, settings: Settings) -> None:
    admin = who(db, city, "admin")

    def call(lat: float, hours: int) -> tuple[Case, bool]:
        return service.open_case(
            db,
            actor=admin,
            source=CaseSource.hotline_12319,
            site_id=None,
            location=(lat, 123.45),
            category="dust_complaint",
            description="扬尘很大",
            severity="medium",
            now=MONDAY + timedelta(hours=hours),
            settings=settings,
        )

    a, _ = call(41.8000, 0)
    b, created = call(41.8010, 1)  # about 110 m away
    assert not created and b.id == a.id
    c, created = call(41.8100, 2)  # about 1.1 km away
    assert created and c.id != a.id


def test_update_from_source_and_notes(db: Session, city: City, settings: Settings) -> None:
    case, _ = service.open_case(
        db,
        actor=None,
        source=CaseSource.city_brain,
        site_id=city.sites["HP-002"],
        location=None,
        category="dust_exceedance",
        description="PM10 超标",
        severity="medium",
        external_ref="CB-2",
        now=MONDAY,
        settings=settings,
    )
    ev = service.update_case_from_source(
        db,
        source=CaseSource.city_brain,
        external_ref="CB-2",
        text="再次推送",
        now=MONDAY,
        settings=settings,
    )
    assert ev.kind == "case.source_update" and ev.case_id == case.id
    with pytest.raises(NotFound):
        service.update_case_from_source(
            db, source=CaseSource.city_brain, external_ref="nope", text="x", settings=settings
        )
    note = service.add_note(
        db, who(db, city, "d_heping"), case.id, text="已电话联系", now=MONDAY, settings=settings
    )
    assert note.kind == "case.note" and note.actor_name == "d_heping"
    with pytest.raises(NotFound):
        service.add_note(db, who(db, city, "d_shenhe"), case.id, text="x", settings=settings)
    with pytest.raises(Invalid):
        service.add_note(db, who(db, city, "admin"), case.id, text=" ", settings=settings)
