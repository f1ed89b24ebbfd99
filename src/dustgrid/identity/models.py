"""The user account: who a person is (role, unit, enterprise); ``auth`` proves it.

A foundation table, so that domains below ``auth`` in the layer order (grids keeps groups
of officers and inspectors) can read accounts. ``auth.models`` re-exports it.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from dustgrid.identity.roles import Role
from dustgrid.models import Base, TimestampMixin


class User(Base, TimestampMixin):
    """A person (or service account) who logs in. ``is_demo`` accounts only work in demo mode."""

    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32))
    org_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("org_unit.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    enterprise_id: Mapped[int | None] = mapped_column(
        ForeignKey("enterprise.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    phone: Mapped[str] = mapped_column(String(32), default="")
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set by an admin's password reset: the one-time password only opens the page that
    # changes it (docs/security.md, *Account management*).
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
