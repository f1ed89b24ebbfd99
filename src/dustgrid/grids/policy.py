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

    version: str = "2024.2"
    enforcement_min: int = 20
    enforcement_max: int = 30
    inspector_min: int = 70
    inspector_max: int = 90
    # Who works a grid (domain.md §1; seed 000 §3(二) 定人): an enforcement group has at
    # least 2 officers (每组不少于2名执法监督人员), an inspector group exactly 2 inspectors
    # (每组2名专职巡查人员). Version 2024.2 made the inspector size exact.
    enforcement_group_min: int = 2
    inspector_group_size: int = 2

    def __post_init__(self) -> None:
        for name in ("enforcement_group_min", "inspector_group_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
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

    def group_size(self, kind: str) -> tuple[int, int | None]:
        """(min, max) members of one group of a grid of ``kind``; max None = no upper bound."""
        if kind == ENFORCEMENT:
            return self.enforcement_group_min, None
        if kind == INSPECTOR:
            return self.inspector_group_size, self.inspector_group_size
        raise ValueError(f"unknown grid kind {kind!r}; expected {ENFORCEMENT!r} or {INSPECTOR!r}")

    def group_fits(self, kind: str, members: int) -> bool:
        """Whether a group of ``members`` people satisfies the rule for ``kind``."""
        lo, hi = self.group_size(kind)
        return members >= lo and (hi is None or members <= hi)


DEFAULT_GRID_POLICY = GridPolicy()
