"""Roles and what each may do. Reads are further limited by scope (see ``scope.py``)."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    city_admin = "city_admin"  # L1 市建设局
    district_admin = "district_admin"  # L2 区建设局 / 市安全监督站
    station_staff = "station_staff"  # L3 区安全监督机构
    officer = "officer"  # L4 执法监督网格员
    inspector = "inspector"  # 第三方专职巡查员
    contractor = "contractor"  # 施工企业
    provider = "provider"  # 设备服务商
    viewer = "viewer"  # 只读


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.city_admin: ("市级管理员（一级网格）", "City admin (L1)"),
    Role.district_admin: ("区级管理员（二级网格）", "District admin (L2)"),
    Role.station_staff: ("安全监督站（三级网格）", "Supervision station (L3)"),
    Role.officer: ("执法监督网格员（四级网格）", "Enforcement officer (L4)"),
    Role.inspector: ("第三方专职巡查员", "Third-party inspector"),
    Role.contractor: ("施工企业", "Contractor"),
    Role.provider: ("设备服务商", "Device provider"),
    Role.viewer: ("只读用户", "Viewer"),
}


class Perm(enum.StrEnum):
    """Actions checked by ``require``; a role without the permission gets 403."""

    site_write = "site_write"
    site_import = "site_import"
    org_write = "org_write"
    grid_write = "grid_write"
    user_admin = "user_admin"
    audit_read = "audit_read"


ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.city_admin: frozenset(Perm),
    Role.district_admin: frozenset(
        {Perm.site_write, Perm.site_import, Perm.grid_write, Perm.audit_read}
    ),
    Role.station_staff: frozenset({Perm.audit_read}),
    Role.officer: frozenset(),
    Role.inspector: frozenset(),
    Role.contractor: frozenset(),
    Role.provider: frozenset(),
    Role.viewer: frozenset({Perm.audit_read}),
}


def has_perm(role: Role, perm: Perm) -> bool:
    return perm in ROLE_PERMS[role]
