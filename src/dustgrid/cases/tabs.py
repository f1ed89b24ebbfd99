"""The inbox tabs and which of them each role sees (no database: the queries behind each tab
are ``repository.tab_clause``)."""

from __future__ import annotations

import enum

from dustgrid.identity.roles import Role

__all__ = ["TABS_BY_ROLE", "NEWEST_FIRST_TABS", "Tab"]


class Tab(enum.StrEnum):
    """Inbox tabs; which ones a role sees is ``TABS_BY_ROLE``."""

    to_dispatch = "to_dispatch"  # L1: reported or returned
    to_accept = "to_accept"  # L2: dispatched to my unit
    to_handle = "to_handle"  # L3/L4 (and an L2 person named responsible)
    to_recheck = "to_recheck"  # rectification ordered, recheck due
    to_rectify = "to_rectify"  # contractor: rectification ordered on my site
    to_verify = "to_verify"  # L1/L2: verification
    overdue = "overdue"
    look_back = "look_back"  # selected for 回头看
    reported = "reported"  # reported by me
    open = "open"
    all = "all"


TABS_BY_ROLE: dict[Role, tuple[Tab, ...]] = {
    Role.city_admin: (
        Tab.to_dispatch,
        Tab.to_verify,
        Tab.overdue,
        Tab.look_back,
        Tab.open,
        Tab.all,
    ),
    Role.district_admin: (
        Tab.to_accept,
        Tab.to_handle,
        Tab.to_verify,
        Tab.overdue,
        Tab.look_back,
        Tab.open,
        Tab.all,
    ),
    Role.station_staff: (
        Tab.to_handle,
        Tab.to_recheck,
        Tab.overdue,
        Tab.reported,
        Tab.open,
        Tab.all,
    ),
    Role.officer: (Tab.to_handle, Tab.to_recheck, Tab.overdue, Tab.reported, Tab.open, Tab.all),
    Role.inspector: (Tab.to_recheck, Tab.look_back, Tab.reported, Tab.open, Tab.all),
    Role.contractor: (Tab.to_rectify, Tab.open, Tab.all),
    Role.provider: (Tab.all,),
    Role.viewer: (Tab.overdue, Tab.open, Tab.all),
}

# Tabs listed newest first; every other tab is listed by due time, the most urgent first.
NEWEST_FIRST_TABS = frozenset({Tab.all, Tab.reported})
