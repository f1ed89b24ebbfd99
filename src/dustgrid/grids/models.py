"""Grids (enforcement and inspector kinds), their member groups, and memberships."""

from __future__ import annotations

from sqlalchemy import Enum, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.models import Base, TimestampMixin
from dustgrid.sites.gridding import GridKind

__all__ = ["Grid", "GridGroup", "GridGroupMember", "GridKind"]


class Grid(Base, TimestampMixin):
    """A set of sites covered by one group of people.

    ``unit_id`` is the owning unit: the L3 station for enforcement grids, the third-party
    company (or the L2 bureau) for inspector grids.
    """

    __tablename__ = "grid"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[GridKind] = mapped_column(Enum(GridKind, native_enum=False, length=16))
    district_id: Mapped[int] = mapped_column(
        ForeignKey("district.id", ondelete="RESTRICT"), index=True
    )
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), nullable=True, index=True
    )


class GridGroup(Base, TimestampMixin):
    """A team (at least two people) that works a grid."""

    __tablename__ = "grid_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))


class GridGroupMember(Base):
    __tablename__ = "grid_group_member"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("grid_group.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
