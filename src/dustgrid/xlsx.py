"""The one place where DustGrid writes and opens .xlsx files safely.

Writing (every export and template goes through :func:`text_cell` / :func:`append_row`):
user text is written as text, never as a formula. Following the OWASP guidance on CSV and
formula injection, a value starting with ``= + - @``, a tab or a carriage return (or their
full-width forms, which Chinese input methods produce) gets a leading apostrophe, so that
Excel, WPS or LibreOffice show it as typed even after the sheet is edited or saved as CSV;
the cell's data type is forced to string, so nothing is stored as a formula. Plain numbers
such as ``+8613800000000`` or ``-5`` cannot call anything and are left as they are. Control
characters stored before input refused them are dropped (``text.strip_controls``), because
XML cannot carry them. The ledger import reads such an escaped value back unchanged
(:func:`unescape`), so an export re-imports as "unchanged".

Opening (every upload goes through :func:`check_archive` before openpyxl sees it): an .xlsx
is a zip archive, and a small upload can expand to gigabytes (a "zip bomb"). The declared
uncompressed size of each part, their total, their number and the compression ratio are
checked against the limits in :class:`XlsxLimits` (read from ``Settings``). Python's
``zipfile`` never inflates a part beyond its declared size (and fails the CRC check if the
data disagrees), so a lying header cannot get around the check.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from io import BytesIO
from typing import Any, Final

from openpyxl import Workbook
from openpyxl.cell.cell import Cell
from openpyxl.worksheet.worksheet import Worksheet

from dustgrid.config import Settings
from dustgrid.errors import Invalid
from dustgrid.i18n import translate
from dustgrid.text import strip_controls

# First characters that make a spreadsheet treat text as a formula (OWASP list, plus the
# full-width forms ＝＋－＠ that spreadsheet programs in Chinese locales also accept).
FORMULA_TRIGGERS: Final = frozenset("=+-@\t\r＝＋－＠")
ESCAPE: Final = "'"
# A plain signed number (a phone number with its country code, a negative amount): starts
# with a trigger character but cannot be a formula that does anything, so it is kept as is.
_PLAIN_NUMBER: Final = re.compile(r"[+-]?[0-9][0-9 .]*\Z")
STRING: Final = "s"  # openpyxl's data type for a text cell


def safe_text(text: str) -> str:
    """``text`` as it must be written to a cell: control characters dropped, formula
    triggers escaped with a leading apostrophe."""
    text = strip_controls(text)
    if text and text[0] in FORMULA_TRIGGERS and not _PLAIN_NUMBER.match(text):
        return ESCAPE + text
    return text


def unescape(text: str) -> str:
    """The inverse of :func:`safe_text` for a value read back from one of our files."""
    if len(text) > 1 and text[0] == ESCAPE and text[1] in FORMULA_TRIGGERS:
        return text[1:]
    return text


def text_cell(ws: Worksheet, value: Any) -> Any:
    """A value ready for ``ws.append`` or ``ws.cell``: strings become string cells."""
    if not isinstance(value, str):
        return value
    cell = Cell(ws, value=safe_text(value))
    cell.data_type = STRING
    return cell


def append_row(ws: Worksheet, values: Iterable[Any]) -> None:
    """``ws.append`` that writes every string as text."""
    ws.append([text_cell(ws, v) for v in values])


def write_cell(ws: Worksheet, row: int, column: int, value: Any) -> Cell:
    """``ws.cell(row, column, value)`` that writes a string as text."""
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = safe_text(value)
        cell.data_type = STRING
    else:
        cell.value = value
    return cell


# --- opening uploads -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class XlsxLimits:
    """How far an uploaded .xlsx may expand; see ``Settings.excel_*``."""

    max_entries: int
    max_entry_bytes: int
    max_total_bytes: int
    max_ratio: int

    @classmethod
    def from_settings(cls, settings: Settings) -> XlsxLimits:
        return cls(
            max_entries=settings.excel_max_entries,
            max_entry_bytes=settings.excel_max_entry_bytes,
            max_total_bytes=settings.excel_max_uncompressed_bytes,
            max_ratio=settings.excel_max_compression_ratio,
        )


_MB: Final = 1024 * 1024


def _mb(n: int) -> str:
    return f"{n / _MB:.1f}"


def _refuse(key: str, **fmt: Any) -> Invalid:
    """A refusal in zh-CN then English, from the ``xlsx.*`` message keys; the key and its
    figures ride along in ``details`` for integrators."""
    zh = translate(key, "zh-CN").format(**fmt)
    en = translate(key, "en").format(**fmt)
    return Invalid(f"{zh} / {en}", details={"key": key, **fmt})


def check_archive(content: bytes, limits: XlsxLimits) -> None:
    """Refuse an archive that would expand beyond ``limits``, before anything inflates it.

    Raises :class:`Invalid` naming the limit; a file that is not a zip archive at all is
    left to the caller's own "not an .xlsx" message.
    """
    try:
        with zipfile.ZipFile(BytesIO(content)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return
    if len(entries) > limits.max_entries:
        raise _refuse("xlsx.too_many_entries", count=len(entries), limit=limits.max_entries)
    total = packed = 0
    for info in entries:
        if info.file_size > limits.max_entry_bytes:
            raise _refuse("xlsx.entry_too_large", name=info.filename,
                          size=_mb(info.file_size), limit=_mb(limits.max_entry_bytes))  # fmt: skip
        total += info.file_size
        packed += info.compress_size
    if total > limits.max_total_bytes:
        raise _refuse("xlsx.total_too_large", size=_mb(total), limit=_mb(limits.max_total_bytes))
    ratio = total / max(packed, 1)
    if ratio > limits.max_ratio:
        raise _refuse("xlsx.ratio_too_high", ratio=f"{ratio:.0f}", limit=limits.max_ratio)


def table_xlsx(sheet: str, headers: Iterable[str], rows: Iterable[Iterable[Any]]) -> bytes:
    """A one-sheet workbook: a header row, then ``rows`` (every string written as text)."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = safe_text(sheet)[:31]
    append_row(ws, headers)
    for row in rows:
        append_row(ws, row)
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()
