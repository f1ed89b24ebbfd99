"""Bad-behaviour records (不良行为记录), the blacklist, red and black lists, and the export
for the credit system (诚信体系). Never commits.

Decision: ``Enterprise.bad_record_count`` is the number of records ever kept; lifting an
enterprise from the blacklist clears the flag but not the count, so the next record puts
it back on the list (the policy is "blacklisted at three records", and it still has them).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.cases.credit import repository as repo
from dustgrid.cases.credit.models import (
    BadBehaviourRecord,
    BlacklistEntry,
    SiteProblem,
    StopWorkOrder,
)
from dustgrid.cases.ladder import blacklist_decision
from dustgrid.cases.models import Case
from dustgrid.cases.policy import CasePolicy
from dustgrid.config import Settings
from dustgrid.errors import Conflict, Forbidden, Invalid, NotFound
from dustgrid.i18n import translate
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.notifications import service as notifications
from dustgrid.sites.models import Enterprise, Site
from dustgrid.xlsx import append_row


def record_bad_behaviour(
    session: Session,
    *,
    case: Case,
    site: Site,
    actor: Principal | None,
    now: datetime,
    policy: CasePolicy,
    settings: Settings,
) -> BadBehaviourRecord | None:
    """A record for the site's contractor once a penalty is served; blacklist at threshold."""
    ent_id = site.contractor_id
    if ent_id is None:
        return None
    if repo.has_bad_record(session, case.id, ent_id):
        return None
    rec = BadBehaviourRecord(
        enterprise_id=ent_id,
        site_id=site.id,
        case_id=case.id,
        kind="penalty_served",
        description=f"{site.name}：{case.description}"[:2000],
        penalty_case_number=case.penalty_case_number,
        recorded_at=now,
        policy_version=policy.blacklist.version,
    )
    session.add(rec)
    session.flush()
    ent = session.get(Enterprise, ent_id, with_for_update=True)
    assert ent is not None
    count = repo.bad_record_count(session, ent_id)
    before = {"bad_record_count": ent.bad_record_count, "blacklisted": ent.blacklisted}
    ent.bad_record_count = count
    decision = blacklist_decision(count - _records_at_last_lift(session, ent_id), policy.blacklist)
    newly_listed = decision.blacklisted and not ent.blacklisted
    if newly_listed:
        ent.blacklisted = True
        session.add(
            BlacklistEntry(
                enterprise_id=ent_id,
                listed_at=now,
                record_count=decision.count,
                policy_version=decision.policy_version,
            )
        )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="bad_record",
        entity_type="enterprise",
        entity_id=ent_id,
        changes=audit.diff(before, {"bad_record_count": count, "blacklisted": ent.blacklisted}),
        summary=f"不良行为记录 +1（{ent.name}，共 {count} 条）"
        + ("，列入黑名单" if newly_listed else ""),
    )
    notifications.notify(
        session,
        user_ids=[],
        kind="credit.bad_record",
        title=translate("credit.notice.bad_record").format(name=ent.name, uscc=ent.uscc),
        message_key="credit.notice.bad_record",
        params={"name": ent.name, "uscc": ent.uscc},
        link=f"/cases/{case.id}",
        case_id=case.id,
        now=now,
        settings=settings,
        extra={"record": export_row(rec, ent, site)},
    )
    return rec


def _records_at_last_lift(session: Session, enterprise_id: int) -> int:
    """Records the enterprise had when its last blacklisting was lifted (0: never lifted);
    a lift is a fresh start, so only the records made after it count towards relisting."""
    return int(repo.records_at_last_lift(session, enterprise_id) or 0)


