"""Reading an uploaded ledger workbook: size, archive and row limits before any parsing."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook, load_workbook

from dustgrid.config import Settings
from dustgrid.errors import Invalid
from dustgrid.sites.excel_columns import IMPORT_RULES, ImportRules, is_blank
from dustgrid.xlsx import XlsxLimits, check_archive

SHEET = "工地台账"
HELP_SHEET = "填写说明"
NOT_XLSX = "excel.error.not_xlsx"


def read_rows(
    content: bytes, settings: Settings, rules: ImportRules = IMPORT_RULES
) -> list[tuple[int, tuple[Any, ...]]]:
    """Non-blank rows of the ledger sheet as ``(excel row number, values)``."""
    _check_upload(content, settings)
    try:
        wb = load_workbook(BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a corrupt or foreign file
        raise Invalid(NOT_XLSX) from exc
    try:
        return _ledger_rows(wb, settings, rules)
    except Invalid:
        raise
    except Exception as exc:
        raise Invalid(NOT_XLSX) from exc
    finally:
        wb.close()


def _check_upload(content: bytes, settings: Settings) -> None:
    """The cheap checks on the raw bytes, so that nothing is unpacked or parsed for an empty,
    oversized, non-zip or zip-bomb upload."""
    if not content:
        raise Invalid("excel.error.no_file")
    if len(content) > settings.upload_max_bytes:
        mb = settings.upload_max_bytes / 1024 / 1024
        raise Invalid("excel.error.too_large", mb=f"{mb:g}")
    if not content.startswith(b"PK\x03\x04"):
        raise Invalid(NOT_XLSX)
    check_archive(content, XlsxLimits.from_settings(settings))  # before anything inflates


def _ledger_rows(
    wb: Workbook, settings: Settings, rules: ImportRules
) -> list[tuple[int, tuple[Any, ...]]]:
    """The non-blank rows, stopping at a long run of blank rows (a sheet formatted far down)
    and refusing more rows than an import may hold, before reading them all."""
    limit = settings.excel_max_rows + rules.header_scan_rows
    rows: list[tuple[int, tuple[Any, ...]]] = []
    ws = wb[SHEET] if SHEET in wb.sheetnames else wb.worksheets[0]
    ws.reset_dimensions()  # some writers record a wrong sheet size
    blank_run = 0
    for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
        if all(is_blank(v) for v in values):
            blank_run += 1
            if blank_run >= rules.blank_run_limit:
                break
            continue
        blank_run = 0
        rows.append((number, tuple(values)))
        if len(rows) > limit:
            raise too_many(settings)
    return rows


def too_many(settings: Settings) -> Invalid:
    n = settings.excel_max_rows
    return Invalid("excel.error.too_many_rows", n=n)
