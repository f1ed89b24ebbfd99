"""API shapes of grids, their member groups, site assignment, partition and coverage."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from dustgrid.bounds import Id
from dustgrid.grids.models import GridKind
from dustgrid.identity.roles import Role
from dustgrid.sites.models import Grade, Stage
from dustgrid.text import OptionalPlainText, PlainText


class GridCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$")
    name: PlainText = Field(min_length=1, max_length=128)
    kind: GridKind
    district_id: Id
    unit_id: Id | None = None


class GridUpdate(BaseModel):
    """Kind and district may change only while the grid holds no sites and no groups."""

    model_config = ConfigDict(extra="forbid")

    code: str | None = Field(
        default=None, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.\-]+$"
    )
    name: OptionalPlainText = Field(default=None, min_length=1, max_length=128)
    kind: GridKind | None = None
    district_id: Id | None = None
    unit_id: Id | None = None


class MemberOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    role: Role


class GroupOut(BaseModel):
    """A team; ``complete`` is false when its active members of the grid's member role no
    longer meet the group-size rule (a member disabled or removed): it then does not count
    as staffing the grid."""

    id: int
    name: str
    members: list[MemberOut]
    complete: bool
    working_members: int


class GroupCreate(BaseModel):
    """A team working the grid: officers (enforcement) or inspectors (inspector grids)."""

    model_config = ConfigDict(extra="forbid")

    name: PlainText = Field(min_length=1, max_length=128)
    member_ids: list[Id] = Field(max_length=50)


class GroupUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OptionalPlainText = Field(default=None, min_length=1, max_length=128)
    member_ids: list[Id] | None = Field(default=None, max_length=50)


class GridOut(BaseModel):
    """A grid as listed: where it is, who owns it, how many active sites, who works it."""

    id: int
    code: str
    name: str
    kind: GridKind
    district_id: int
    district_name: str
    unit_id: int | None
    unit_name: str | None
    site_count: int
    members: list[MemberOut]
    staffed: bool  # at least one complete group works the grid


class GridSite(BaseModel):
    id: int
    project_code: str
    name: str
    grade: Grade
    stage: Stage


class GridDetail(GridOut):
    """Groups with their members, and the grid's active sites the caller may see."""

    groups: list[GroupOut]
    sites: list[GridSite]


class GridPage(BaseModel):
    items: list[GridOut]
    total: int
    page: int
    size: int


class AssignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid_id: Id
    site_ids: list[Id] = Field(min_length=1, max_length=2000)


class AssignResult(BaseModel):
    grid_id: int
    kind: GridKind
    changed: list[int]
    unchanged: list[int]


class PartitionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    district_id: Id
    kind: GridKind
    apply: bool = False


class ProposedGrid(BaseModel):
    """One proposed grid: its sites, compactness, and the grid it maps onto (None = new)."""

    index: int
    size: int
    site_ids: list[int]
    centroid_lat: float
    centroid_lon: float
    max_radius_m: float
    mean_radius_m: float
    grid_id: int | None
    grid_code: str | None
    moves: int
    unit_id: int | None  # the owner: the city safety station for its lane, else the district's


class PartitionResult(BaseModel):
    district_id: int
    kind: GridKind
    policy_version: str
    min_size: int
    max_size: int
    status: str
    message: str
    within_bounds: bool
    site_count: int
    sizes: list[int]
    rounds: int
    notes: list[str]
    groups: list[ProposedGrid]
    applied: bool
    moved_sites: int
    created_grid_ids: list[int]
    emptied_grid_ids: list[int]


class CoverageRow(BaseModel):
    """The "exactly one grid of each kind" check for one district."""

    district_id: int
    district_name: str
    active_sites: int
    missing_enforcement: int
    missing_inspector: int
