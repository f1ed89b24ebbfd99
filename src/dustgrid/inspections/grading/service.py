"""Regrading a site from the database, its grade history, the case hook and the stale chore.

``regrade_site`` reads the site's latest submitted inspection and its open cases, applies
the rule (``rule.grade_site``) and, when the verdict differs from the site's latest history
row (grade or reasons), writes a ``site_grade_history`` row and an audit row; the site's
``grade`` / ``graded_at`` change only when the grade itself changes. A site that no
submitted inspection ever graded keeps the grade it had (typed before grading by the rule,
or 未评定): open cases alone do not grade a site. Never commits.

Who calls it:
- the inspection service, after a visit is submitted;
- ``cases`` through ``cases.hooks`` (registered below) when a case at the site opens or
  changes state, so cases never import inspections;
- the ``grading.stale`` chore, for sites whose latest visit went stale since last graded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from dustgrid import periodic
from dustgrid.audit import service as audit
from dustgrid.cases import hooks
from dustgrid.config import Settings
from dustgrid.errors import NotFound
from dustgrid.identity.principal import Principal
from dustgrid.inspections.grading import repository as repo
from dustgrid.inspections.grading.models import SiteGradeHistory
from dustgrid.inspections.grading.rule import (
    DEFAULT_GRADING_POLICY,
    CaseFacts,
    GradeVerdict,
    GradingPolicy,
    InspectionFacts,
    ItemFacts,
    grade_site,
)
from dustgrid.sites import service as sites
from dustgrid.sites.models import Grade, Site

__all__ = [
    "GradeLine",
    "history",
    "history_of",
    "regrade_site",
    "regrade_stale_sites",
    "verdict_for",
]

# How many stale sites one chore run regrades at most (the rest on the next run).
STALE_BATCH = 500


def _facts(session: Session, site_id: int) -> tuple[InspectionFacts | None, list[CaseFacts]]:
    found = repo.latest_submitted_inspection(session, site_id)
    inspection = None
    if found is not None and found.submitted_at is not None:
        items = tuple(
            ItemFacts(i.item_code, i.outcome.value) for i in repo.items_of(session, found.id)
        )
        inspection = InspectionFacts(found.id, found.submitted_at, found.mode.value, items)
    cases = [
        CaseFacts(c.id, c.state.value, c.category, c.severity)
        for c in repo.open_cases_at(session, site_id)
    ]
    return inspection, cases


def verdict_for(
    session: Session,
    site_id: int,
    *,
    now: datetime | None = None,
    policy: GradingPolicy = DEFAULT_GRADING_POLICY,
) -> GradeVerdict:
    """What the rule says of the site now (reads only)."""
    inspection, cases = _facts(session, site_id)
    return grade_site(inspection, cases, now=now or datetime.now(UTC), policy=policy)


def _unchanged(last: SiteGradeHistory | None, site: Site, verdict: GradeVerdict) -> bool:
    if last is None and verdict.inspection_id is None:
        # never graded by the rule and nothing to grade from: a grade typed before grading
        # by the rule stays (the site page says so) until the first submitted inspection
        return True
    if last is None:
        return False
    return (
        last.grade == verdict.grade.value == site.grade.value
        and last.reasons == verdict.reasons_json()
        and last.policy_version == verdict.policy_version
    )


def regrade_site(
    session: Session,
    site_id: int,
    *,
    now: datetime | None = None,
    actor: Principal | None = None,
    policy: GradingPolicy = DEFAULT_GRADING_POLICY,
) -> SiteGradeHistory | None:
    """Grade the site by the rule; the new history row, or ``None`` when nothing changed."""
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound("inspections.error.site_not_found", site_id=site_id)
    at = now or datetime.now(UTC)
    verdict = verdict_for(session, site_id, now=at, policy=policy)
    if _unchanged(repo.latest_history(session, site_id), site, verdict):
        return None
    previous = site.grade.value
    row = SiteGradeHistory(
        site_id=site_id,
        grade=verdict.grade.value,
        previous_grade=previous,
        policy_version=verdict.policy_version,
        reasons=verdict.reasons_json(),
        inspection_id=verdict.inspection_id,
        stale=verdict.stale,
        changed_at=at,
        actor_id=actor.user_id if actor else None,
    )
    session.add(row)
    if verdict.grade.value != previous:
        site.grade = Grade(verdict.grade.value)
        site.graded_at = at
    session.flush()
    _audit(session, actor, site, previous, verdict)
    return row


def _audit(
    session: Session, actor: Principal | None, site: Site, previous: str, verdict: GradeVerdict
) -> None:
    # the reasons are in the history row; the audit row says what changed and by which rule
    changes: dict[str, Any] = {"grade": [previous, verdict.grade.value]}
    audit.record(
        session,
        actor=actor,
        action="site.regrade",
        entity_type="site",
        entity_id=site.id,
        changes=changes,
        summary=f"工地 {site.project_code} 按评定规则 {verdict.policy_version} 重新评定等级",
    )


@dataclass(frozen=True, slots=True)
class GradeLine:
    """One row of a site's grade history as a page shows it."""

    grade: str
    previous_grade: str | None
    reasons: list[dict[str, Any]]
    policy_version: str
    changed_at: datetime
    actor_name: str | None  # the person's name; ``None``: the system
    stale: bool


def history(
    session: Session, principal: Principal, site_id: int, *, limit: int = 50
) -> list[GradeLine]:
    """The site's grade history, newest first (404 outside the principal's scope)."""
    return history_of(session, sites.get_site(session, principal, site_id), limit=limit)


def history_of(session: Session, site: Site, *, limit: int = 50) -> list[GradeLine]:
    """The grade history of a site the caller has already read in its scope (the site page
    reads it once for every panel instead of once per panel)."""
    return [
        GradeLine(
            h.grade,
            h.previous_grade,
            list(h.reasons),
            h.policy_version,
            h.changed_at,
            name,
            h.stale,
        )
        for h, name in repo.history_with_names(session, site.id, limit)
    ]


@hooks.on_site_cases_changed
def _on_case_changed(
    session: Session, site_id: int, now: datetime, actor: Principal | None
) -> None:
    regrade_site(session, site_id, now=now, actor=actor)


def regrade_stale_sites(
    session: Session, now: datetime, *, policy: GradingPolicy = DEFAULT_GRADING_POLICY
) -> int:
    """Regrade the sites whose latest visit went stale since they were last graded."""
    ids = repo.stale_site_ids(session, now - policy.stale_after, STALE_BATCH)
    for site_id in ids:
        regrade_site(session, site_id, now=now, policy=policy)
    return len(ids)


@periodic.chore("grading.stale")
def _stale_chore(session: Session, settings: Settings) -> int:
    return regrade_stale_sites(session, datetime.now(UTC))
