"""An electronic archive (电子档案) as files: sections of rows, as .xlsx and PDF (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO

from openpyxl import Workbook
from openpyxl.styles import Font
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

from dustgrid.reports.notice import _esc, _styles, _table, t
from dustgrid.xlsx import append_row, safe_text


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # message key of the heading
    headers: list[str]  # message keys
    rows: Sequence[Sequence[object]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Archive:
    title: str  # as shown (the site's or member's name in it)
    facts: list[tuple[str, str]]  # (message key, value)
    sections: list[Section]


def archive_xlsx(a: Archive) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = safe_text(t("reports.archive.facts"))[:31]
    append_row(ws, [a.title])
    ws["A1"].font = Font(bold=True, size=14)
    for key, value in a.facts:
        append_row(ws, [t(key), value])
    ws.column_dimensions["A"].width = 24
    ws.column_dimensions["B"].width = 40
    for s in a.sections:
        sheet = wb.create_sheet(safe_text(t(s.key))[:31])
        append_row(sheet, [t(h) for h in s.headers])
        for row in s.rows:
            append_row(sheet, row)
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def archive_pdf(a: Archive) -> bytes:
    h1, h2, body = _styles()
    buf = BytesIO()
    page = landscape(A4)
    width = page[0] - 30 * mm
    margins = {"leftMargin": 15 * mm, "rightMargin": 15 * mm,
               "topMargin": 14 * mm, "bottomMargin": 14 * mm}  # fmt: skip
    doc = SimpleDocTemplate(buf, pagesize=page, title=a.title, **margins)
    story: list[object] = [Paragraph(_esc(a.title), h1), Spacer(1, 4 * mm)]
    facts: list[list[object]] = [[t(k), v] for k, v in a.facts]
    if facts:
        story.append(_table(facts, [width * 0.3, width * 0.7], body))
    for s in a.sections:
        story.append(Paragraph(_esc(t(s.key)), h2))
        if not s.rows:
            story.append(Paragraph(_esc(t("reports.notice.none")), body))
            continue
        data: list[list[object]] = [[t(h) for h in s.headers]]
        data += [list(r) for r in s.rows]
        n = len(s.headers)
        story.append(_table(data, [width / n] * n, body))
    doc.build(story)
    return buf.getvalue()
