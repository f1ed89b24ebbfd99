"""The case list as an .xlsx file: the inbox's columns, headers and values in the reader's
language (labels, local times; no internal keys). Strings go through ``xlsx.append_row``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo

from dustgrid.cases.schemas import CaseOut
from dustgrid.i18n import translate
from dustgrid.xlsx import table_xlsx

#: Column headers (message keys), in the inbox's order.
HEADERS = (
    "cases.col.id",
    "cases.export.light",
    "cases.col.state",
    "cases.col.district",
    "cases.col.site",
    "cases.col.category",
    "cases.col.description",
    "cases.col.unit",
    "cases.col.responsible",
    "cases.col.due",
    "cases.col.opened",
    "cases.col.closed",
)
TIME_FORMAT = "%Y-%m-%d %H:%M"


def _when(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime(TIME_FORMAT) if moment else ""


def _row(c: CaseOut, districts: dict[int, str], locale: str, tz: tzinfo) -> list[object]:
    return [
        c.id,
        translate(f"cases.light.{c.light}", locale) if c.light else "",
        translate(f"case_state.{c.state}", locale),
        districts.get(c.district_id, "") if c.district_id else "",
        c.site_name or "",
        c.category_label,
        c.description,
        c.assigned_unit_name or "",
        c.responsible_name or "",
        _when(c.due_at, tz),
        _when(c.opened_at, tz),
        _when(c.closed_at, tz),
    ]


def cases_xlsx(
    rows: Sequence[CaseOut], districts: dict[int, str], *, locale: str, tz: tzinfo
) -> bytes:
    """One sheet: a header row, then one row per case."""
    return table_xlsx(
        translate("cases.export.sheet", locale),
        [translate(k, locale) for k in HEADERS],
        (_row(c, districts, locale, tz) for c in rows),
    )
