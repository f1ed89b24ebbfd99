"""The registrations that replace named imports: jobs, background and lower domains' scope
find every domain's work and answers through ``dustgrid.wiring``."""

from __future__ import annotations

import pytest

from dustgrid import periodic, wiring
from dustgrid.cases.repository import CASES_OF_PROVIDER_ALERTS
from dustgrid.identity.principal import Principal
from dustgrid.identity.reach import Reach
from dustgrid.identity.roles import Role
from dustgrid.org.repository import DISTRICTS_OF_VISIBLE_SITES
from dustgrid.outbox.handlers import HANDLERS
from dustgrid.sites.gridding import gridding
from dustgrid.sites.repository import SITES_OF_PROVIDER_DEVICES


def test_the_worker_and_serve_find_every_registered_piece_of_work() -> None:
    wiring.load()
    assert {"notify.channel", "case.source_feedback"} <= HANDLERS.keys()
    assert "cases" in periodic.SWEEPS and "cases.attachments" in periodic.CHORES
    assert "devices.offline" in periodic.IN_PROCESS_SWEEPS
    threads = {name: t.with_workers_only for name, t in periodic.THREADS.items()}
    assert threads["rollups"] is False and threads["alerts"] is True  # as serve ran them


def test_every_scope_reach_and_the_grid_port_are_provided() -> None:
    wiring.load()
    provider = Principal(1, "p", "P", Role.provider, enterprise_id=7)
    for reach in (SITES_OF_PROVIDER_DEVICES, DISTRICTS_OF_VISIBLE_SITES, CASES_OF_PROVIDER_ALERTS):
        assert reach(provider) is not None
    assert gridding() is not None


def test_an_unprovided_reach_fails_loudly_instead_of_guessing_a_scope() -> None:
    lonely = Reach("rows of nowhere", provided_by="dustgrid.nowhere.repository")
    who = Principal(1, "p", "P", Role.provider, enterprise_id=7)
    with pytest.raises(RuntimeError, match="import dustgrid.nowhere.repository"):
        lonely(who)
