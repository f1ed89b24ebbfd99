"""The 12319 desk: record a complaint, link it to a case (new or merged), answer the caller.

Why complaints are linked by a person and not automatically: the caller describes a place
in words ("the site behind the school on Zhongshan Road"); the platform proposes the
nearest sites and open duplicates (``hotline_suggest``), the desk decides. Linking goes
through ``cases.service.open_case`` with ``source=hotline_12319`` (``open311`` for a
request filed by an Open311 client), so the case core's
deduplication applies: a second complaint about the same site and problem within the
``DedupPolicy.hotline_window`` joins the open case instead of opening another.
Never commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.cases import repository as case_repo
from dustgrid.cases import service as cases
from dustgrid.cases.categories import CATEGORIES
from dustgrid.cases.models import Case
from dustgrid.cases.repository import NOT_CLOSED
from dustgrid.cases.states import REPORTERS, CaseSource
from dustgrid.config import Settings, get_settings
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.i18n import Msg
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.intake import hotline_settings
from dustgrid.intake import repository as repo
from dustgrid.intake.models import Channel, Complaint, ComplaintStatus
from dustgrid.intake.schemas import ComplaintIn, FeedbackIn, LinkIn
from dustgrid.models import utcnow

SOURCE = CaseSource.hotline_12319
# the case source and the description's tag of a complaint, by the channel it came in
CHANNEL_SOURCES = {Channel.open311: (CaseSource.open311, "Open311 上报")}
CLOCK_SKEW = timedelta(minutes=5)  # a desk PC's clock may run a little ahead
FEEDBACK_FIELDS = ("response_at", "resolved_at", "satisfaction", "satisfied", "feedback_note")
LINK_FIELDS = ("status", "site_id", "case_id", "linked_at", "category", "dismiss_reason")


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


def aware(value: datetime, settings: Settings) -> datetime:
    """A naive time from a form or a vendor is local time (``Settings.timezone``)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=ZoneInfo(settings.timezone))
    return value


def external_ref(complaint: Complaint) -> str:
    return f"complaint:{complaint.id}"


def _check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise Invalid("intake.error.unknown_category", category=category,
                      details={"field": "category", "category": category})  # fmt: skip
    return category


def create(
    session: Session,
    principal: Principal | None,
    data: ComplaintIn,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    open311_key_id: int | None = None,
    caller_email: str = "",
    media_url: str = "",
    district_id: int | None = None,
) -> Complaint:
    """Record a complaint (``principal`` None: a public channel such as Open311).

    ``district_id``: the district the channel already placed it in (Open311 matches
    addresses); else the district holding the point, else the recorder's district."""
    settings = settings or get_settings()
    now = _now(now)
    received = aware(data.received_at, settings) if data.received_at else now
    if received > now + CLOCK_SKEW:
        raise Invalid("intake.error.received_future",
                      details={"field": "received_at"})  # fmt: skip
    _check_category(data.category)
    district = district_id
    if district is None and data.lat is not None and data.lon is not None:
        district = repo.district_at(session, data.lat, data.lon)
    if district is None and principal is not None:
        district = principal.district_id
    c = Complaint(
        channel=data.channel,
        status=ComplaintStatus.received,
        caller_name=data.caller_name,
        caller_phone=data.caller_phone,
        caller_email=caller_email,
        received_at=received,
        place_text=data.place_text,
        lat=data.lat,
        lon=data.lon,
        district_id=district,
        content=data.content,
        category=data.category,
        media_url=media_url,
        created_by_id=principal.user_id if principal else None,
        open311_key_id=open311_key_id,
    )
    session.add(c)
    session.flush()
    audit.record(session, actor=principal, action="hotline.create", entity_type="complaint",
                 entity_id=c.id, changes={"status": [None, c.status.value],
                                          "channel": [None, c.channel.value]},
                 summary=f"登记投诉 #{c.id}（{c.channel.value}）")  # fmt: skip
    return c


def get(session: Session, principal: Principal, complaint_id: int, *, lock: bool = False
        ) -> Complaint:  # fmt: skip
    c = repo.get_visible(session, principal, complaint_id, lock=lock)
    if c is None:
        raise NotFound("intake.error.complaint_not_found", complaint_id=complaint_id)
    return c


