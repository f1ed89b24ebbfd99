"""Case logic other modules call: open a case, make a move, add a note. Never commits.

``open_case`` (in ``reporting.py``, re-exported here) is the single entry of every intake
channel; ``move`` makes one move of the state machine in the caller's scope;
``add_note`` and ``update_case_from_source`` add to the timeline without a state change.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.cases import attachments as files
from dustgrid.cases import deadlines, fieldfix, followups
from dustgrid.cases import repository as repo
from dustgrid.cases.attachments import AttachmentIn
from dustgrid.cases.events import CaseAudit, record_event
from dustgrid.cases.fieldfix import HandleNow
from dustgrid.cases.filters import CaseFilters
from dustgrid.cases.models import Case, CaseAttachment, CaseEvent
from dustgrid.cases.reporting import _now, open_case
from dustgrid.cases.states import CaseSource, Followup, Move
from dustgrid.cases.tabs import NEWEST_FIRST_TABS, Tab
from dustgrid.cases.workflow import L2_KINDS, MoveInput, default_deadline, transition
from dustgrid.config import Settings, get_settings
from dustgrid.errors import Invalid, NotFound
from dustgrid.i18n import Msg
from dustgrid.identity.principal import Principal
from dustgrid.org import service as org
from dustgrid.text import check_field

__all__ = [
    "add_note",
    "get_case",
    "move",
    "open_case",
    "report_and_handle",
    "update_case_from_source",
]


def get_case(session: Session, principal: Principal, case_id: int, *, lock: bool = False) -> Case:
    case = repo.get_visible(session, principal, case_id, lock=lock)
    if case is None:
        raise NotFound("cases.error.case_not_found", case_id=case_id)
    return case


def move(
    session: Session,
    principal: Principal | None,
    case_id: int,
    move: str,
    data: MoveInput,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseEvent:
    """Load the case in the caller's scope (404 outside it), lock it, and make the move."""
    settings = settings or get_settings()
    if principal is None:
        case = repo.get_visible(session, None, case_id, lock=True)
        if case is None:
            raise NotFound("cases.error.case_not_found_2", case_id=case_id)
    else:
        case = get_case(session, principal, case_id, lock=True)
    return transition(
        session, case, move, actor=principal, data=data, settings=settings, now=_now(now)
    )


