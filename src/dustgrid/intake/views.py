"""Complaint rows as API shapes; callers' names and phones are masked in lists.

Why mask in lists but not on the detail: a list is what gets screen-shared, printed and
exported; the desk needs the full number only when calling the person back, from the
complaint's own page (which is scoped and audited like every read of it).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from dustgrid.cases.models import Case
from dustgrid.intake import repository as repo
from dustgrid.intake.models import Complaint
from dustgrid.intake.schemas import ComplaintOut
from dustgrid.sites.models import Site


def mask_phone(phone: str) -> str:
    """``13812345678`` → ``138****5678``; a landline keeps its last four digits, a short
    number its last two."""
    digits = phone.strip()
    if not digits:
        return ""
    if len(digits) >= 11:
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if len(digits) >= 7:
        return "*" * (len(digits) - 4) + digits[-4:]
    return "*" * max(1, len(digits) - 2) + digits[-2:]


def mask_name(name: str) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``, ``John Smith`` → ``J*********``."""
    name = name.strip()
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)


def complaint_rows(
    session: Session, rows: Sequence[Complaint], *, masked: bool
) -> list[ComplaintOut]:
    sites = repo.names(session, Site, [c.site_id for c in rows], "name")
    states = repo.names(session, Case, [c.case_id for c in rows], "state")
    out = []
    for c in rows:
        state = states.get(c.case_id) if c.case_id else None
        out.append(
            ComplaintOut(
                id=c.id,
                channel=c.channel.value,
                status=c.status.value,
                caller_name=mask_name(c.caller_name) if masked else c.caller_name,
                caller_phone=mask_phone(c.caller_phone) if masked else c.caller_phone,
                received_at=c.received_at,
                place_text=c.place_text,
                lat=c.lat,
                lon=c.lon,
                district_id=c.district_id,
                content=c.content,
                category=c.category,
                site_id=c.site_id,
                site_name=sites.get(c.site_id) if c.site_id else None,
                case_id=c.case_id,
                case_state=getattr(state, "value", state),
                linked_at=c.linked_at,
                response_at=c.response_at,
                resolved_at=c.resolved_at,
                satisfaction=c.satisfaction,
                satisfied=c.satisfied,
                feedback_note=c.feedback_note,
                dismiss_reason=c.dismiss_reason,
            )
        )
    return out


def complaint_out(session: Session, c: Complaint) -> ComplaintOut:
    return complaint_rows(session, [c], masked=False)[0]