def list_complaints(
    session: Session,
    principal: Principal,
    *,
    status: ComplaintStatus | None = None,
    channel: str | None = None,
    q: str | None = None,
    page: int,
    size: int,
) -> tuple[list[Complaint], int]:
    """One page of the complaints in the caller's scope, newest first, with the total."""
    stmt = repo.filtered(principal, status=status, channel=channel, q=q)
    return repo.page(session, stmt, offset=(page - 1) * size, limit=size)


def case_source(c: Complaint) -> tuple[CaseSource, str]:
    """The case source a complaint's case records, and the tag its description starts with."""
    return CHANNEL_SOURCES.get(c.channel, (SOURCE, "12319 投诉"))


def openers(district_allowed: bool) -> frozenset[Role]:
    """Roles allowed to open a case from a complaint besides the case core's ``REPORTERS``."""
    return hotline_settings.DISTRICT_OPENERS if district_allowed else frozenset()


def may_open_case(
    principal: Principal, source: CaseSource = SOURCE, *, district_allowed: bool = False
) -> bool:
    """Whether this role may open a case from a complaint of ``source``: the case core's
    reporters (L1), and a district admin when the city's setting allows it."""
    return principal.role in REPORTERS[source] or principal.role in openers(district_allowed)


def may_open(session: Session, principal: Principal, source: CaseSource = SOURCE) -> bool:
    """``may_open_case`` under the city's setting as stored."""
    allowed = hotline_settings.district_opens_cases(session)
    return may_open_case(principal, source, district_allowed=allowed)


def _snapshot(c: Complaint, names: tuple[str, ...]) -> dict[str, object]:
    return {k: getattr(c, k) for k in names}


def _merge_into(session: Session, principal: Principal, c: Complaint, case_id: int, *,
                now: datetime, settings: Settings) -> Case:  # fmt: skip
    """Join an existing open case chosen by the desk (a ``case.merged`` note on it)."""
    case = case_repo.get_visible(session, principal, case_id, lock=True)
    if case is None:
        raise NotFound("intake.error.case_not_found", case_id=case_id)
    if case.state not in NOT_CLOSED:
        raise Conflict("intake.error.case_closed", case_id=case_id,
                       details={"field": "case_id"})  # fmt: skip
    text = f"12319 投诉 #{c.id} 并入本案：{c.content}"
    cases.add_note(session, principal, case.id, text=text, now=now, settings=settings,
                   kind="case.merged")  # fmt: skip
    case.merged_count = (case.merged_count or 0) + 1
    return case


