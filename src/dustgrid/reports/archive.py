"""An electronic archive (电子档案) as files: sections of rows, as .xlsx and PDF.

Pure apart from reading the stored photos it embeds: takes an :class:`Archive` (built from
the records by ``reports.archives``) and returns bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Final

from openpyxl import Workbook
from openpyxl.styles import Font
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from dustgrid.reports.notice import _esc, _styles, _table, t
from dustgrid.xlsx import append_row, safe_text

# The PDF's photo grid: thumbnails per row across a landscape A4 page, and the longest side
# of a thumbnail in pixels (about 170 dpi at the printed size: sharp on paper, small file).
PHOTOS_PER_ROW: Final = 4
THUMB_PX: Final = 400
THUMB_JPEG_QUALITY: Final = 75
THUMB_MAX_HEIGHT_MM: Final = 48  # a portrait photo is not let run a row twice as tall
PHOTO_HEADERS: Final = ["reports.col.inspection", "reports.col.time", "reports.col.item",
                        "reports.col.file", "reports.col.link"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class ArchivePhoto:
    """One visit photo: the watermarked copy, as the archive shows and links it."""

    inspection_id: int
    photo_id: int
    time: str  # local time as shown (when it was taken, else the visit's check-in)
    visit_time: str  # the visit's check-in, local time as shown
    item: str  # the checklist item as shown; "" for the visit as a whole
    href: str  # the watermarked copy on the platform (a path, scoped like the visit)
    file_name: str
    path: Path | None  # the stored file (for the PDF); None when it is not on disk

    def caption(self) -> str:
        item = self.item or t("reports.archive.whole_visit")
        return t("reports.archive.photo_caption").format(
            id=self.inspection_id, time=self.time, item=item
        )


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # message key of the heading
    headers: list[str]  # message keys
    rows: Sequence[Sequence[object]] = field(default_factory=list)
    photos: Sequence[ArchivePhoto] = field(default_factory=list)  # a photo section's

    @property
    def empty(self) -> bool:
        return not self.rows and not self.photos


@dataclass(frozen=True, slots=True)
class Archive:
    title: str  # as shown (the site's or member's name in it)
    facts: list[tuple[str, str]]  # (message key, value)
    sections: list[Section]


def photo_row(p: ArchivePhoto, base_url: str = "") -> list[object]:
    """A photo as a row: visit, time, item, file name, address (absolute with a base)."""
    item = p.item or t("reports.archive.whole_visit")
    return [p.inspection_id, p.time, item, p.file_name, base_url.rstrip("/") + p.href]


def archive_xlsx(a: Archive, base_url: str = "") -> bytes:
    """One sheet of facts, one per section; a photo section lists one photo a row, its
    address a link when ``base_url`` (the platform's address) is given."""
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
        for p in s.photos:
            append_row(sheet, photo_row(p, base_url))
            if base_url:
                cell = sheet.cell(row=sheet.max_row, column=len(PHOTO_HEADERS))
                cell.hyperlink = str(cell.value)
                cell.style = "Hyperlink"
        if s.photos:
            for col, width in zip("BCDE", (18, 20, 44, 60), strict=True):
                sheet.column_dimensions[col].width = width
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def thumbnail(path: Path | None, px: int = THUMB_PX) -> tuple[bytes, int, int] | None:
    """The photo scaled to fit ``px`` × ``px`` as JPEG (bytes, width, height), or None
    when the file is missing or unreadable (the PDF then says so in its place)."""
    if path is None or not path.is_file():
        return None
    try:
        with PILImage.open(path) as im:
            im.draft("RGB", (px, px))  # a JPEG decodes at a reduced scale: fast
            shown = ImageOps.exif_transpose(im).convert("RGB")
            shown.thumbnail((px, px))
            buf = BytesIO()
            shown.save(buf, "JPEG", quality=THUMB_JPEG_QUALITY)
            return buf.getvalue(), shown.width, shown.height
    except (OSError, ValueError, UnidentifiedImageError, PILImage.DecompressionBombError):
        return None


def _photo_cell(p: ArchivePhoto, width: float, body: ParagraphStyle) -> list[object]:
    caption = Paragraph(_esc(p.caption()), body)
    thumb = thumbnail(p.path)
    if thumb is None:
        return [Paragraph(_esc(t("reports.archive.photo_missing")), body), caption]
    data, w, h = thumb
    scale = min(width / w, THUMB_MAX_HEIGHT_MM * mm / h)
    return [Image(BytesIO(data), width=w * scale, height=h * scale), caption]


def _photo_grid(photos: Sequence[ArchivePhoto], width: float, body: ParagraphStyle) -> Table:
    cell = width / PHOTOS_PER_ROW
    small = ParagraphStyle("caption", parent=body, fontSize=8, leading=11, alignment=1)
    cells: list[object] = [_photo_cell(p, cell - 6 * mm, small) for p in photos]
    cells += [""] * (-len(cells) % PHOTOS_PER_ROW)
    rows = [cells[i : i + PHOTOS_PER_ROW] for i in range(0, len(cells), PHOTOS_PER_ROW)]
    table = Table(rows, colWidths=[cell] * PHOTOS_PER_ROW)
    table.setStyle(TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"),
                               ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 4 * mm)]))  # fmt: skip
    return table


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
        if s.empty:
            story.append(Paragraph(_esc(t("reports.notice.none")), body))
            continue
        if s.photos:
            story.append(_photo_grid(s.photos, width, body))
            continue
        data: list[list[object]] = [[t(h) for h in s.headers]]
        data += [list(r) for r in s.rows]
        n = len(s.headers)
        story.append(_table(data, [width / n] * n, body))
    doc.build(story)
    return buf.getvalue()
