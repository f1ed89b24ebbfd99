"""网格现场处置: an enforcement officer finds and fixes a problem in one step (000 四(二)).

"执法监督网格员既发现问题又解决问题": an officer (L4) who reports a problem at a site of
their OWN enforcement grid (a member of a group of the site's enforcement grid) may handle
it at once, fixed on site (现场解决, with a photo) or by ordering rectification (责令限期整改,
recheck within the policy's week), without waiting for L1 dispatch and L2 acceptance. The
table rows are ``states.Move.grid_fix_on_site`` / ``grid_order_rectification`` (who, from
which state and source, which fields); this module is the caller's part the table leaves
out, as scope always is:

* ``check_handle_now``: before a report is written, may this reporter handle it now?
* ``check_own_grid``: the move on an existing case: the officer's own report, at a site of
  their own enforcement grid;
* ``apply``: what the move changes besides the state: the case is held by the site's L2
  unit (so L2 sees and verifies it as if dispatched), the officer is responsible, and it is
  marked ``grid_handled``.

Inspectors (third party, no enforcement power) and station staff report the normal way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.cases.attachments import AttachmentIn
from dustgrid.cases.models import Case
from dustgrid.cases.states import GRID_MOVES, CaseSource, Move
from dustgrid.errors import Forbidden, Invalid
from dustgrid.i18n import Msg
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.org.models import OrgUnit
from dustgrid.sites.models import Site
from dustgrid.text import check_field

# The choices of the report form and of ``handle_now`` in the API, by their move.
HANDLE_NOW = {
    "fix_on_site": Move.grid_fix_on_site,
    "order_rectification": Move.grid_order_rectification,
}


@dataclass(slots=True)
class HandleNow:
    """What an officer adds to a report to handle it at once (the ``handle_now`` block)."""

    action: str  # a key of HANDLE_NOW
    result: str = ""
    deadline: datetime | date | str | None = None
    attachments: Sequence[AttachmentIn] = field(default_factory=list)  # photos after handling

    def __post_init__(self) -> None:
        if self.action not in HANDLE_NOW:
            raise Invalid(
                "cases.error.handle_now_must_fix_on_site",
                action=self.action,
                details={"field": "handle_now"},
            )
        check_field("handle_result", self.result, multiline=True)

    @property
    def move(self) -> Move:
        return HANDLE_NOW[self.action]


def _refuse(why: str, **details: Any) -> Forbidden:
    """Refused on the spot; ``why`` is the ``cases.fieldfix.*`` message key of the reason."""
    return Forbidden(
        "cases.error.cannot_handle_on_spot",
        why=Msg(why),
        details={"field": "handle_now", **details},
    )


def _own_grid(site: Site | None, actor: Principal) -> None:
    """The site must lie in an enforcement grid whose group the officer belongs to."""
    if site is None:
        raise _refuse("cases.fieldfix.no_site")
    if site.enforcement_grid_id is None or site.enforcement_grid_id not in actor.grid_ids:
        raise _refuse(
            "cases.fieldfix.not_own_grid",
            site_id=site.id,
        )


def check_handle_now(
    session: Session, actor: Principal | None, source: CaseSource | str, site_id: int | None
) -> None:
    """May ``actor`` report from ``source`` at ``site_id`` and handle it at once? (403)"""
    if actor is None or actor.role != Role.officer:
        role = actor.role.value if actor else "system"
        raise _refuse(
            "cases.fieldfix.officer_only",
            role=role,
        )
    if str(source) != CaseSource.enforcement_officer.value:
        raise _refuse(
            "cases.fieldfix.source_officer",
            source=str(source),
        )
    _own_grid(session.get(Site, site_id) if site_id is not None else None, actor)


def check_own_grid(session: Session, case: Case, actor: Principal | None) -> None:
    """The grid move on ``case``: the officer's own report, at a site of their grid (403)."""
    if actor is None or case.reporter_id != actor.user_id:
        raise _refuse("cases.fieldfix.own_report_only", case_id=case.id)
    _own_grid(session.get(Site, case.site_id) if case.site_id is not None else None, actor)


def apply(
    session: Session, case: Case, move: Move, actor: Principal | None, *, now: datetime
) -> dict[str, Any]:
    """The columns a grid move sets besides the state; returns what the event records.
    (The table let only an officer make ``move``; ``check_own_grid`` placed them.)"""
    if move not in GRID_MOVES or actor is None:
        raise ValueError(f"not a grid move by a person: {move}")
    site = session.get(Site, case.site_id) if case.site_id is not None else None
    unit = session.get(OrgUnit, site.l2_unit_id) if site and site.l2_unit_id else None
    case.assigned_unit_id = unit.id if unit else None
    case.responsible_user_id = actor.user_id
    case.grid_handled = True
    if move == Move.grid_fix_on_site:
        case.closed_at = now
    data: dict[str, Any] = {"grid_handled": True, "responsible_name": actor.display_name}
    if unit is not None:
        data |= {"unit_id": unit.id, "unit_name": unit.name}
    return data
