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
    case_penalty = "case_penalty"  # confirm or reject a penalty-ladder step, lift a stoppage
    case_sample = "case_sample"  # draw a look-back (回头看) sample of closed cases
    credit_admin = "credit_admin"  # lift an enterprise from the blacklist
    # Devices (domain.md §7): registry, onboarding review, applications, move/removal requests.
    device_write = "device_write"  # register and edit devices, API keys, adopt quarantined MNs
    device_review = "device_review"  # review applications, record tests and installation
    device_apply = "device_apply"  # apply to connect devices (a contractor for its own sites)
    device_request = "device_request"  # ask to move or remove a device
    # Intake channels (domain.md §4, §8): 12319 desk; system callers opening cases.
    hotline = "hotline"  # record 12319 complaints, link them to sites and cases, feedback
    case_intake = "case_intake"  # module-to-module intake API; manage Open311 client keys
    # Alerts: acknowledge an alert (someone is on it); edit the city's alert rule profiles.
    alert_ack = "alert_ack"
    alert_profile = "alert_profile"  # city admin: choose and tune standards, dry runs
    # Ingest: read the dead letters (messages and items that could not be stored).
    ingest_admin = "ingest_admin"  # city admin only: payloads of every device in the city
    # Heavy-pollution emergencies (domain.md §9): declare and end warnings (city admin only).
    emergency_declare = "emergency_declare"
    # Inspections (domain.md §3): check in at a site of one's own grid and record a visit.
    inspect = "inspect"
    # The grid's own working data: patrol plans, the field day, the notices circulated to
    # officials, the City Brain truck registry, known places and stay heat map. Every role of
    # the grid hierarchy and the officials; never a company account (contractor, provider).
    grid_work = "grid_work"
    # City Brain (issue 14): keep the muck-truck registry and the known places that the
    # detection of suspected unpermitted sites reads (city-wide data: the city admin only).
    fleet_write = "fleet_write"


ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.city_admin: frozenset(Perm),
    Role.district_admin: frozenset(
        {
            Perm.site_write,
            Perm.site_import,
            Perm.grid_write,
            Perm.user_admin,  # the accounts of its own unit and stations (auth.admin)
            Perm.audit_read,
            Perm.device_write,
            Perm.device_review,
            Perm.device_apply,
            Perm.device_request,
            Perm.case_penalty,
            Perm.case_sample,
            Perm.hotline,
            Perm.alert_ack,
            Perm.grid_work,
        }
    ),
    Role.station_staff: frozenset(
        {Perm.audit_read, Perm.case_penalty, Perm.alert_ack, Perm.grid_work}
    ),
    Role.officer: frozenset({Perm.case_penalty, Perm.alert_ack, Perm.inspect, Perm.grid_work}),
    Role.inspector: frozenset({Perm.inspect, Perm.grid_work}),
    Role.contractor: frozenset({Perm.device_apply, Perm.device_request}),
    Role.provider: frozenset({Perm.device_request}),
    Role.viewer: frozenset({Perm.audit_read, Perm.grid_work}),
}


def has_perm(role: Role, perm: Perm) -> bool:
    return perm in ROLE_PERMS[role]
