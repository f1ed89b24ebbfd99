"""The monthly notice from the records: assessment scores, credit lists, key figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from sqlalchemy.orm import Session

from dustgrid.assessments import repository as assess_repo
from dustgrid.assessments.models import AssessmentScore
from dustgrid.assessments.months import Month
from dustgrid.assessments.service import Window
from dustgrid.audit import service as audit
from dustgrid.cases.credit import service as credit
from dustgrid.cases.deadlines import case_policy
from dustgrid.config import Settings
from dustgrid.errors import Forbidden, NotFound
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm, Role
from dustgrid.models import utcnow
from dustgrid.reports import figures as fig
from dustgrid.reports import repository as repo
from dustgrid.reports.models import MonthlyNotice
from dustgrid.reports.notice import (
    KINDS,
    Notice,
    RankRow,
    notice_dict,
    notice_of,
    notice_pdf,
    notice_xlsx,
    t,
)


def rankings(scores: Sequence[AssessmentScore]) -> dict[str, list[RankRow]]:
    """Per kind, best first (ties share a rank, then by name)."""
    out: dict[str, list[RankRow]] = {}
    for kind in KINDS:
        mine = sorted((s for s in scores if s.kind == kind), key=lambda s: (-s.score, s.name))
        rows: list[RankRow] = []
        for i, s in enumerate(mine):
            rank = rows[-1].rank if rows and rows[-1].score == s.score else i + 1
            lost = sum(float(item["points"]) for item in s.items if float(item["points"]) < 0)
            rows.append(RankRow(rank, s.name, float(s.score), lost, s.consequence))
        out[kind] = rows
    return out


def key_figures(session: Session, w: Window, state: str) -> list[tuple[str, str]]:
    grades = [g for sites in assess_repo.unit_grades(session, w.end).values() for _, g in sites]
    graded = len(grades)
    full = sum(1 for g in grades if g == "full")
    basic = sum(1 for g in grades if g == "basic")
    bad = sum(1 for g in grades if g == "non_compliant")
    devices = assess_repo.provider_devices(session, w.start, w.until)
    periods = assess_repo.offline_periods(session, [d.device_id for d in devices], w.start, w.until)
    online = fig.online_rate(
        [(d.device_id, d.activated_at, d.removed_at) for d in devices],
        [(p.device_id, p.started_at, p.ended_at) for p in periods],
        w.start, w.until,
    )  # fmt: skip
    return [
        ("reports.fig.sites", str(repo.sites_in_service(session, w.end))),
        ("reports.fig.graded", str(graded)),
        ("reports.fig.full_share", fig.percent(fig.share(full, graded))),
        ("reports.fig.compliant_share", fig.percent(fig.share(full + basic, graded))),
        ("reports.fig.non_compliant_share", fig.percent(fig.share(bad, graded))),
        ("reports.fig.online_rate", fig.percent(online)),
        ("reports.fig.cases_opened", str(repo.cases_opened(session, w.start, w.end))),
        ("reports.fig.cases_closed", str(repo.cases_closed(session, w.start, w.end))),
        ("reports.fig.alerts", str(repo.alerts_raised(session, w.start, w.end))),
        ("reports.fig.assessment_state", t(f"reports.state.{state}")),
    ]


def monthly_notice(
    session: Session, month: Month, settings: Settings, now: datetime | None = None
) -> Notice:
    """The month's notice as the records stand (the assessment's current version; a month
    never scored has empty rankings)."""
    now = now or utcnow()
    w = Window.of(month, settings, now)
    row = assess_repo.month_row(session, str(month))
    state, version = ("open", 0) if row is None else (row.state, row.version)
    scores = assess_repo.scores(session, str(month), version) if version else []
    window = case_policy(settings).ladder.window_days
    return Notice(
        month=str(month),
        state=state,
        version=version,
        figures=key_figures(session, w, state),
        rankings=rankings(scores),
        red=[str(r["name"]) for r in credit.red_list(session, now=w.until, window_days=window)],
        black=[(str(b["name"]), int(b["records"])) for b in credit.black_list(session)],
    )


def write_notice(notice: Notice, out: Path) -> tuple[Path, Path]:
    """Write ``<out>/monthly-notice-YYYY-MM.xlsx`` and ``.pdf``; returns both paths."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"monthly-notice-{notice.month}"
    xlsx, pdf = out / f"{stem}.xlsx", out / f"{stem}.pdf"
    xlsx.write_bytes(notice_xlsx(notice))
    pdf.write_bytes(notice_pdf(notice))
    return xlsx, pdf


# ---------------------------------------------------------------------------- publishing

FILE_TYPES: Final = ("pdf", "xlsx")


def may_read(principal: Principal) -> bool:
    """Published notices go to the officials (grid work); contractors and providers see
    their own records elsewhere."""
    return principal.can(Perm.grid_work)


