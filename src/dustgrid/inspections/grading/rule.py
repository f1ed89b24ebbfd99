"""The grading rule: a site's grade from its latest inspection and its open cases.

Pure (no database, no web): the service reads the facts and calls :func:`grade_site`.
The verdict carries the grade *and* the reasons behind it as message keys with their
parameters (``grading.reason.*`` in ``i18n/<locale>/grades.json``), so a page can say
"why this grade" in the reader's language, and the policy version it was computed under.

The rule (policy version ``2026.1``; docs/domain.md §2):

1. no submitted inspection → 未评定 (``ungraded``), whatever the cases;
2. a failed key item in the latest submitted inspection (on site or by video), or an
   open serious case at the site (a dust reading over the limit, a penalty case, a case of
   high severity) → 不达标 (``non_compliant``);
3. else a failed other item, or any other open case at the site (being rectified or not
   yet handled) → 基本达标 (``basic``);
4. else → 完全达标 (``full``);
5. an inspection older than ``stale_after`` is stale: the explanation says so, and a
   stale inspection cannot make a site fully compliant (``full`` becomes ``basic``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dustgrid.cases.states import CaseState

__all__ = [
    "DEFAULT_GRADING_POLICY",
    "CaseFacts",
    "GradeVerdict",
    "GradingPolicy",
    "InspectionFacts",
    "ItemFacts",
    "Reason",
    "SiteGrade",
    "grade_site",
]


class SiteGrade(enum.StrEnum):
    """The same values as ``sites.models.Grade`` (kept apart: this module is pure)."""

    non_compliant = "non_compliant"  # 不达标
    basic = "basic"  # 基本达标
    full = "full"  # 完全达标
    ungraded = "ungraded"  # 未评定


# Worst first: a verdict never improves by adding a finding.
SEVERITY_ORDER = (SiteGrade.non_compliant, SiteGrade.basic, SiteGrade.full)


def worse(a: SiteGrade, b: SiteGrade) -> SiteGrade:
    """The worse of two graded values (``ungraded`` is not compared)."""
    return a if SEVERITY_ORDER.index(a) <= SEVERITY_ORDER.index(b) else b


@dataclass(frozen=True, slots=True)
class GradingPolicy:
    """The numbers and lists of the grading rule (docs/domain.md §2)."""

    version: str = "2026.1"
    # Control measures whose failure makes a site non-compliant on its own (seed 000 §1(五):
    # hoarding, hardened roads, tyre washing, bare soil covered). Item codes are the keys of
    # ``cases.categories.CONTROL_MEASURES``; every other failed item counts as a minor one.
    key_items: frozenset[str] = frozenset(
        {"hoarding", "road_hardening", "tyre_washing", "bare_soil_cover"}
    )
    # Open cases that make a site non-compliant: what they are about, how they are handled,
    # how severe they are (platform default).
    serious_categories: frozenset[str] = frozenset({"dust_exceedance"})
    serious_states: frozenset[str] = frozenset({CaseState.penalizing.value})
    serious_severities: frozenset[str] = frozenset({"high"})
    # After this long without a new inspection the latest one is stale (platform default:
    # twice the officers' two-week coverage cycle).
    stale_after: timedelta = timedelta(days=30)
    # A stale inspection cannot make a site fully compliant.
    stale_caps_at: SiteGrade = SiteGrade.basic


DEFAULT_GRADING_POLICY = GradingPolicy()


@dataclass(frozen=True, slots=True)
class ItemFacts:
    code: str
    outcome: str  # ``passed`` | ``failed`` | ``not_applicable``


@dataclass(frozen=True, slots=True)
class InspectionFacts:
    """The latest submitted inspection of a site."""

    id: int
    submitted_at: datetime
    mode: str  # ``on_site`` | ``video``
    items: tuple[ItemFacts, ...] = ()


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """An open case at the site."""

    id: int
    state: str
    category: str
    severity: str


@dataclass(frozen=True, slots=True)
class Reason:
    """One line of "why this grade": a message key and its parameters."""

    key: str
    params: Mapping[str, str | int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"key": self.key, "params": dict(self.params)}


@dataclass(frozen=True, slots=True)
class GradeVerdict:
    grade: SiteGrade
    reasons: tuple[Reason, ...]
    policy_version: str
    inspection_id: int | None = None
    stale: bool = False

    def reasons_json(self) -> list[dict[str, object]]:
        return [r.as_json() for r in self.reasons]


def _item_reasons(
    inspection: InspectionFacts, policy: GradingPolicy
) -> tuple[SiteGrade, list[Reason]]:
    grade, reasons = SiteGrade.full, []
    for item in sorted(inspection.items, key=lambda i: i.code):
        if item.outcome != "failed":
            continue
        if item.code in policy.key_items:
            grade = SiteGrade.non_compliant
            reasons.append(Reason("grading.reason.key_item_failed", {"item": item.code}))
        else:
            grade = worse(grade, SiteGrade.basic)
            reasons.append(Reason("grading.reason.item_failed", {"item": item.code}))
    return grade, reasons


def _is_serious(case: CaseFacts, policy: GradingPolicy) -> bool:
    return (
        case.category in policy.serious_categories
        or case.state in policy.serious_states
        or case.severity in policy.serious_severities
    )


def _case_reasons(
    cases: Iterable[CaseFacts], policy: GradingPolicy
) -> tuple[SiteGrade, list[Reason]]:
    grade, reasons = SiteGrade.full, []
    for case in sorted(cases, key=lambda c: c.id):
        params: dict[str, str | int] = {"case_id": case.id, "category": case.category}
        if _is_serious(case, policy):
            grade = SiteGrade.non_compliant
            reasons.append(Reason("grading.reason.serious_case_open", params))
        elif case.state == CaseState.rectifying.value:
            grade = worse(grade, SiteGrade.basic)
            reasons.append(Reason("grading.reason.case_rectifying", params))
        else:
            grade = worse(grade, SiteGrade.basic)
            reasons.append(Reason("grading.reason.case_open", params))
    return grade, reasons


def grade_site(
    inspection: InspectionFacts | None,
    open_cases: Iterable[CaseFacts],
    *,
    now: datetime,
    policy: GradingPolicy = DEFAULT_GRADING_POLICY,
) -> GradeVerdict:
    """The grade of a site and why (see the module docstring for the rule)."""
    if inspection is None:
        return GradeVerdict(
            SiteGrade.ungraded, (Reason("grading.reason.no_inspection"),), policy.version
        )
    item_grade, reasons = _item_reasons(inspection, policy)
    case_grade, case_reasons = _case_reasons(open_cases, policy)
    grade = worse(item_grade, case_grade)
    findings = reasons + case_reasons
    inspected_on = inspection.submitted_at.isoformat()
    basis = Reason(
        "grading.reason.latest_inspection", {"at": inspected_on, "mode": inspection.mode}
    )
    stale = now - inspection.submitted_at > policy.stale_after
    if stale:
        grade = worse(grade, policy.stale_caps_at)
        days = policy.stale_after.days
        findings.append(Reason("grading.reason.inspection_stale", {"days": days}))
    if not findings:
        findings.append(Reason("grading.reason.all_passed"))
    return GradeVerdict(grade, (basis, *findings), policy.version, inspection.id, stale)
