"""Grid size policy: how many sites an enforcement or inspector grid may hold.

Pure data, no ORM import, so the partition algorithm and tests stay database-free.
"""

from __future__ import annotations

from dataclasses import dataclass

ENFORCEMENT = "enforcement"  # 执法监督网格 (L4 officers); matches grids.models.GridKind
INSPECTOR = "inspector"  # 专职巡查网格 (third-party inspectors)


@dataclass(frozen=True, slots=True)
class GridPolicy:
    """Site-count bounds per grid kind, versioned so old layouts stay explainable.

    Defaults follow docs/domain.md §1 (from seed 000 §1(二), §3(一)–(三)): an
    enforcement grid (执法监督网格) covers 20–30 sites and an inspector grid (专职巡查网格)
    70–90 sites, both formed by proximity (临近原则). Cities may override the numbers;
    bump ``version`` when they do.
    """

    version: str = "2024.1"
    enforcement_min: int = 20
    enforcement_max: int = 30
    inspector_min: int = 70
    inspector_max: int = 90
    # Each grid is worked by teams of at least two people: L4 officers "groups of at least
    # 2", third-party inspectors "groups of 2" (domain.md §1; seed 000 §3(二)–(三)).
    min_group_members: int = 2

    def __post_init__(self) -> None:
        if self.min_group_members < 1:
            raise ValueError(f"min_group_members must be >= 1, got {self.min_group_members}")
        for kind in (ENFORCEMENT, INSPECTOR):
            lo, hi = self.bounds(kind)
            if lo < 1 or hi < lo:
                raise ValueError(f"{kind} grid bounds must satisfy 1 <= min <= max, got {lo}–{hi}")

    def bounds(self, kind: str) -> tuple[int, int]:
        """(min, max) sites for a grid kind; accepts ``GridKind`` members (they are str)."""
        if kind == ENFORCEMENT:
            return self.enforcement_min, self.enforcement_max
        if kind == INSPECTOR:
            return self.inspector_min, self.inspector_max
        raise ValueError(f"unknown grid kind {kind!r}; expected {ENFORCEMENT!r} or {INSPECTOR!r}")


DEFAULT_GRID_POLICY = GridPolicy()
