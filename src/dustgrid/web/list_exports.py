"""Workbooks of the alert and device lists, as their pages show them: headers and values in
the reader's language (labels, rule names, local times), never internal keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from dustgrid.alerts.schemas import AlertOut
from dustgrid.devices.schemas import DeviceListItem
from dustgrid.i18n import translate
from dustgrid.web.evidence import rule_name
from dustgrid.xlsx import table_xlsx

TIME_FORMAT = "%Y-%m-%d %H:%M"

ALERT_HEADERS = (
    "alerts.export.id",
    "alerts.field.state",
    "alerts.field.severity",
    "alerts.field.kind",
    "alerts.field.district",
    "alerts.export.site",
    "alerts.export.device",
    "alerts.field.rule",
    "alerts.field.started",
    "alerts.field.ended",
    "alerts.export.peak",
    "alerts.export.limit",
    "alerts.field.case",
)


def when(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime(TIME_FORMAT) if moment else ""


def _alert_kind(kind: str, locale: str) -> str:
    base, _, flag = kind.partition(":")
    text = translate(f"alerts.kind.{base}", locale)
    return f"{text} · {translate(f'alerts.flag.{flag}', locale)}" if flag else text


def _alert_row(a: AlertOut, districts: dict[int, str], locale: str, tz: tzinfo) -> list[object]:
    return [
        a.id,
        translate(f"alerts.state.{a.state}", locale),
        translate(f"alerts.severity.{a.severity}", locale),
        _alert_kind(a.kind, locale),
        districts.get(a.district_id, "") if a.district_id else "",
        a.site_name or "",
        a.device_mn or "",
        rule_name(a.rule_key, locale),
        when(a.started_at, tz),
        when(a.ended_at, tz),
        a.peak_value,
        a.limit_value,
        a.case_id,
    ]


def alerts_xlsx(
    items: Sequence[AlertOut], districts: dict[int, str], *, locale: str, tz: tzinfo
) -> bytes:
    return table_xlsx(
        translate("alerts.title", locale),
        [translate(k, locale) for k in ALERT_HEADERS],
        (_alert_row(a, districts, locale, tz) for a in items),
    )


DEVICE_HEADERS = (
    "devices.export.mn",
    "devices.name",
    "devices.kind",
    "devices.site",
    "devices.provider",
    "devices.lifecycle",
    "devices.online",
    "devices.last_seen",
)


def _device_row(d: DeviceListItem, locale: str, tz: tzinfo) -> list[object]:
    state = "devices.state.online" if d.online else "devices.state.offline"
    return [
        d.mn,
        d.name,
        translate(f"device_kind.{d.kind.value}", locale),
        d.site_name if d.site_id else translate("devices.no_site", locale),
        d.provider_name or "",
        translate(f"lifecycle.{d.lifecycle.value}", locale),
        translate(state, locale),
        when(d.last_seen_at, tz) or translate("devices.never", locale),
    ]


def devices_xlsx(items: Sequence[DeviceListItem], *, locale: str, tz: tzinfo) -> bytes:
    return table_xlsx(
        translate("devices.title", locale),
        [translate(k, locale) for k in DEVICE_HEADERS],
        (_device_row(d, locale, tz) for d in items),
    )
