"""Helpers for the case tests: principals by username, files, and a case at any state.

Not a test module (no ``test_`` prefix); imported as ``tests.cases.case_kit``.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.cases import service
from dustgrid.cases.attachments import AttachmentIn
from dustgrid.cases.models import Case
from dustgrid.cases.states import CaseSource, CaseState
from dustgrid.cases.workflow import MoveInput
from dustgrid.config import Settings
from dustgrid.identity.principal import Principal
from tests.fixtures.city import City

# Monday 2026-03-02 10:00 in Shenyang (02:00 UTC): an ordinary working week.
MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"%" * 64


def photo(name: str = "p.jpg", content: bytes = JPEG) -> AttachmentIn:
    return AttachmentIn(filename=name, content=content)


def doc(name: str = "decision.pdf", content: bytes = PDF) -> AttachmentIn:
    return AttachmentIn(filename=name, content=content, kind="document")


def who(db: Session, city: City, username: str) -> Principal:
    user = db.get(User, city.users[username])
    assert user is not None
    return load_principal(db, user)


def report(
    db: Session,
    city: City,
    settings: Settings,
    *,
    site: str = "HP-001",
    by: str = "insp_hp1",
    now: datetime = MONDAY,
    **kw: Any,
) -> Case:
    """An inspector's report with a photo (the usual way a case starts)."""
    args: dict[str, Any] = {
        "actor": who(db, city, by),
        "source": CaseSource.third_party_inspector,
        "site_id": city.sites[site] if site else None,
        "location": None,
        "category": "bare_soil_cover",
        "description": "裸土未覆盖",
        "severity": "medium",
        "attachments": [photo()],
        "now": now,
        "settings": settings,
    }
    args.update(kw)
    case, created = service.open_case(db, **args)
    assert created
    return case


def mv(
    db: Session,
    city: City,
    settings: Settings,
    case: Case,
    move: str,
    by: str,
    *,
    now: datetime = MONDAY,
    **fields: Any,
) -> Case:
    service.move(
        db, who(db, city, by), case.id, move, MoveInput(**fields), now=now, settings=settings
    )
    return case


# The path to each state from a fresh report on a 和平 site (bureau_heping).
def path_to(state: CaseState) -> list[tuple[str, str, dict[str, Any]]]:
    def resp(city: City) -> dict[str, Any]:
        return {"responsible_id": city.users["off_hp1"]}

    steps: dict[CaseState, list[tuple[str, str, Any]]] = {
        CaseState.reported: [],
        CaseState.dispatched: [
            ("dispatch", "admin", lambda c: {"unit_id": c.units["bureau_heping"]})
        ],
        CaseState.returned: [("return", "d_heping", lambda c: {"reason": "不属于本区"})],
        CaseState.accepted: [("accept", "d_heping", resp)],
        CaseState.handling: [("start_handling", "off_hp1", lambda c: {})],
        CaseState.rectifying: [("order_rectification", "off_hp1", lambda c: {})],
        CaseState.penalizing: [
            ("open_penalty", "off_hp1", lambda c: {"case_number": "沈和建罚〔2026〕1号"})
        ],
        CaseState.verifying: [
            ("fix_on_site", "off_hp1", lambda c: {"result": "已覆盖", "attachments": [photo()]})
        ],
        CaseState.closed: [("verify_pass", "d_heping", lambda c: {"result": "核查合格"})],
        CaseState.suspended: [
            ("suspend", "d_heping", lambda c: {"reason": "待拆迁", "review_date": _review()})
        ],
    }
    chain = {
        CaseState.reported: [],
        CaseState.dispatched: [CaseState.dispatched],
        CaseState.returned: [CaseState.dispatched, CaseState.returned],
        CaseState.accepted: [CaseState.dispatched, CaseState.accepted],
        CaseState.handling: [CaseState.dispatched, CaseState.accepted, CaseState.handling],
        CaseState.rectifying: [
            CaseState.dispatched,
            CaseState.accepted,
            CaseState.handling,
            CaseState.rectifying,
        ],
        CaseState.penalizing: [
            CaseState.dispatched,
            CaseState.accepted,
            CaseState.handling,
            CaseState.penalizing,
        ],
        CaseState.verifying: [
            CaseState.dispatched,
            CaseState.accepted,
            CaseState.handling,
            CaseState.verifying,
        ],
        CaseState.closed: [
            CaseState.dispatched,
            CaseState.accepted,
            CaseState.handling,
            CaseState.verifying,
            CaseState.closed,
        ],
        CaseState.suspended: [CaseState.dispatched, CaseState.accepted, CaseState.suspended],
    }[state]
    return [step for s in chain for step in steps[s]]


def _review() -> Any:
    from datetime import date

    return date(2026, 4, 1)


def case_in(
    db: Session, city: City, settings: Settings, state: CaseState, *, site: str = "HP-001"
) -> Case:
    case = report(db, city, settings, site=site)
    for move, by, fields in path_to(state):
        mv(db, city, settings, case, move, by, **fields(city))
    assert case.state == state
    return case


def xlsx_rows(content: bytes) -> list[tuple[Any, ...]]:
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(content)).worksheets[0]
    return [tuple(r) for r in ws.iter_rows(values_only=True)]