def report_and_handle(
    session: Session,
    *,
    actor: Principal,
    handle: HandleNow,
    source: CaseSource,
    site_id: int | None,
    location: tuple[float, float] | None,
    category: str,
    description: str,
    severity: str,
    attachments: Sequence[AttachmentIn] = (),
    external_ref: str | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> tuple[Case, bool]:
    """网格现场处置 in one step: an officer reports at a site of their own enforcement grid
    and handles it at once (``fieldfix``). The report is the usual ``open_case`` (L1, L2, L3
    and the site contact hear of it); the grid move follows in the same transaction. A
    channel's retry (same ``external_ref``) returns the case it made and changes nothing."""
    settings = settings or get_settings()
    now = _now(now)
    fieldfix.check_handle_now(session, actor, source, site_id)
    case, created = open_case(
        session,
        actor=actor,
        source=source,
        site_id=site_id,
        location=location,
        category=category,
        description=description,
        severity=severity,
        attachments=attachments,
        external_ref=external_ref,
        now=now,
        settings=settings,
    )
    if created:
        data = MoveInput(
            result=handle.result, deadline=handle.deadline, attachments=handle.attachments
        )
        transition(session, case, handle.move, actor=actor, data=data, settings=settings, now=now)
    return case, created


def add_note(
    session: Session,
    principal: Principal | None,
    case_id: int,
    *,
    text: str | Msg,
    attachments: Sequence[AttachmentIn] = (),
    now: datetime | None = None,
    settings: Settings | None = None,
    kind: str = "case.note",
    notify: bool = False,
) -> CaseEvent:
    """A note or extra photos on the timeline, without a state change. A ``Msg`` text (the
    system's own note) is kept as its key and parameters too, for the reader's language."""
    settings = settings or get_settings()
    now = _now(now)
    said: dict[str, object] | None = (
        {"reason_msg": text.as_json()} if isinstance(text, Msg) else None
    )
    text = str(text or "").strip()
    check_field("text", text, multiline=True)
    if not text and not attachments:
        raise Invalid("cases.error.write_note_or_attach_file")
    checked = files.check(list(attachments), settings)
    if principal is None:
        case = repo.get_visible(session, None, case_id, lock=True)
        if case is None:
            raise NotFound("cases.error.case_not_found_2", case_id=case_id)
    else:
        case = get_case(session, principal, case_id, lock=True)
    policy = deadlines.case_policy(settings)
    ev = record_event(
        session,
        case,
        kind,
        actor=principal,
        now=now,
        policy_version=policy.version,
        settings=settings,
        reason=text,
        data=said,
        from_state=case.state.value,
        checked=checked,
        audit_row=CaseAudit(action="case.note", summary=f"案件 #{case.id} 补充说明"),
    )
    if notify:
        followups.run(
            session,
            case=case,
            event=ev,
            followups=[Followup.notify_responsible],
            actor=principal,
            policy=policy,
            settings=settings,
            now=now,
        )
    return ev


def update_case_from_source(
    session: Session,
    *,
    source: CaseSource,
    external_ref: str,
    text: str,
    attachments: Sequence[AttachmentIn] = (),
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseEvent:
    """An intake channel adds to its own case (a caller rings again, the camera sees the
    problem go away): a ``case.source_update`` event; the responsible person is told."""
    case = repo.by_external_ref(session, CaseSource(source), external_ref.strip())
    if case is None:
        raise NotFound("cases.error.no_case_reference", external_ref=external_ref)
    return add_note(
        session,
        None,
        case.id,
        text=text,
        attachments=attachments,
        now=now,
        settings=settings,
        kind="case.source_update",
        notify=True,
    )


# ----------------------------------------------------------------------------- reads


NO_FILTERS = CaseFilters()


def list_cases(
    session: Session,
    principal: Principal,
    *,
    tab: Tab,
    now: datetime,
    page: int,
    size: int,
    filters: CaseFilters = NO_FILTERS,
    tz: tzinfo | None = None,
) -> tuple[list[Case], int]:
    """One page of a tab (and filters) in the caller's scope, with the total: work tabs by
    due time (the most urgent first), ``all`` and ``reported`` newest first. Opened dates are
    local days of ``tz`` (the settings' time zone by default)."""
    stmt = _filtered(principal, tab, now, filters, tz)
    return repo.page(
        session,
        stmt,
        offset=(page - 1) * size,
        limit=size,
        order_due=tab not in NEWEST_FIRST_TABS,
    )


#: The most rows an export holds (a file size bound, not a rule).
EXPORT_LIMIT = 10_000


def export_rows(
    session: Session,
    principal: Principal,
    *,
    tab: Tab,
    now: datetime,
    filters: CaseFilters,
    tz: tzinfo,
) -> list[Case]:
    """Every case of a tab and filters in the caller's scope (up to ``EXPORT_LIMIT``), in the
    list's order: what the export file holds."""
    rows, _total = repo.page(
        session,
        _filtered(principal, tab, now, filters, tz),
        offset=0,
        limit=EXPORT_LIMIT,
        order_due=tab not in NEWEST_FIRST_TABS,
    )
    return rows


def _filtered(
    principal: Principal, tab: Tab, now: datetime, f: CaseFilters, tz: tzinfo | None
) -> Any:
    if f.range_reversed:
        raise Invalid(
            "cases.error.opened_range",
            details={"opened_from": str(f.opened_from), "opened_to": str(f.opened_to)},
        )
    since, before = f.opened_bounds(tz or ZoneInfo(get_settings().timezone))
    return repo.filtered(
        principal,
        tab=tab,
        now=now,
        state=f.state,
        site_id=f.site_id,
        source=f.source,
        light=f.light,
        district_id=f.district_id,
        category=f.category,
        opened_since=since,
        opened_before=before,
    )


def tab_counts(session: Session, principal: Principal, now: datetime) -> dict[str, int]:
    """How many cases each of the role's work tabs holds."""
    return repo.tab_counts(session, principal, now)


def map_rows(session: Session, principal: Principal, now: datetime) -> list[Any]:
    """Open cases with a location: id, lat, lon, state, light, category, site id."""
    return repo.map_rows(session, principal, now)


def overdue_board(session: Session, principal: Principal, now: datetime) -> list[dict[str, Any]]:
    """Per L2 unit: open, yellow and red cases and the oldest overdue due time."""
    return repo.overdue_board(session, principal, now)


def site_cases(session: Session, principal: Principal, site_id: int) -> list[Case]:
    """The latest cases of one site in the caller's scope."""
    return repo.site_cases(session, principal, site_id)


def rechecks_due(
    session: Session, principal: Principal, *, now: datetime, until: datetime
) -> list[Case]:
    """Rectification cases in the caller's grids whose recheck is due by ``until`` (the
    phone's "Today" page)."""
    return repo.rechecks_due(session, principal, now=now, until=until)


def open_cases_at(session: Session, principal: Principal, site_ids: Collection[int]) -> list[Case]:
    """Open cases at the given sites, in the caller's scope."""
    return repo.open_cases_at(session, principal, site_ids)


def dispatch_units(session: Session) -> list[Any]:
    """``(id, name)`` of the units a case may be dispatched or transferred to (L2)."""
    return org.units_of_kinds(session, L2_KINDS)


def move_defaults(
    case: Case, moves: Collection[Move], *, now: datetime, settings: Settings
) -> dict[str, date]:
    """The local dates a move's form proposes when the policy has a default deadline for it
    (``workflow.default_deadline``, the same rule the move applies to an empty field)."""
    cal = deadlines.work_calendar(settings)
    out: dict[str, date] = {}
    for mv in moves:
        due = default_deadline(case, mv, now=now, settings=settings, calendar=cal)
        if due is not None:
            out[mv.value] = due.astimezone(cal.tz).date()
    return out


def get_attachment(
    session: Session, principal: Principal, case_id: int, attachment_id: int
) -> CaseAttachment | None:
    """An attachment of a case in the caller's scope (404 for the case outside it)."""
    case = get_case(session, principal, case_id)
    return repo.attachment(session, case.id, attachment_id)
