"""How the site ledger reaches the grids: a port that ``grids`` provides.

Grids sit above sites in the layer order (docs/architecture.md, *Layers*): a grid is made
of sites, and the grid layout reads and moves sites. The ledger still needs a few answers
about grids when a site is written (the nearest grid of each kind, whether a chosen grid
fits the site) and for its spreadsheets (the grids a user may pick, their codes).
``dustgrid.grids.repository`` registers the implementation when imported; until then a
call fails loudly instead of leaving a site without its grids.

``GridKind`` lives here because it names the site's two grid columns; ``grids.models``
re-exports it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from dustgrid.identity.principal import Principal


class GridKind(enum.StrEnum):
    enforcement = "enforcement"  # 执法监督网格 (L4 officers), 20–30 sites
    inspector = "inspector"  # 专职巡查网格 (third-party inspectors), 70–90 sites


@dataclass(frozen=True, slots=True)
class GridInfo:
    id: int
    code: str
    name: str
    kind: GridKind
    district_id: int
    # The grid's lane: the city-wide unit (the city safety station) whose officers work it,
    # None for a district's own grids and for every inspector grid. A site's enforcement
    # grid must be in the site's lane (``Gridding.lane_of``).
    lane: int | None = None


class Gridding(Protocol):
    def get(self, session: Session, grid_id: int) -> GridInfo | None:
        """One grid, or None."""
        ...

    def visible(self, session: Session, principal: Principal) -> list[GridInfo]:
        """The grids ``principal`` may see, by kind then code."""
        ...

    def codes(self, session: Session, ids: Iterable[int]) -> dict[int, str]:
        """``{grid id: code}`` for ``ids`` (the caller keeps the list short)."""
        ...

    def centroids(
        self, session: Session, district_id: int, kind: GridKind, lane: int | None = None
    ) -> list[tuple[int, float, float]]:
        """``(grid id, lat, lon)``: the centroid of each grid's active sites in the district
        (enforcement grids: only those of ``lane``)."""
        ...

    def any_grid(
        self, session: Session, district_id: int, kind: GridKind, lane: int | None = None
    ) -> int | None:
        """Some grid of ``kind`` (and ``lane``) in the district (one without sites yet)."""
        ...

    def lane_of(self, session: Session, kind: GridKind, l2_unit_id: int | None) -> int | None:
        """The lane of a site answering to ``l2_unit_id`` for grids of ``kind``: the city
        safety station for the enforcement grid of a site it supervises, else None."""
        ...


_provided: list[Gridding] = []


def provide(impl: Gridding) -> None:
    """Register the grids' implementation (``dustgrid.grids.repository`` does, on import)."""
    _provided[:] = [impl]


def gridding() -> Gridding:
    if not _provided:
        raise RuntimeError("grid answers for the site ledger: import dustgrid.grids.repository")
    return _provided[0]