def may_publish(principal: Principal) -> bool:
    return principal.role == Role.city_admin


def notice_dir(settings: Settings, notice_id: int) -> Path:
    return settings.var_dir / "notices" / str(notice_id)


def publish(
    session: Session, principal: Principal, month: Month | str, settings: Settings
) -> MonthlyNotice:
    """L1 publishes MONTH's notice as the records stand: a new row with what it says, its
    files written under ``var_dir``, audited. A month as text is read after the check."""
    if not may_publish(principal):
        raise Forbidden("reports.error.l1_only")
    notice = monthly_notice(session, Month.parse(month) if isinstance(month, str) else month,
                            settings)  # fmt: skip
    row = MonthlyNotice(
        month=notice.month, assessment_version=notice.version,
        assessment_state=notice.state, published_by_id=principal.user_id,
        content=notice_dict(notice),
    )  # fmt: skip
    repo.add(session, row)
    write_notice(notice, notice_dir(settings, row.id))
    audit.record(
        session, actor=principal, action="notice_publish", entity_type="monthly_notice",
        entity_id=row.id,
        changes={"month": [None, notice.month], "version": [None, notice.version]},
        summary=f"发布月通报：{notice.month}",
    )  # fmt: skip
    return row


def published(session: Session, principal: Principal) -> list[MonthlyNotice]:
    if not may_read(principal):
        raise Forbidden("reports.error.not_reader")
    return repo.notices(session)


def published_notice(
    session: Session, principal: Principal, notice_id: int
) -> tuple[MonthlyNotice, Notice | None]:
    """A publication and what it said (None when published before that was kept)."""
    if not may_read(principal):
        raise Forbidden("reports.error.not_reader")
    row = repo.notice(session, notice_id)
    if row is None:
        raise NotFound("reports.error.not_found")
    return row, notice_of(row.content) if row.content else None


def publisher_names(session: Session, rows: Sequence[MonthlyNotice]) -> dict[int, str]:
    ids = sorted({r.published_by_id for r in rows if r.published_by_id is not None})
    return repo.user_names(session, ids)


def notice_file(
    session: Session, principal: Principal, settings: Settings, notice_id: int, ext: str
) -> tuple[str, bytes]:
    """(file name, content) of a published notice's .xlsx or .pdf."""
    if not may_read(principal):
        raise Forbidden("reports.error.not_reader")
    row = repo.notice(session, notice_id)
    if row is None or ext not in FILE_TYPES:
        raise NotFound("reports.error.not_found")
    name = f"monthly-notice-{row.month}.{ext}"
    path = notice_dir(settings, row.id) / name
    if not path.is_file():
        raise NotFound("reports.error.not_found")
    return name, path.read_bytes()


# ---------------------------------------------------------------------------- drafts (L1)


@dataclass(frozen=True, slots=True)
class DraftMonth:
    """An assessed month as L1 sees it before publishing: is its latest publication (if
    any) of the assessment's current version?"""

    month: str
    state: str  # open | closed
    version: int  # the assessment's current version
    published_id: int | None  # the latest publication of the month
    published_version: int | None  # the assessment version it was made from

    @property
    def up_to_date(self) -> bool:
        return self.published_version == self.version


def drafts(session: Session, principal: Principal) -> list[DraftMonth]:
    """Every assessed month, newest first, with its latest publication (L1 only)."""
    if not may_publish(principal):
        raise Forbidden("reports.error.l1_only")
    latest: dict[str, MonthlyNotice] = {}
    for row in repo.notices(session):  # newest publication of a month first
        latest.setdefault(row.month, row)
    out = []
    for m in repo.assessed_months(session):
        pub = latest.get(m.month)
        out.append(DraftMonth(m.month, m.state, m.version, pub.id if pub else None,
                              pub.assessment_version if pub else None))  # fmt: skip
    return out


def draft(session: Session, principal: Principal, month: str, settings: Settings) -> Notice:
    """MONTH's (``YYYY-MM``) notice as it would be published now (L1 only; checked before
    the month is read)."""
    if not may_publish(principal):
        raise Forbidden("reports.error.l1_only")
    return monthly_notice(session, Month.parse(month), settings)


def draft_file(
    session: Session, principal: Principal, settings: Settings, month: str, ext: str
) -> tuple[str, bytes]:
    """(file name, content) of MONTH's (``YYYY-MM``) draft notice as .pdf or .xlsx (L1
    only; checked before the month is read)."""
    if not may_publish(principal):
        raise Forbidden("reports.error.l1_only")
    if ext not in FILE_TYPES:
        raise NotFound("reports.error.not_found")
    notice = draft(session, principal, month, settings)
    content = notice_pdf(notice) if ext == "pdf" else notice_xlsx(notice)
    return f"monthly-notice-{notice.month}-draft.{ext}", content
