"""A site's patrol priority, computed in one place (pure).

Order (domain.md §2–3): the worst grade first (non-compliant, basic, ungraded, full), then
sites with open cases (more first), then rechecks due (earliest first), then sites with
open alerts. ``boost`` comes before all of them: a later rule (e.g. a heavy-pollution
emergency) raises a site by giving it a boost without touching the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

# Grade values as in sites.models.Grade; unknown grades rank with "ungraded".
GRADE_RANK: dict[str, int] = {"non_compliant": 0, "basic": 1, "ungraded": 2, "full": 3}
_NO_RECHECK = date.max.toordinal()

PriorityKey = tuple[int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class PriorityInputs:
    """What the priority is made of; every field defaults to "nothing special"."""

    grade: str = "ungraded"
    open_cases: int = 0
    recheck_due: date | None = None
    open_alerts: int = 0
    boost: int = 0  # higher first; 0 = none

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why the site is ahead of a plain one (codes for the page: patrols.reason.*)."""
        out = []
        if self.boost:
            out.append("boost")
        if self.grade in ("non_compliant", "basic"):
            out.append(f"grade_{self.grade}")
        if self.open_cases:
            out.append("open_cases")
        if self.recheck_due is not None:
            out.append("recheck_due")
        if self.open_alerts:
            out.append("open_alerts")
        return tuple(out)


def priority_key(p: PriorityInputs) -> PriorityKey:
    """Sort key: smaller comes first (sort ascending)."""
    return (
        -p.boost,
        GRADE_RANK.get(p.grade, GRADE_RANK["ungraded"]),
        -p.open_cases,
        p.recheck_due.toordinal() if p.recheck_due is not None else _NO_RECHECK,
        -p.open_alerts,
    )
