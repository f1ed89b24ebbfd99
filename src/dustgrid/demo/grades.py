"""Demo grades that the grading rule gave: one submitted inspection per graded demo site.

The ledger planner picks how graded the demo city looks (``ledger._GRADE_WEIGHTS``); this
module writes, for every graded site, one on-site inspection by a member of the site's
inspector grid whose checklist leads the rule (``inspections.grading.rule``) to that grade:
every control measure passed (完全达标), one minor measure failed (基本达标) or one key
measure failed (不达标). The site's grade is then the rule's verdict, with a grade history
row explaining it, exactly as if the visit had been submitted in the app.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from dustgrid.cases.categories import CONTROL_MEASURES
from dustgrid.inspections.grading.models import SiteGradeHistory
from dustgrid.inspections.grading.rule import (
    DEFAULT_GRADING_POLICY,
    GradeVerdict,
    InspectionFacts,
    ItemFacts,
    grade_site,
)
from dustgrid.inspections.models import (
    Inspection,
    InspectionItem,
    InspectionMode,
    InspectionResult,
    ItemOutcome,
)
from dustgrid.sites.models import Grade

TEMPLATE_VERSION = "demo-2026.1"  # the checklist the demo visits answered
_VISIT = timedelta(minutes=25)  # check-in to submit


@dataclass
class _Visit:
    row: int  # index into the planned site rows
    inspector_id: int
    items: tuple[ItemFacts, ...]
    verdict: GradeVerdict


def _checklist(rng: random.Random, grade: Grade) -> tuple[ItemFacts, ...]:
    key = sorted(DEFAULT_GRADING_POLICY.key_items)
    minor = sorted(set(CONTROL_MEASURES) - DEFAULT_GRADING_POLICY.key_items)
    failed: set[str] = set()
    if grade == Grade.non_compliant:
        failed.add(rng.choice(key))
    if grade in (Grade.basic, Grade.non_compliant) and rng.random() < 0.8:
        failed.add(rng.choice(minor))
    if grade == Grade.basic and not failed:
        failed.add(rng.choice(minor))
    return tuple(
        ItemFacts(code, ItemOutcome.failed.value if code in failed else ItemOutcome.passed.value)
        for code in CONTROL_MEASURES
    )


def plan_visits(
    rng: random.Random, rows: list[dict[str, Any]], members_of: dict[int, list[int]]
) -> list[_Visit]:
    """One visit per planned graded site; sets each row's grade to the rule's verdict."""
    visits = []
    for i, row in enumerate(rows):
        at: datetime | None = row.get("graded_at")
        team = members_of.get(row.get("inspector_grid_id") or 0, [])
        if row["grade"] == Grade.ungraded or at is None or not team:
            row["grade"], row["graded_at"] = Grade.ungraded, None
            continue
        items = _checklist(rng, row["grade"])
        facts = InspectionFacts(0, at, InspectionMode.on_site.value, items)
        verdict = grade_site(facts, (), now=at)
        row["grade"] = Grade(verdict.grade.value)
        visits.append(_Visit(i, rng.choice(team), items, verdict))
    return visits


def write_visits(
    session: Session, rows: list[dict[str, Any]], site_ids: dict[str, int], visits: list[_Visit]
) -> int:
    """Insert the planned visits, their checklist answers and the grade history rows."""
    if not visits:
        return 0
    inspections = []
    for v in visits:
        row = rows[v.row]
        failed = any(i.outcome == ItemOutcome.failed.value for i in v.items)
        inspections.append({
            "idempotency_key": f"demo-{row['project_code']}",
            "site_id": site_ids[row["project_code"]], "inspector_id": v.inspector_id,
            "group_id": None, "mode": InspectionMode.on_site,
            "result": InspectionResult.problems if failed else InspectionResult.nothing_found,
            "template_version": TEMPLATE_VERSION,
            "checked_in_at": row["graded_at"] - _VISIT, "submitted_at": row["graded_at"],
            "check_in_lat": row["lat"], "check_in_lon": row["lon"],
            "check_in_accuracy_m": 8.0, "check_in_distance_m": 0.0, "note": "",
        })  # fmt: skip
    ids = list(
        session.scalars(
            insert(Inspection).returning(Inspection.id, sort_by_parameter_order=True),
            inspections,
        )
    )
    session.execute(insert(InspectionItem), [
        {"inspection_id": iid, "item_code": it.code, "outcome": ItemOutcome(it.outcome),
         "note": "", "case_id": None}
        for iid, v in zip(ids, visits, strict=True) for it in v.items
    ])  # fmt: skip
    session.execute(insert(SiteGradeHistory), [
        {"site_id": site_ids[rows[v.row]["project_code"]], "grade": v.verdict.grade.value,
         "previous_grade": Grade.ungraded.value, "policy_version": v.verdict.policy_version,
         "reasons": v.verdict.reasons_json(), "inspection_id": iid, "stale": False,
         "changed_at": rows[v.row]["graded_at"], "actor_id": v.inspector_id}
        for iid, v in zip(ids, visits, strict=True)
    ])  # fmt: skip
    return len(ids)
