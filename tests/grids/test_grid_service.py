"""Grid service: scope, write rules, member groups, moving sites, partition and coverage."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.service import entries_for
from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.errors import Forbidden, Invalid, NotFound
from dustgrid.geo.coords import wgs84_to_gcj02
from dustgrid.grids import layout
from dustgrid.grids import service as svc
from dustgrid.grids.models import Grid, GridGroup, GridKind
from dustgrid.grids.policy import DEFAULT_GRID_POLICY, GridPolicy
from dustgrid.grids.schemas import GridCreate, GridUpdate, GroupCreate, GroupUpdate
from dustgrid.identity.principal import Principal
from dustgrid.org.models import District, OrgUnit, UnitKind
from dustgrid.sites.models import Site, SiteKind, Stage
from tests.fixtures.city import City, add_officers


def who(db: Session, city: City, username: str) -> Principal:
    user = db.get(User, city.users[username])
    assert user is not None
    return load_principal(db, user)


def codes(page_items: list) -> set[str]:  # type: ignore[type-arg]
    return {g.code for g in page_items}


def synthetic_district(db: Session, city: City, n_sites: int, code: str = "219901") -> District:
    """A district with a bureau, a station and ``n_sites`` sites on a 1 km lattice, no grids."""
    d = District(code=code, name=f"测试{code}区", name_en="Test")
    db.add(d)
    db.flush()
    bureau = OrgUnit(
        name="测试区建设局",
        kind=UnitKind.district_bureau,
        level=2,
        parent_id=city.units["city"],
        district_id=d.id,
    )
    db.add(bureau)
    db.flush()
    db.add(
        OrgUnit(
            name="测试区安全监督站",
            kind=UnitKind.supervision_station,
            level=3,
            parent_id=bureau.id,
            district_id=d.id,
        )
    )
    for i in range(n_sites):
        lat, lon = 41.60 + (i // 10) * 0.009, 123.20 + (i % 10) * 0.012
        glat, glon = wgs84_to_gcj02(lat, lon)
        db.add(
            Site(
                project_code=f"T{code}-{i:03d}",
                name=f"测试工地{i}",
                kind=SiteKind.housing,
                district_id=d.id,
                l2_unit_id=bureau.id,
                lat=lat,
                lon=lon,
                gcj_lat=glat,
                gcj_lon=glon,
                stage=Stage.structure,
            )
        )
    db.flush()
    return d


def test_list_follows_scope(db: Session, city: City) -> None:
    every = {"E-HP", "E-SH", "I-HP", "I-SH", "E-HP-C"}
    expected = {
        "admin": every,
        "d_heping": {"E-HP", "I-HP", "E-HP-C"},
        "off_hp1": {"E-HP", "I-HP"},
        "con_alpha": {"E-HP", "I-HP"},
        "d_shenhe": {"E-SH", "I-SH"},
        "prov_gamma": set(),
    }
    for user, grids in expected.items():
        assert codes(svc.list_grids(db, who(db, city, user)).items) == grids, user
    page = svc.list_grids(
        db, who(db, city, "admin"), kind=GridKind.inspector, district_id=city.districts["heping"]
    )
    assert codes(page.items) == {"I-HP"}
    item = page.items[0]
    assert item.site_count == 4 and {m.username for m in item.members} == {"insp_hp1", "insp_hp2"}
    with pytest.raises(NotFound):
        svc.get_grid(db, who(db, city, "d_heping"), city.grids["E-SH"])


def test_grid_detail_lists_only_visible_sites(db: Session, city: City) -> None:
    admin = svc.get_grid(db, who(db, city, "admin"), city.grids["I-HP"])
    assert {s.project_code for s in admin.sites} == {"HP-001", "HP-002", "HP-003", "HP-M01"}
    mine = svc.get_grid(db, who(db, city, "d_heping"), city.grids["I-HP"])
    assert mine.site_count == 4  # the count is the grid's; the rows are the caller's
    assert {s.project_code for s in mine.sites} == {"HP-001", "HP-002", "HP-003"}
    assert [g.name for g in mine.groups] == ["I-HP 组"]


def test_write_rules(db: Session, city: City) -> None:
    rename = GridUpdate(name="新名称")
    for user in ("off_hp1", "insp_hp1", "con_alpha", "viewer_city", "st_heping"):
        with pytest.raises(Forbidden):
            svc.update_grid(db, who(db, city, user), city.grids["E-HP"], rename)
    with pytest.raises(NotFound):  # not in d_heping's scope at all
        svc.update_grid(db, who(db, city, "d_heping"), city.grids["E-SH"], rename)
    with pytest.raises(Forbidden):  # visible through the metro site, but not its grid
        svc.update_grid(db, who(db, city, "safety_admin"), city.grids["I-HP"], rename)
    with pytest.raises(Forbidden):
        svc.create_grid(
            db,
            who(db, city, "d_heping"),
            GridCreate(
                code="E-SH-2",
                name="x",
                kind=GridKind.enforcement,
                district_id=city.districts["shenhe"],
            ),
        )
    grid = svc.update_grid(db, who(db, city, "d_heping"), city.grids["E-HP"], rename)
    assert grid.name == "新名称"
    with pytest.raises(Invalid, match="不能改变类型"):
        svc.update_grid(db, who(db, city, "admin"), grid.id, GridUpdate(kind=GridKind.inspector))


def test_create_grid_defaults_owner_and_is_audited(db: Session, city: City) -> None:
    grid = svc.create_grid(
        db,
        who(db, city, "d_heping"),
        GridCreate(
            code="E-HP-2",
            name="和平二号",
            kind=GridKind.enforcement,
            district_id=city.districts["heping"],
        ),
    )
    assert grid.unit_id == city.units["station_heping"]
    entry = entries_for(db, entity_type="grid", entity_id=grid.id)[0]
    assert entry.action == "create" and entry.changes["code"] == [None, "E-HP-2"]
    svc.delete_grid(db, who(db, city, "admin"), grid.id)
    assert db.get(Grid, grid.id) is None
    with pytest.raises(Invalid, match="网格内仍有工地"):
        svc.delete_grid(db, who(db, city, "admin"), city.grids["E-HP"])


def test_group_validation(db: Session, city: City) -> None:
    admin = who(db, city, "admin")
    e_hp = city.grids["E-HP"]
    with pytest.raises(Invalid, match="每组至少 2 人"):
        svc.add_group(db, admin, e_hp, GroupCreate(name="单人", member_ids=[city.users["off_sh1"]]))
    fresh = add_officers(db, city, "station_heping", "off_hp_new")[0]
    with pytest.raises(Invalid, match=rf"不可加入本网格：{city.users['insp_hp1']}（"):
        svc.add_group(
            db,
            admin,
            e_hp,
            GroupCreate(name="混编", member_ids=[fresh, city.users["insp_hp1"]]),
        )
    with pytest.raises(Invalid, match="已在本网格其他组"):
        svc.add_group(
            db,
            admin,
            e_hp,
            GroupCreate(name="重复", member_ids=[fresh, city.users["off_hp1"]]),
        )
    with pytest.raises(Invalid, match="至少 2 人"):  # the same person twice is one member
        svc.add_group(
            db,
            admin,
            e_hp,
            GroupCreate(name="重名", member_ids=[city.users["off_sh1"], city.users["off_sh1"]]),
        )
    strict = GridPolicy(version="test", enforcement_group_min=3)
    with pytest.raises(Invalid, match="至少 3 人"):
        svc.add_group(
            db,
            admin,
            e_hp,
            GroupCreate(name="二人", member_ids=[city.users["off_sh1"], city.users["off_sh2"]]),
            strict,
        )
    assert DEFAULT_GRID_POLICY.group_size("enforcement") == (2, None)
    assert DEFAULT_GRID_POLICY.group_size("inspector") == (2, 2)


def test_group_lifecycle_is_audited_on_the_grid(db: Session, city: City) -> None:
    admin = who(db, city, "admin")
    e_hp = city.grids["E-HP"]
    pair = add_officers(db, city, "station_heping", "off_hp3", "off_hp4")
    group = svc.add_group(db, admin, e_hp, GroupCreate(name="支援组", member_ids=pair))
    officer = db.get(User, pair[0])
    assert officer is not None
    assert e_hp in load_principal(db, officer).grid_ids  # members now see the grid
    svc.update_group(
        db, admin, e_hp, group.id, GroupUpdate(member_ids=[pair[0], pair[1]], name="支援一组")
    )
    old = db.scalar(select(GridGroup.id).where(GridGroup.grid_id == e_hp, GridGroup.id != group.id))
    assert old is not None
    with pytest.raises(Invalid, match="已在本网格其他组"):  # off_sh2 is in the new group
        svc.update_group(
            db,
            admin,
            e_hp,
            old,
            GroupUpdate(member_ids=[city.users["off_hp1"], pair[1]]),
        )
    svc.delete_group(db, admin, e_hp, group.id)
    assert e_hp not in load_principal(db, officer).grid_ids
    actions = [e.action for e in entries_for(db, entity_type="grid", entity_id=e_hp)]
    assert actions == ["group_delete", "group_update", "group_create"]
    with pytest.raises(NotFound):
        svc.delete_group(db, admin, city.grids["E-SH"], old)


def test_assign_moves_and_audits_on_the_site(db: Session, city: City) -> None:
    admin = who(db, city, "admin")
    new = svc.create_grid(
        db,
        admin,
        GridCreate(
            code="E-HP-9",
            name="九号",
            kind=GridKind.enforcement,
            district_id=city.districts["heping"],
        ),
    )
    hp1, hp2 = city.sites["HP-001"], city.sites["HP-002"]
    result = layout.assign_sites(db, admin, grid_id=new.id, site_ids=[hp1, hp2, hp1])
    assert result.changed == [hp1, hp2] and result.unchanged == []
    site = db.get(Site, hp1)
    assert site is not None and site.enforcement_grid_id == new.id
    assert site.inspector_grid_id == city.grids["I-HP"]  # the other kind is untouched
    entry = entries_for(db, entity_type="site", entity_id=hp1)[0]
    assert entry.changes == {"enforcement_grid_id": [city.grids["E-HP"], new.id]}
    again = layout.assign_sites(db, admin, grid_id=new.id, site_ids=[hp1])
    assert again.changed == [] and again.unchanged == [hp1]
    with pytest.raises(Invalid, match="不在网格所属区"):
        layout.assign_sites(db, admin, grid_id=new.id, site_ids=[city.sites["SH-001"]])
    with pytest.raises(Invalid, match="不存在"):  # the metro site is outside d_heping's view
        layout.assign_sites(
            db, who(db, city, "d_heping"), grid_id=new.id, site_ids=[city.sites["HP-M01"]]
        )


def test_partition_dry_run_respects_policy(db: Session, city: City) -> None:
    d = synthetic_district(db, city, 60)
    admin = who(db, city, "admin")
    result = layout.partition(db, admin, district_id=d.id, kind=GridKind.enforcement)
    lo, hi = DEFAULT_GRID_POLICY.bounds("enforcement")
    assert result.status == "ok" and result.within_bounds and not result.applied
    assert all(lo <= size <= hi for size in result.sizes) and sum(result.sizes) == 60
    assert all(p.grid_id is None for p in result.groups) and result.moved_sites == 60
    assert db.scalar(select(Grid.id).where(Grid.district_id == d.id)) is None
    inspector = layout.partition(db, admin, district_id=d.id, kind=GridKind.inspector)
    assert inspector.status == "undersized" and inspector.sizes == [60]
    with pytest.raises(Forbidden):
        layout.partition(db, who(db, city, "d_heping"), district_id=d.id, kind=GridKind.inspector)


def test_partition_apply_covers_every_site_and_is_stable(db: Session, city: City) -> None:
    d = synthetic_district(db, city, 60)
    admin = who(db, city, "admin")

    def missing() -> tuple[int, int]:
        row = next(c for c in layout.coverage(db, admin) if c.district_id == d.id)
        return row.missing_enforcement, row.missing_inspector

    assert missing() == (60, 60)
    first = layout.partition(db, admin, district_id=d.id, kind=GridKind.enforcement, apply=True)
    layout.partition(db, admin, district_id=d.id, kind=GridKind.inspector, apply=True)
    assert len(first.created_grid_ids) == 2 and first.moved_sites == 60
    assert missing() == (0, 0)
    grids = list(db.scalars(select(Grid).where(Grid.district_id == d.id).order_by(Grid.code)))
    assert [g.code for g in grids] == ["E-219901-01", "E-219901-02", "I-219901-01"]
    station = db.scalar(
        select(OrgUnit.id).where(
            OrgUnit.kind == UnitKind.supervision_station, OrgUnit.district_id == d.id
        )
    )
    assert grids[0].unit_id == station
    again = layout.partition(db, admin, district_id=d.id, kind=GridKind.enforcement, apply=True)
    assert again.created_grid_ids == [] and again.moved_sites == 0
    assert {p.grid_id for p in again.groups} == set(first.created_grid_ids)
    history = entries_for(db, entity_type="district", entity_id=d.id)
    assert [e.action for e in history] == ["partition"] * 3
