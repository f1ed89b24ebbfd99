"""JSON routes of the monthly assessment: ``/api/v1/assessments`` and its appeals."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from dustgrid.assessments import service as svc
from dustgrid.assessments.models import AssessmentAppeal, AssessmentScore
from dustgrid.assessments.months import Month
from dustgrid.assessments.schemas import (
    AppealIn,
    AppealOut,
    DecisionIn,
    MonthOut,
    RunOut,
    ScoreOut,
    item_out,
)
from dustgrid.bounds import Id
from dustgrid.errors import error_responses
from dustgrid.identity.deps import CurrentPrincipal, DbSession
from dustgrid.routing import Router

router = Router(prefix="/api/v1", tags=["assessments"], responses=error_responses())


def score_out(s: AssessmentScore) -> ScoreOut:
    return ScoreOut(
        kind=s.kind,
        id=s.party_id,
        name=s.name,
        score=s.score,
        consequence=s.consequence,
        policy_version=s.policy_version,
        items=[item_out(i) for i in s.items],
    )


def appeal_out(a: AssessmentAppeal) -> AppealOut:
    return AppealOut(
        id=a.id, month=a.month, kind=a.kind, party_id=a.party_id, rule=a.rule, period=a.period,
        evidence=a.ref_key, reason=a.reason, state=a.state, note=a.note,
        score_before=a.score_before, score_after=a.score_after, version_after=a.version_after,
        filed_at=a.filed_at, decided_at=a.decided_at,
    )  # fmt: skip


@router.get(
    "/assessments",
    response_model=MonthOut,
    summary="A month's scores in scope, each deduction with its evidence",
)
def assessments(
    session: DbSession,
    principal: CurrentPrincipal,
    month: Annotated[str, Query(description="YYYY-MM", max_length=7)],
    kind: Annotated[str | None, Query(description="one kind of party", max_length=16)] = None,
) -> MonthOut:
    m = svc.month_scores(session, principal, Month.parse(month), kind)
    return MonthOut(
        month=m.month,
        state=m.state,
        version=m.version,
        scores=[score_out(s) for s in m.scores],
        runs=[
            RunOut(
                version=r.version,
                reason=r.reason,
                note=r.note,
                appeal_id=r.appeal_id,
                policy_version=r.policy_version,
                created_at=r.created_at,
            )
            for r in m.runs
        ],  # fmt: skip
    )


@router.get(
    "/assessments/appeals",
    response_model=list[AppealOut],
    summary="A month's appeals of the parties in scope",
)
def appeals(
    session: DbSession,
    principal: CurrentPrincipal,
    month: Annotated[str, Query(description="YYYY-MM", max_length=7)],
) -> list[AppealOut]:
    return [appeal_out(a) for a in svc.visible_appeals(session, principal, Month.parse(month))]


@router.post(
    "/assessments/appeals",
    response_model=AppealOut,
    status_code=201,
    summary="Appeal one deduction (the party's own side)",
)
def file_appeal(session: DbSession, principal: CurrentPrincipal, body: AppealIn) -> AppealOut:
    a = svc.file_appeal(
        session, principal, Month.parse(body.month), body.kind, body.party_id, rule=body.rule,
        reason=body.reason, period=body.period, ref_key=body.evidence,
    )  # fmt: skip
    return appeal_out(a)


@router.post(
    "/assessments/appeals/{appeal_id}/decision",
    response_model=AppealOut,
    summary="L1 accepts or rejects an appeal; an accepted one re-scores the party",
)
def decide(
    session: DbSession, principal: CurrentPrincipal, appeal_id: Id, body: DecisionIn
) -> AppealOut:
    return appeal_out(
        svc.decide_appeal(session, principal, appeal_id, accept=body.accept, note=body.note)
    )