def link(
    session: Session,
    principal: Principal,
    complaint_id: int,
    data: LinkIn,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> tuple[Complaint, Case, bool]:
    """Open a case for the complaint or merge it into one; returns (complaint, case, new)."""
    settings = settings or get_settings()
    now = _now(now)
    c = get(session, principal, complaint_id, lock=True)
    if c.status != ComplaintStatus.received:
        status = Msg(f"intake.status.{c.status.value}")
        raise Conflict("intake.error.complaint_already", status=status,
                       details={"status": c.status.value})  # fmt: skip
    before = _snapshot(c, LINK_FIELDS)
    category = _check_category(data.category or c.category)
    if data.case_id is not None:
        case, created = _merge_into(session, principal, c, data.case_id, now=now,
                                    settings=settings), False  # fmt: skip
    else:
        source, tag = case_source(c)
        allowed = hotline_settings.district_opens_cases(session)
        if not may_open_case(principal, source, district_allowed=allowed):
            key = (
                "hotline.error.district_not_allowed"
                if principal.role in hotline_settings.DISTRICT_OPENERS
                else "hotline.error.role_may_not_open"
            )
            raise Forbidden(key, details={"field": "site_id"})  # fmt: skip
        location = (c.lat, c.lon) if c.lat is not None and c.lon is not None else None
        if data.site_id is None and location is None:
            raise Invalid("intake.error.complaint_has_no_point_choose_site",
                          details={"field": "site_id"})  # fmt: skip
        if (data.site_id is None and location is not None
                and principal.role in openers(allowed) and principal.district_id is not None
                and repo.district_at(session, *location) != principal.district_id):  # fmt: skip
            raise Forbidden("hotline.error.point_outside_district",
                            details={"field": "site_id"})  # fmt: skip
        place = f"（地点：{c.place_text}）" if c.place_text else ""
        case, created = cases.open_case(
            session,
            actor=principal,
            source=source,
            site_id=data.site_id,
            location=location if data.site_id is None else None,
            category=category,
            description=f"【{tag}】{c.content or c.category}{place}",
            severity=data.severity,
            dedup_key=f"hotline:{data.site_id}:{category}" if data.site_id else None,
            external_ref=external_ref(c),
            now=now,
            settings=settings,
            also_allowed=openers(allowed),
        )
    c.case_id, c.linked_at, c.category = case.id, now, category
    c.site_id = case.site_id if case.site_id is not None else data.site_id
    c.status = ComplaintStatus.linked if created else ComplaintStatus.merged
    if c.district_id is None:
        c.district_id = case.district_id
    audit.record(session, actor=principal, action="hotline.link", entity_type="complaint",
                 entity_id=c.id, changes=audit.diff(before, _snapshot(c, LINK_FIELDS)),
                 summary=f"投诉 #{c.id} {'立案' if created else '并入'}案件 #{case.id}",
                 )  # fmt: skip
    return c, case, created


def dismiss(session: Session, principal: Principal, complaint_id: int, reason: str, *,
            now: datetime | None = None) -> Complaint:  # fmt: skip
    """Not a construction-site matter (or a prank): closed without a case."""
    c = get(session, principal, complaint_id, lock=True)
    if c.status != ComplaintStatus.received:
        raise Conflict(
            "intake.error.complaint_already", status=Msg(f"intake.status.{c.status.value}")
        )
    before = _snapshot(c, LINK_FIELDS)
    c.status, c.dismiss_reason = ComplaintStatus.dismissed, reason.strip()
    audit.record(session, actor=principal, action="hotline.dismiss", entity_type="complaint",
                 entity_id=c.id, changes=audit.diff(before, _snapshot(c, LINK_FIELDS)),
                 summary=f"投诉 #{c.id} 不予受理")  # fmt: skip
    return c


def _when(value: datetime | None, flag: bool, now: datetime, settings: Settings, field: str,
          received: datetime) -> datetime | None:  # fmt: skip
    if value is None and not flag:
        return None
    at = aware(value, settings) if value is not None else now
    if at > now + CLOCK_SKEW:
        raise Invalid("intake.error.future", field=Msg(f"intake.when.{field}"),
                      details={"field": field})  # fmt: skip
    if at < received:
        raise Invalid("intake.error.before_complaint_was_received",
                      field=Msg(f"intake.when.{field}"), details={"field": field})  # fmt: skip
    return at


def feedback(
    session: Session,
    principal: Principal,
    complaint_id: int,
    data: FeedbackIn,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> Complaint:
    """Record the response, the resolution and the caller's satisfaction (any subset)."""
    settings = settings or get_settings()
    now = _now(now)
    c = get(session, principal, complaint_id, lock=True)
    before = _snapshot(c, FEEDBACK_FIELDS)
    response = _when(data.response_at, data.responded, now, settings, "response_at",
                     c.received_at)  # fmt: skip
    resolved = _when(data.resolved_at, data.resolved, now, settings, "resolved_at",
                     c.received_at)  # fmt: skip
    if response is not None:
        c.response_at = response
    if resolved is not None:
        c.resolved_at = resolved
        # a problem resolved was necessarily answered: the caller was told by then
        c.response_at = min(c.response_at or resolved, resolved)
    if c.resolved_at is not None and c.response_at is not None and (c.response_at > c.resolved_at):
        raise Invalid("intake.error.response_after_resolved",
                      details={"field": "response_at"})  # fmt: skip
    if data.satisfaction is not None:
        c.satisfaction = data.satisfaction
    if data.satisfied is not None:
        c.satisfied = data.satisfied
    if (data.satisfaction is not None or data.satisfied is not None) and c.response_at is None:
        raise Invalid("intake.error.record_response_before_satisfaction",
                      details={"field": "satisfaction"})  # fmt: skip
    if data.note.strip():
        c.feedback_note = data.note.strip()
    changes = audit.diff(before, _snapshot(c, FEEDBACK_FIELDS))
    if not changes:
        raise Invalid("intake.error.nothing_record")
    audit.record(session, actor=principal, action="hotline.feedback", entity_type="complaint",
                 entity_id=c.id, changes=changes, summary=f"投诉 #{c.id} 回访记录")  # fmt: skip
    return c
