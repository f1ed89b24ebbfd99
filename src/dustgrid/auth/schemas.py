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
    phone: PlainText = ""


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: Role
    org_unit_id: int | None
    enterprise_id: int | None
    is_active: bool


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=128)


class UserUpdate(BaseModel):
    """What an admin may change; setting a password or disabling ends the account's sessions."""

    model_config = ConfigDict(extra="forbid")

    is_active: bool | None = None
    password: str | None = Field(default=None, min_length=1, max_length=128)


class SessionsEnded(BaseModel):
    ended: int = Field(description="Page sessions and API tokens ended")
