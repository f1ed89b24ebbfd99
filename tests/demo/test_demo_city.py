"""The demo city: geography, ledger, organisation, grids, people, determinism, refusal.

Each build goes into its own freshly migrated SQLite file (not the shared ``db`` fixture:
the demo refuses a database that already has sites).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dustgrid import migrate
from dustgrid.audit.models import AuditEntry
from dustgrid.auth.models import User
from dustgrid.auth.service import create_user, load_principal
from dustgrid.db import make_engine
from dustgrid.demo.city import DEMO_PASSWORD, DemoRefused, DemoSummary, build_demo, demo_loaded
from dustgrid.demo.geography import DISTRICTS
from dustgrid.errors import DomainError
from dustgrid.geo.coords import wgs84_to_gcj02
from dustgrid.geo.shapes import area_m2, point_in_geometry, validate_geometry
from dustgrid.grids import service as grid_service
from dustgrid.grids.models import Grid, GridGroup, GridGroupMember, GridKind
from dustgrid.grids.partition import PartitionStatus, choose_group_count
from dustgrid.grids.policy import DEFAULT_GRID_POLICY
from dustgrid.identity.passwords import verify_password
from dustgrid.identity.roles import ROLE_LABELS, Role
from dustgrid.org.models import District, OrgUnit, UnitKind
from dustgrid.sites.models import Enterprise, EnterpriseKind, PermitStatus, Site, SiteKind
from dustgrid.sites.policy import DEFAULT_MONITOR_THRESHOLD_POLICY
from dustgrid.sites.repository import site_clause
from dustgrid.sites.uscc import is_valid_uscc

TODAY = date(2026, 5, 20)  # fixed reference date: same seed + same date = same city
N_SITES = 480


def _fresh_engine(directory: Path, name: str) -> Engine:
    url = f"sqlite:///{directory / name}"
    migrate.upgrade(url)
    return make_engine(url)


def _build(engine: Engine, seed: int, n_sites: int = N_SITES) -> DemoSummary:
    with Session(engine) as session:
        summary = build_demo(session, seed=seed, n_sites=n_sites, today=TODAY)
        session.commit()
    return summary


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, DemoSummary]]:
    engine = _fresh_engine(tmp_path_factory.mktemp("demo"), "demo.db")
    summary = _build(engine, seed=1)
    yield engine, summary
    engine.dispose()


@pytest.fixture
def s(demo: tuple[Engine, DemoSummary]) -> Iterator[Session]:
    with Session(demo[0]) as session:
        yield session


def _digest(engine: Engine) -> str:
    """Hash of what makes the city: codes, names, positions and grid membership."""
    e_grid = select(Grid.code).where(Grid.id == Site.enforcement_grid_id).scalar_subquery()
    i_grid = select(Grid.code).where(Grid.id == Site.inspector_grid_id).scalar_subquery()
    stmt = select(Site.project_code, Site.name, Site.lat, Site.lon, e_grid, i_grid).order_by(
        Site.project_code
    )
    with Session(engine) as session:
        rows = session.execute(stmt).all()
        users = session.scalars(select(User.username).order_by(User.username)).all()
    return hashlib.sha256(repr((rows, users)).encode()).hexdigest()


def test_districts_have_valid_polygons_that_do_not_overlap(s: Session) -> None:
    districts = s.scalars(select(District).order_by(District.code)).all()
    assert len(districts) >= 6
    assert {d.code for d in districts} == {d.code for d in DISTRICTS}
    for d in districts:
        assert d.boundary is not None and d.boundary["type"] == "Polygon"
        validate_geometry(d.boundary)
        ring = d.boundary["coordinates"][0]
        assert ring[0] == ring[-1]
    # No point of the city belongs to two districts (checked on each polygon's vertices'
    # neighbourhood would be fragile; a dense grid of probes is enough).
    for i in range(60):
        for j in range(60):
            lat, lon = 41.55 + i * 0.5 / 60, 123.10 + j * 0.65 / 60
            owners = [d.code for d in districts if point_in_geometry(lat, lon, d.boundary or {})]
            assert len(owners) <= 1, (lat, lon, owners)


def test_sites_lie_inside_their_district_and_downtown_is_denser(s: Session) -> None:
    boundaries = {d.id: d for d in s.scalars(select(District))}
    sites = s.scalars(select(Site)).all()
    assert len(sites) == N_SITES >= 400
    per_district: Counter[int] = Counter()
    for site in sites:
        district = boundaries[site.district_id]
        assert point_in_geometry(site.lat, site.lon, district.boundary or {}), site.name
        assert (site.gcj_lat, site.gcj_lon) == pytest.approx(wgs84_to_gcj02(site.lat, site.lon))
        per_district[site.district_id] += 1
    density = {
        boundaries[did].code: n / (area_m2(boundaries[did].boundary or {}) / 1e6)
        for did, n in per_district.items()
    }
    downtown = [density[d.code] for d in DISTRICTS if d.downtown]
    outer = [density[d.code] for d in DISTRICTS if not d.downtown]
    assert min(downtown) > 3 * max(outer)


def test_site_attributes_follow_the_rules(s: Session) -> None:
    sites = s.scalars(select(Site)).all()
    safety = s.scalar(select(OrgUnit.id).where(OrgUnit.kind == UnitKind.city_safety_station))
    bureau_of = {
        u.district_id: u.id
        for u in s.scalars(select(OrgUnit).where(OrgUnit.kind == UnitKind.district_bureau))
    }
    names = [site.name for site in sites]
    assert len(set(names)) == len(names)
    assert len({site.project_code for site in sites}) == len(sites)
    for site in sites:
        expected = DEFAULT_MONITOR_THRESHOLD_POLICY.monitors_required(
            investment_yuan=site.investment_yuan, area_m2=site.area_m2
        )
        assert site.monitors_required is expected
        if site.kind in (SiteKind.metro, SiteKind.municipal):
            assert site.l2_unit_id == safety
        else:
            assert site.l2_unit_id == bureau_of[site.district_id]
        if site.permit_status == PermitStatus.permitted:
            assert len(site.permit_no) == 18 and site.permit_no.startswith("2101")
            assert site.contractor_id is not None and site.contact_phone[:1] == "1"
        if site.planned_start_date and site.planned_end_date:
            assert site.planned_start_date < site.planned_end_date
        if site.actual_end_date:
            assert site.actual_start_date and site.actual_start_date <= site.actual_end_date
    kinds = Counter(site.kind for site in sites)
    assert kinds.most_common(1)[0][0] == SiteKind.housing
    assert {SiteKind.metro, SiteKind.municipal, SiteKind.demolition} <= set(kinds)
    assert 0.6 < sum(site.monitors_required for site in sites) / len(sites) < 1.0
    assert any(site.permit_status == PermitStatus.suspected_unpermitted for site in sites)
    assert len({site.grade for site in sites}) == 4
    assert {True, False} == {site.built_up_area for site in sites}


def test_enterprises_and_organisation_tree(s: Session) -> None:
    ents = s.scalars(select(Enterprise)).all()
    assert len(ents) >= 50
    assert all(is_valid_uscc(e.uscc) for e in ents)
    assert sum(e.kind == EnterpriseKind.inspection for e in ents) >= 2
    units = {u.id: u for u in s.scalars(select(OrgUnit))}
    city = [u for u in units.values() if u.kind == UnitKind.city_bureau]
    assert len(city) == 1 and city[0].level == 1 and city[0].parent_id is None
    for u in units.values():
        if u.kind in (UnitKind.district_bureau, UnitKind.city_safety_station):
            assert u.level == 2 and u.parent_id == city[0].id
        if u.kind == UnitKind.supervision_station:
            parent = units[u.parent_id or 0]
            assert u.level == 3 and parent.kind == UnitKind.district_bureau
            assert parent.district_id == u.district_id is not None
    n_districts = s.scalar(select(func.count()).select_from(District))
    assert sum(u.kind == UnitKind.district_bureau for u in units.values()) == n_districts
    assert sum(u.kind == UnitKind.supervision_station for u in units.values()) == n_districts


def test_every_site_has_one_grid_of_each_kind_in_its_district(s: Session) -> None:
    grids = {g.id: g for g in s.scalars(select(Grid))}
    units = {u.id: u for u in s.scalars(select(OrgUnit))}
    members: dict[int, list[int]] = defaultdict(list)
    per_lane: Counter[tuple[int, GridKind, bool]] = Counter()  # (district, kind, city station)
    for site in s.scalars(select(Site)):
        city_station = units[site.l2_unit_id].kind == UnitKind.city_safety_station
        per_lane[(site.district_id, GridKind.enforcement, city_station)] += 1
        per_lane[(site.district_id, GridKind.inspector, False)] += 1
        for kind, gid in (
            (GridKind.enforcement, site.enforcement_grid_id),
            (GridKind.inspector, site.inspector_grid_id),
        ):
            assert gid is not None
            assert grids[gid].kind == kind and grids[gid].district_id == site.district_id
            members[gid].append(site.id)
        # metro and municipal works: the city station's own enforcement grids (seed 000 §3)
        owner = units[grids[site.enforcement_grid_id or 0].unit_id or 0]
        if city_station:
            assert owner.id == site.l2_unit_id
        else:
            assert owner.kind == UnitKind.supervision_station
            assert owner.parent_id == site.l2_unit_id
    assert set(members) == set(grids)  # no empty grid
    for grid in grids.values():
        owner = units[grid.unit_id or 0]
        if grid.kind == GridKind.enforcement and owner.kind == UnitKind.supervision_station:
            assert owner.district_id == grid.district_id
        elif grid.kind == GridKind.inspector:
            assert owner.kind == UnitKind.third_party
    for (did, kind, city_station), n in per_lane.items():
        lo, hi = DEFAULT_GRID_POLICY.bounds(kind)
        sizes = [len(members[g.id]) for g in grids.values() if g.district_id == did and
                 g.kind == kind and (units[g.unit_id or 0].kind ==
                                     UnitKind.city_safety_station) == city_station]  # fmt: skip
        k, status = choose_group_count(n, lo, hi)
        assert len(sizes) == k
        if status == PartitionStatus.ok:
            assert all(lo <= size <= hi for size in sizes), (did, kind, sizes)
        elif status == PartitionStatus.undersized:
            assert sizes == [n]
    # At the default size most districts are large enough for legal grids of both kinds.
    per_district = Counter(s.scalars(select(Site.district_id)))
    legal = [n for n in per_district.values() if n >= DEFAULT_GRID_POLICY.inspector_min]
    assert len(legal) >= 6


def test_grid_teams_of_two_and_accounts_for_every_role(s: Session) -> None:
    users = {u.id: u for u in s.scalars(select(User))}
    assert {u.role for u in users.values()} == set(Role)
    assert all(u.is_demo and u.username.isascii() for u in users.values())
    assert all(not u.display_name.isascii() for u in users.values())
    grids = {g.id: g for g in s.scalars(select(Grid))}
    groups = s.scalars(select(GridGroup)).all()
    assert Counter(g.grid_id for g in groups) == Counter(set(grids))  # one group per grid
    for group in groups:
        team = s.scalars(select(GridGroupMember.user_id).where(
            GridGroupMember.group_id == group.id)).all()  # fmt: skip
        assert len(team) == 2
        grid = grids[group.grid_id]
        want = Role.officer if grid.kind == GridKind.enforcement else Role.inspector
        assert all(users[uid].role == want for uid in team)
        assert all(users[uid].org_unit_id == grid.unit_id for uid in team)
        # the group-size rule (inspector pairs exactly 2, enforcement groups at least 2)
        assert grid_service.group_complete(grid.kind, [users[uid] for uid in team])
    by_name = {u.username: u for u in users.values()}
    for name in ("city_admin", "safety_admin", "viewer", "hunnan_admin", "hunnan_station",
                 "contractor1", "provider1", "safety_officer01"):  # fmt: skip
        assert name in by_name
    hashes = {u.password_hash for u in users.values()}
    assert len(hashes) == 1  # hashed once
    assert verify_password(hashes.pop(), DEMO_PASSWORD)


def test_summary_lists_one_login_per_role_with_what_it_sees(
    demo: tuple[Engine, DemoSummary], s: Session
) -> None:
    summary = demo[1]
    assert {login.role for login in summary.logins} == set(Role)
    text = summary.describe()
    for login in summary.logins:
        assert login.username in text
        assert ROLE_LABELS[login.role][1] in text and login.sees_en in text
        user = s.scalar(select(User).where(User.username == login.username))
        assert user is not None
        seen = s.scalar(
            select(func.count()).select_from(Site).where(site_clause(load_principal(s, user)))
        )
        assert f"{seen} 个工地" in login.sees_zh
    assert f"{N_SITES}" in text and "浑南区" in text
    assert summary.sites == N_SITES and len(summary.districts) == len(DISTRICTS)
    entries = s.scalars(select(AuditEntry).where(AuditEntry.entity_type == "demo")).all()
    assert len(entries) == 1 and entries[0].actor_id is None


def _sees(s: Session, user: User) -> set[int]:
    return set(s.scalars(select(Site.id).where(site_clause(load_principal(s, user)))))


UNIT_ROLES = (Role.city_admin, Role.district_admin, Role.station_staff, Role.viewer)


def test_no_unit_sees_more_sites_than_the_unit_above_it(s: Session) -> None:
    """domain.md §1: a unit's view (its admins', staff's and viewers' sites) lies within its
    parent unit's view, and an officer's within their own unit's. No stated exception: the
    city station's metro and municipal works are not the district station's to see."""
    units = {u.id: u for u in s.scalars(select(OrgUnit))}
    users = s.scalars(select(User).where(User.org_unit_id.is_not(None))).all()
    view: dict[int, set[int]] = defaultdict(set)
    for user in users:
        if user.role in UNIT_ROLES:
            view[user.org_unit_id or 0] |= _sees(s, user)
    checked = 0
    for uid, sites in view.items():
        parent = units[uid].parent_id
        if parent is not None and parent in view:
            assert sites <= view[parent], (units[uid].name, len(sites - view[parent]))
            checked += 1
    assert checked >= 2 * len(DISTRICTS) + 1  # every bureau, station and the city station
    for user in users:
        if user.role == Role.officer:
            assert _sees(s, user) <= view[user.org_unit_id or 0], user.username
    by_name = {u.username: u for u in users}
    assert _sees(s, by_name["hunnan_station"]) <= _sees(s, by_name["hunnan_admin"])
    metro = _sees(s, by_name["safety_officer01"])
    assert metro and metro <= _sees(s, by_name["safety_admin"])


def test_second_load_is_refused(demo: tuple[Engine, DemoSummary], s: Session) -> None:
    assert demo_loaded(s)
    with pytest.raises(DemoRefused) as info:
        build_demo(s, seed=1, n_sites=N_SITES, today=TODAY)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, DomainError)
    assert "480" in info.value.message
    assert s.scalar(select(func.count()).select_from(Site)) == N_SITES


def test_same_seed_same_city_other_seed_other_city(
    demo: tuple[Engine, DemoSummary], tmp_path: Path
) -> None:
    again = _fresh_engine(tmp_path, "again.db")
    with Session(again) as session:
        assert not demo_loaded(session)
    _build(again, seed=1)
    assert _digest(again) == _digest(demo[0])
    other = _fresh_engine(tmp_path, "other.db")
    _build(other, seed=2)
    assert _digest(other) != _digest(demo[0])
    again.dispose()
    other.dispose()


def test_tiny_city_still_gives_every_site_both_grids(tmp_path: Path) -> None:
    engine = _fresh_engine(tmp_path, "tiny.db")
    summary = _build(engine, seed=7, n_sites=9)
    with Session(engine) as session:
        rows = session.execute(select(Site.enforcement_grid_id, Site.inspector_grid_id)).all()
    assert len(rows) == 9 and all(e and i for e, i in rows)
    assert any("under-sized" in note for note in summary.notes)
    with pytest.raises(ValueError), Session(engine) as session:
        build_demo(session, n_sites=0)
    engine.dispose()


def test_refuses_when_a_demo_username_is_taken(tmp_path: Path) -> None:
    engine = _fresh_engine(tmp_path, "taken.db")
    with Session(engine) as session:
        create_user(session, actor=None, username="viewer", password="Some-pass-123",
                    display_name="先到的人", role=Role.viewer)  # fmt: skip
        session.commit()
        with pytest.raises(DemoRefused, match="viewer"):
            build_demo(session, n_sites=20, today=TODAY)
        session.rollback()
        assert session.scalar(select(func.count()).select_from(Site)) == 0
    engine.dispose()


def test_simulated_monitors_reach_every_printed_account_and_district(
    demo: tuple[Engine, DemoSummary], s: Session
) -> None:
    """`make run` starts 20 monitors: each account the demo prints sees some of them."""
    from dustgrid.demo.city import featured_site_ids
    from dustgrid.devices.models import Device
    from dustgrid.simulator.demo_devices import ensure_demo_devices

    usernames = [login.username for login in demo[1].logins]
    mns = ensure_demo_devices(s, 20, first_sites=featured_site_ids(s, usernames))
    try:
        assert len(mns) == 20
        device_sites = select(Device.site_id).where(Device.mn.in_(mns))
        for username in ("city_admin", "hunnan_admin", "hunnan_officer01", "hunnan_inspector01",
                         "contractor1"):  # fmt: skip
            user = s.scalar(select(User).where(User.username == username))
            assert user is not None, username
            visible = (
                select(func.count())
                .select_from(Site)
                .where(site_clause(load_principal(s, user)), Site.id.in_(device_sites))
            )
            assert (s.scalar(visible) or 0) >= 1, f"{username} sees no simulated monitor"
        districts = s.scalars(
            select(Site.district_id).where(Site.id.in_(device_sites)).distinct()
        ).all()
        assert len(districts) == len(DISTRICTS)
    finally:
        s.rollback()
