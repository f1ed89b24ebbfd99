"""The caller of a request, resolved once, with everything scope filters need."""

from __future__ import annotations

from dataclasses import dataclass, field

from dustgrid.identity.roles import Perm, Role, has_perm


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    username: str
    display_name: str
    role: Role
    org_unit_id: int | None = None
    unit_level: int | None = None
    # The unit above the principal's unit (an L3 station's district bureau): an L3 scope
    # never reaches past what its parent unit sees (domain.md §1, docs/grids.md).
    parent_unit_id: int | None = None
    district_id: int | None = None
    enterprise_id: int | None = None
    grid_ids: frozenset[int] = field(default_factory=frozenset)
    locale: str = "zh-CN"
    ip: str = ""

    def can(self, perm: Perm) -> bool:
        return has_perm(self.role, perm)

    @property
    def is_city_wide(self) -> bool:
        """True for L1 staff (and viewers attached to the city bureau)."""
        return self.role == Role.city_admin or (self.role == Role.viewer and (self.unit_level == 1))
