"""JSON shapes of the assessment routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from dustgrid.bounds import Id
from dustgrid.text import MultilineText


class EvidenceOut(BaseModel):
    kind: str = Field(
        description="case | alert | visit | plan_day | device_period | device | site | gate "
        "(a site producing waste with its connect-before-waste gate closed)"
    )
    id: int
    key: str = Field(description="what an appeal names to contest this record")
    day: str | None = Field(
        default=None, description="a plan day, or the day a camera's stream was measured"
    )
    member: int | None = None
    detail: str | None = None


class ItemOut(BaseModel):
    rule: str
    value: float | None
    points: float = Field(description="negative: a deduction; positive: a credit")
    evidence: list[EvidenceOut]
    period: str | None = Field(default=None, description="the check week's Monday")
    waived: bool = False


class ScoreOut(BaseModel):
    kind: str = Field(description="l2_unit | officer_group | officer | inspector_group | provider")
    id: int = Field(description="the unit, group, officer (user), or provider enterprise")
    name: str
    score: float
    consequence: str = Field(description="providers: interview | suspended | blacklisted")
    policy_version: str
    items: list[ItemOut]


class RunOut(BaseModel):
    version: int
    reason: str = Field(description="computed | closed | rerun | appeal")
    note: str
    appeal_id: int | None
    policy_version: str
    created_at: datetime


class MonthOut(BaseModel):
    month: str
    state: str = Field(description="open | closed")
    version: int
    scores: list[ScoreOut]
    runs: list[RunOut]


class AppealIn(BaseModel):
    month: str = Field(max_length=7, description="YYYY-MM")
    kind: str = Field(max_length=16)
    party_id: Id
    rule: str = Field(max_length=32)
    period: str = Field(default="", max_length=16)
    evidence: str = Field(default="", max_length=64, description="an evidence key; empty: all")
    reason: MultilineText = Field(min_length=1, max_length=2000)


class DecisionIn(BaseModel):
    accept: bool
    note: MultilineText = Field(min_length=1, max_length=2000)


class AppealOut(BaseModel):
    id: int
    month: str
    kind: str
    party_id: int
    rule: str
    period: str
    evidence: str
    reason: str
    state: str = Field(description="pending | accepted | rejected")
    note: str
    score_before: float
    score_after: float | None
    version_after: int | None
    filed_at: datetime
    decided_at: datetime | None


def item_out(item: dict[str, Any]) -> ItemOut:
    return ItemOut.model_validate(item)
