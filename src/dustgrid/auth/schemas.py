"""API shapes for login and accounts."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from dustgrid.bounds import Id
from dustgrid.identity.roles import Role
from dustgrid.text import PlainText


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    org_unit_id: int | None
    enterprise_id: int | None
    grid_ids: list[int]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    password: str = Field(min_length=8, max_length=128)
    display_name: PlainText = Field(min_length=1, max_length=64)
    role: Role
    org_unit_id: Id | None = None
    enterprise_id: Id | None = None
    phone: PlainText = Field(default="", max_length=32)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    org_unit_id: int | None
    enterprise_id: int | None
    phone: str
    is_active: bool
    must_change_password: bool


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)


class UserUpdate(BaseModel):
    """What an admin may change (in scope); setting a password or disabling ends the
    account's sessions. A district admin may give only the roles and units of its reach."""

    model_config = ConfigDict(extra="forbid")

    display_name: PlainText | None = Field(default=None, min_length=1, max_length=64)
    phone: PlainText | None = Field(default=None, max_length=32)
    org_unit_id: Id | None = None
    role: Role | None = None
    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=128)


class OneTimePassword(BaseModel):
    """A reset password, shown once; the user must choose a new one at the next login."""

    user_id: int
    password: str
    must_change_password: bool = True


class SessionsEnded(BaseModel):
    ended: int = Field(description="Page sessions and API tokens ended")