def lift_blacklist(
    session: Session, principal: Principal, enterprise_id: int, *, reason: str, now: datetime
) -> Enterprise:
    """An admin takes an enterprise off the blacklist, with a reason: a fresh start, the
    records so far no longer count towards the next listing (they stay on the record)."""
    if not principal.can(Perm.credit_admin):
        raise Forbidden("cases.error.only_administrator_may_lift_blacklisting")
    ent = session.get(Enterprise, enterprise_id)
    if ent is None:
        raise NotFound("cases.error.enterprise_not_found", enterprise_id=enterprise_id)
    if not ent.blacklisted:
        raise Conflict("cases.error.enterprise_not_blacklisted")
    if len(reason.strip()) < 2:
        raise Invalid("cases.error.reason_required")
    ent.blacklisted = False
    entry = repo.open_blacklisting(session, ent.id)
    if entry is not None:
        entry.lifted_at, entry.lifted_by_id, entry.lift_reason = now, principal.user_id, reason
        entry.records_at_lift = ent.bad_record_count
    session.flush()
    audit.record(
        session,
        actor=principal,
        action="blacklist_lift",
        entity_type="enterprise",
        entity_id=ent.id,
        changes={"blacklisted": [True, False], "reason": [None, reason.strip()]},
        summary=f"解除黑名单：{ent.name}",
    )
    return ent


def black_list(session: Session) -> list[dict[str, Any]]:
    """Enterprises on the blacklist now (a public list inside the platform)."""
    return [
        {"id": e.id, "name": e.name, "uscc": e.uscc, "records": e.bad_record_count, "since": at}
        for e, at in repo.blacklisted(session)
    ]


def red_list(session: Session, *, now: datetime, window_days: int) -> list[dict[str, Any]]:
    """Contractors with active sites, all fully compliant, and no problem or bad record in
    the window: the red list (红榜)."""
    since = now - timedelta(days=window_days)
    return [{"id": e.id, "name": e.name, "uscc": e.uscc} for e in repo.red_list(session, since)]


def export_row(rec: BadBehaviourRecord, ent: Enterprise, site: Site | None) -> dict[str, Any]:
    return {
        "record_id": rec.id,
        "enterprise_name": ent.name,
        "uscc": ent.uscc,
        "site_project_code": site.project_code if site else "",
        "site_name": site.name if site else "",
        "case_id": rec.case_id,
        "kind": rec.kind,
        "penalty_case_number": rec.penalty_case_number,
        "description": rec.description,
        "recorded_at": rec.recorded_at.isoformat(),
        "enterprise_record_count": ent.bad_record_count,
        "blacklisted": ent.blacklisted,
        "policy_version": rec.policy_version,
    }


def bad_records(session: Session, principal: Principal) -> list[dict[str, Any]]:
    """Records in the caller's scope: the whole city for L1, else those of visible sites
    and, for a contractor, its own."""
    return [export_row(r, e, s) for r, e, s in repo.bad_records(session, principal)]


EXPORT_HEADERS = (
    ("record_id", "记录编号"),
    ("enterprise_name", "企业名称"),
    ("uscc", "统一社会信用代码"),
    ("site_project_code", "项目编号"),
    ("site_name", "项目名称"),
    ("case_id", "案件编号"),
    ("kind", "记录类型"),
    ("penalty_case_number", "处罚案号"),
    ("description", "问题描述"),
    ("recorded_at", "记录时间"),
    ("enterprise_record_count", "企业记录总数"),
    ("blacklisted", "是否黑名单"),
    ("policy_version", "规则版本"),
)


def bad_records_xlsx(rows: list[dict[str, Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "不良行为记录"
    append_row(ws, [zh for _key, zh in EXPORT_HEADERS])
    append_row(ws, [key for key, _zh in EXPORT_HEADERS])
    for row in rows:  # user text (enterprise names, case numbers) is written as text
        append_row(ws, [row[key] for key, _zh in EXPORT_HEADERS])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ----------------------------------------------------------------------------- reads

LIST_LIMIT = 500  # the penalty and stop-work lists show at most this many rows, newest first


def list_problems(
    session: Session, principal: Principal, *, site_id: int | None, status: str | None
) -> list[SiteProblem]:
    """Ladder proposals in the caller's scope, newest first."""
    return repo.problems(session, principal, site_id=site_id, status=status, limit=LIST_LIMIT)


def list_stop_work_orders(
    session: Session, principal: Principal, *, site_id: int | None
) -> list[StopWorkOrder]:
    """Stop-work orders in the caller's scope, newest first."""
    return repo.stop_work_orders(session, principal, site_id=site_id, limit=LIST_LIMIT)


def problem_of_case(session: Session, case_id: int) -> SiteProblem | None:
    """The ladder proposal a case raised (the case page shows it), if any."""
    return repo.problem_of_case(session, case_id)
