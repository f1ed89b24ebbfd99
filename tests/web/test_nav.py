"""The main menu follows the role: every entry a role sees opens (200), no entry leads to a
refusal, and the current page's entry is the one marked active."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from dustgrid.identity.roles import Perm, Role, has_perm
from dustgrid.web.nav import NAV, is_current

Web = Callable[[str], TestClient]

#: One user of each role in the fixture city.
ONE_OF_EACH = {
    Role.city_admin: "admin",
    Role.district_admin: "d_heping",
    Role.station_staff: "st_heping",
    Role.officer: "off_hp1",
    Role.inspector: "insp_hp1",
    Role.contractor: "con_alpha",
    Role.provider: "prov_gamma",
    Role.viewer: "viewer_heping",
}

NAV_BLOCK = re.compile(r'<nav class="nav" id="main-nav">(.*?)</nav>', re.S)
LINK = re.compile(r'<a href="([^"]+)"([^>]*)>')


def menu(html: str) -> dict[str, bool]:
    """The menu's links as {href: marked active}."""
    block = NAV_BLOCK.search(html)
    assert block, "the page has a menu"
    return {m.group(1): 'class="active"' in m.group(2) for m in LINK.finditer(block.group(1))}


@pytest.mark.parametrize("role", list(ONE_OF_EACH))
def test_every_menu_link_opens_and_is_active_on_its_page(role: Role, web_as: Web) -> None:
    client = web_as(ONE_OF_EACH[role])
    links = menu(client.get("/sites").text)
    assert links, "the menu is not empty"
    for href in links:
        page = client.get(href)
        assert page.status_code == 200, f"{role}: {href} answers {page.status_code}"
        shown = menu(page.text)
        active = [h for h, on in shown.items() if on]
        assert active == [href], f"{role}: on {href} the active entries are {active}"


def test_hotline_is_only_in_the_desk_roles_menus(web_as: Web) -> None:
    for role, user in ONE_OF_EACH.items():
        links = menu(web_as(user).get("/sites").text)
        desk = role in (Role.city_admin, Role.district_admin)
        assert ("/hotline" in links) is desk, role


def test_the_grids_working_pages_follow_the_grid_work_permission(web_as: Web) -> None:
    """Patrol plans, the field day and notices are the grid's own work: every role holds
    ``Perm.grid_work`` but the company accounts, and the menu and the pages agree."""
    holders = {role for role in Role if has_perm(role, Perm.grid_work)}
    assert holders == set(Role) - {Role.contractor, Role.provider}
    for role, user in ONE_OF_EACH.items():
        client = web_as(user)
        links = menu(client.get("/sites").text)
        assert ("/patrols" in links) is (role in holders), role
        assert ("/notices" in links) is (role in holders), role
        if role not in holders:
            assert client.get("/patrols").status_code == 403, role
            assert client.get("/today").status_code == 403, role


def test_a_detail_page_marks_its_list_entry() -> None:
    assert is_current("/cases", "/cases/12")
    assert is_current("/credit", "/credit")
    assert not is_current("/cases", "/casework")
    assert {e.href for e in NAV} >= {"/cases", "/credit", "/notifications", "/hotline"}
