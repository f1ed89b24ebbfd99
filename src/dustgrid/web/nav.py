"""The main menu: which entries a role sees and which one is the current page.

One place for the gates: a page that refuses a role uses the same predicate (or the same
``Perm``) as its menu entry here, so the menu never offers a page that answers 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm, Role

Gate = Callable[[Principal], bool]

#: The roles that work in the field: they land on /today and see it first in the menu.
FIELD_ROLES = frozenset({Role.officer, Role.inspector})
#: Who the overview is for: the grid's leading levels (L1-L3) and read-only officials.
LEADERS = frozenset({Role.city_admin, Role.district_admin, Role.station_staff, Role.viewer})


def is_field(principal: Principal) -> bool:
    return principal.role in FIELD_ROLES


def is_leader(principal: Principal) -> bool:
    return principal.role in LEADERS


def is_assessed(principal: Principal) -> bool:
    """Everyone the monthly assessment scores or who scores (not the contractors)."""
    return principal.role != Role.contractor


def sees_citybrain(principal: Principal) -> bool:
    """City Brain pushes: the grid's staff and officials (not companies, not inspectors)."""
    return principal.role in LEADERS or principal.role == Role.officer


def everyone(principal: Principal) -> bool:
    return True


def holds(perm: Perm) -> Gate:
    def _gate(principal: Principal) -> bool:
        return principal.can(perm)

    return _gate


@dataclass(frozen=True)
class NavEntry:
    href: str
    key: str  # message key of the label
    gate: Gate
    testid: str = ""


@dataclass(frozen=True)
class NavItem:
    href: str
    key: str
    active: bool
    testid: str


NAV: tuple[NavEntry, ...] = (
    NavEntry("/today", "nav.today", is_field),
    NavEntry("/overview", "nav.overview", is_leader),
    NavEntry("/sites", "nav.ledger", everyone),
    NavEntry("/map", "nav.map", everyone),
    NavEntry("/devices", "nav.devices", everyone),
    NavEntry("/hotline", "nav.hotline", holds(Perm.hotline)),
    NavEntry("/grids", "nav.grids", everyone),
    NavEntry("/inspections", "nav.inspections", everyone),
    NavEntry("/org", "nav.org", everyone),
    NavEntry("/alerts", "nav.alerts", everyone),
    NavEntry("/emergencies", "nav.emergencies", everyone),
    NavEntry("/patrols", "nav.patrols", holds(Perm.grid_work)),
    NavEntry("/assessments", "nav.assessments", is_assessed),
    NavEntry("/notices", "reports.title", holds(Perm.grid_work)),
    NavEntry("/users", "nav.users", holds(Perm.user_admin)),
    NavEntry("/cases", "nav.cases", everyone),
    NavEntry("/citybrain", "nav.citybrain", sees_citybrain),
    NavEntry("/credit", "nav.credit", everyone),
    NavEntry("/notifications", "notifications.title", everyone, testid="notif-badge"),
)


def is_current(href: str, path: str) -> bool:
    """The entry's own page or any page under it (``/cases/12`` is under 案件办理)."""
    return path == href or path.startswith(href.rstrip("/") + "/")


def nav_items(principal: Principal | None, path: str) -> list[NavItem]:
    """The entries ``principal`` may open, in menu order, the current one marked active."""
    if principal is None:
        return []
    return [
        NavItem(e.href, e.key, is_current(e.href, path), e.testid or f"nav-{e.href.strip('/')}")
        for e in NAV
        if e.gate(principal)
    ]
