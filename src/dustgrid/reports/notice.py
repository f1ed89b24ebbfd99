"""The monthly notice (月通报) as files: an .xlsx workbook and a PDF with Chinese text.

Pure: takes a :class:`Notice` (built from the records by ``reports.service``) and returns
bytes. The PDF uses reportlab's built-in CID font ``STSong-Light`` (Adobe-GB1, no font file
needed; viewers substitute an installed Chinese font), so every character must be in the
GB character set (checked by :func:`unsupported_chars`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, Final

from openpyxl import Workbook
from openpyxl.styles import Font
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from dustgrid.i18n import translate
from dustgrid.xlsx import append_row, safe_text

FONT: Final = "STSong-Light"
LANG: Final = "zh-CN"  # the notice is an official Chinese document
KINDS: Final = ("l2_unit", "officer_group", "officer", "inspector_group", "provider")


@dataclass(frozen=True, slots=True)
class RankRow:
    rank: int
    name: str
    score: float
    lost: float  # the sum of deductions (negative or 0)
    consequence: str  # "" | interview | suspended | blacklisted


@dataclass(frozen=True, slots=True)
class Notice:
    month: str  # YYYY-MM
    state: str  # open | closed (of the assessment month)
    version: int
    figures: list[tuple[str, str]]  # (message key, value as shown)
    rankings: dict[str, list[RankRow]] = field(default_factory=dict)
    red: list[str] = field(default_factory=list)  # enterprise names (红榜)
    black: list[tuple[str, int]] = field(default_factory=list)  # (enterprise, bad records)


def notice_dict(n: Notice) -> dict[str, Any]:
    """The notice as JSON-able data (kept with a publication); :func:`notice_of` reads it."""
    return {
        "month": n.month, "state": n.state, "version": n.version,
        "figures": [[k, v] for k, v in n.figures],
        "rankings": {kind: [[r.rank, r.name, r.score, r.lost, r.consequence] for r in rows]
                     for kind, rows in n.rankings.items()},
        "red": list(n.red), "black": [[name, records] for name, records in n.black],
    }  # fmt: skip


def notice_of(d: dict[str, Any]) -> Notice:
    return Notice(
        month=str(d["month"]), state=str(d["state"]), version=int(d["version"]),
        figures=[(str(k), str(v)) for k, v in d.get("figures", [])],
        rankings={str(kind): [RankRow(int(r[0]), str(r[1]), float(r[2]), float(r[3]), str(r[4]))
                              for r in rows] for kind, rows in d.get("rankings", {}).items()},
        red=[str(name) for name in d.get("red", [])],
        black=[(str(name), int(n)) for name, n in d.get("black", [])],
    )  # fmt: skip


def t(key: str) -> str:
    return translate(key, LANG)


def title(n: Notice) -> str:
    year, month = n.month.split("-")
    return t("reports.notice.title").format(year=year, month=int(month))


def _rank_headers() -> list[str]:
    return [t("reports.col.rank"), t("reports.col.name"), t("reports.col.score"),
            t("reports.col.lost"), t("reports.col.consequence")]  # fmt: skip


def _consequence(code: str) -> str:
    return t(f"assessments.consequence.{code}") if code else ""


def _rank_cells(r: RankRow) -> list[str | int | float]:
    return [r.rank, r.name, round(r.score, 1), round(r.lost, 1), _consequence(r.consequence)]


def text_of(n: Notice) -> list[str]:
    """Every piece of text the files carry (for the glyph check)."""
    out = [title(n), t("reports.notice.figures"), t("reports.notice.red"),
           t("reports.notice.black"), t("reports.notice.chart"), t("reports.notice.none"),
           t("reports.col.records"), *_rank_headers()]  # fmt: skip
    out += [t(k) + v for k, v in n.figures]
    for kind, rows in n.rankings.items():
        out.append(t(f"assessments.kind.{kind}"))
        out += [r.name + _consequence(r.consequence) for r in rows]
    out += n.red + [name for name, _ in n.black]
    return out


def unsupported_chars(n: Notice) -> set[str]:
    """Characters the CID font cannot show (outside GBK): they would print as boxes."""
    bad = set()
    for ch in "".join(text_of(n)):
        try:
            ch.encode("gbk")
        except UnicodeEncodeError:
            bad.add(ch)
    return bad


# ---------------------------------------------------------------------------- xlsx


def notice_xlsx(n: Notice) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = safe_text(t("reports.notice.figures"))[:31]
    append_row(ws, [title(n)])
    ws["A1"].font = Font(bold=True, size=14)
    for key, value in n.figures:
        append_row(ws, [t(key), value])
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 16
    for kind in KINDS:
        sheet = wb.create_sheet(safe_text(t(f"assessments.kind.{kind}"))[:31])
        append_row(sheet, _rank_headers())
        for r in n.rankings.get(kind, []):
            append_row(sheet, _rank_cells(r))
        sheet.column_dimensions["B"].width = 36
    red = wb.create_sheet(safe_text(t("reports.notice.red"))[:31])
    append_row(red, [t("reports.col.name")])
    for name in n.red:
        append_row(red, [name])
    black = wb.create_sheet(safe_text(t("reports.notice.black"))[:31])
    append_row(black, [t("reports.col.name"), t("reports.col.records")])
    for name, records in n.black:
        append_row(black, [name, records])
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------------------- PDF


def register_font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _styles() -> tuple[ParagraphStyle, ParagraphStyle, ParagraphStyle]:
    font = register_font()
    h1 = ParagraphStyle("h1", fontName=font, fontSize=18, leading=24, alignment=1)
    h2 = ParagraphStyle("h2", fontName=font, fontSize=13, leading=18, spaceBefore=8)
    body = ParagraphStyle("body", fontName=font, fontSize=10, leading=14, wordWrap="CJK")
    return h1, h2, body


_GRID: Final = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _table(rows: list[list[object]], widths: list[float], body: ParagraphStyle) -> Table:
    cells = [[Paragraph(_esc(str(c)), body) for c in row] for row in rows]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(_GRID)
    return table


def _chart(rows: list[RankRow]) -> Drawing:
    drawing = Drawing(170 * mm, 70 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y = 12 * mm, 18 * mm
    chart.width, chart.height = 150 * mm, 48 * mm
    chart.data = [[r.score for r in rows]]
    chart.categoryAxis.categoryNames = [r.name[:8] for r in rows]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, 100
    chart.valueAxis.valueStep = 20
    chart.valueAxis.labels.fontName = FONT
    chart.bars[0].fillColor = colors.HexColor("#3b6ea5")
    drawing.add(chart)
    return drawing


def notice_pdf(n: Notice) -> bytes:
    h1, h2, body = _styles()
    buf = BytesIO()
    margins = {"leftMargin": 18 * mm, "rightMargin": 18 * mm,
               "topMargin": 16 * mm, "bottomMargin": 16 * mm}  # fmt: skip
    doc = SimpleDocTemplate(buf, pagesize=A4, title=title(n), **margins)
    story: list[object] = [Paragraph(_esc(title(n)), h1), Spacer(1, 4 * mm)]
    story.append(Paragraph(_esc(t("reports.notice.figures")), h2))
    story.append(_table([[t(k), v] for k, v in n.figures], [90 * mm, 60 * mm], body))
    units = n.rankings.get("l2_unit", [])
    if units:
        story.append(Paragraph(_esc(t("reports.notice.chart")), h2))
        story.append(_chart(units))
    for kind in KINDS:
        story.append(Paragraph(_esc(t(f"assessments.kind.{kind}")), h2))
        rows = n.rankings.get(kind, [])
        if not rows:
            story.append(Paragraph(_esc(t("reports.notice.none")), body))
            continue
        data: list[list[object]] = [list(_rank_headers())]
        data += [list(_rank_cells(r)) for r in rows]
        story.append(_table(data, [14 * mm, 76 * mm, 20 * mm, 20 * mm, 42 * mm], body))
    story.append(Paragraph(_esc(t("reports.notice.red")), h2))
    red: list[list[object]] = [[t("reports.col.name")]]
    red += [[name] for name in n.red]
    story.append(_table(red, [150 * mm], body) if n.red else
                 Paragraph(_esc(t("reports.notice.none")), body))  # fmt: skip
    story.append(Paragraph(_esc(t("reports.notice.black")), h2))
    black: list[list[object]] = [[t("reports.col.name"), t("reports.col.records")]]
    black += [[name, records] for name, records in n.black]
    story.append(_table(black, [110 * mm, 40 * mm], body) if n.black else
                 Paragraph(_esc(t("reports.notice.none")), body))  # fmt: skip
    doc.build(story)
    return buf.getvalue()
