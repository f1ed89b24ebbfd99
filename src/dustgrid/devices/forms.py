"""HTML form fields → API payloads, and display helpers for the device pages.

Kept out of ``web/device_pages.py`` so the routes stay short; pure functions of strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any

from dustgrid.devices.models import DeviceKind
from dustgrid.workcal.calendar import people_time

APPLICATION_ROWS = 6  # blank device rows offered by the application form
SITE_DEVICE_KINDS = [k for k in DeviceKind if k != DeviceKind.reference_station]


def text(form: Mapping[str, Any], key: str) -> str:
    value = form.get(key)
    return value.strip() if isinstance(value, str) else ""


def opt_int(value: str) -> int | None:
    try:
        return int(value.strip())
    except (AttributeError, ValueError):
        return None


def resolution(value: str) -> tuple[int | None, int | None]:
    """``"1920x1080"`` (or ``×``, ``*``) → (1920, 1080); blank or malformed → (None, None)
    (left to validation: a half-typed value is not silently turned into a number)."""
    raw = value.strip().lower().replace("×", "x").replace("*", "x")
    if not raw or "x" not in raw:
        return None, None
    w, _, h = raw.partition("x")
    return opt_int(w), opt_int(h)


def application_payload(form: Mapping[str, Any]) -> dict[str, Any]:
    """The application form: site, provider, pre-approved flag and rows ``mn_0 …``;
    rows without an MN are skipped."""
    devices: list[dict[str, Any]] = []
    for i in range(APPLICATION_ROWS):
        mn = text(form, f"mn_{i}")
        if not mn:
            continue
        row: dict[str, Any] = {
            "mn": mn,
            "kind": text(form, f"kind_{i}") or DeviceKind.dust_monitor.value,
            "model": text(form, f"model_{i}"),
            "position": text(form, f"position_{i}"),
        }
        for stream in ("main", "sub"):
            w, h = resolution(text(form, f"{stream}_{i}"))
            if w is not None and h is not None:
                row[f"{stream}_stream_width"], row[f"{stream}_stream_height"] = w, h
        devices.append(row)
    return {
        "site_id": opt_int(text(form, "site_id")),
        "provider_id": opt_int(text(form, "provider_id")),
        "pre_approved_model": text(form, "pre_approved_model") in ("1", "true", "on"),
        "devices": devices,
    }


def request_payload(form: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": text(form, "kind"),
        "reason": text(form, "reason"),
        "new_site_id": opt_int(text(form, "new_site_id")),
        "new_position": text(form, "new_position"),
    }


def adopt_payload(form: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": text(form, "kind") or DeviceKind.dust_monitor.value,
        "site_id": opt_int(text(form, "site_id")),
        "district_id": opt_int(text(form, "district_id")),
        "provider_id": opt_int(text(form, "provider_id")),
        "name": text(form, "name"),
        "model": text(form, "model"),
        "position": text(form, "position"),
    }
    return out


def decision(form: Mapping[str, Any], field: str = "decision") -> bool:
    """Approve/pass buttons send ``yes``; anything else is a no."""
    return text(form, field) == "yes"


def local_time(value: datetime | None, tz: tzinfo) -> str:
    """The city's time (``tz``, the ``timezone`` setting) for people; the database keeps UTC."""
    return people_time(value, tz)


def split_seconds(seconds: float | None) -> tuple[int, int, int] | None:
    """(days, hours, minutes) of a duration, for the repair-time column."""
    if seconds is None:
        return None
    minutes = int(seconds // 60)
    return minutes // 1440, (minutes % 1440) // 60, minutes % 60
