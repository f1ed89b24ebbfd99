"""The monthly notice: `dustgrid notices monthly --month YYYY-MM --out DIR` writes an .xlsx
and a PDF whose Chinese text survives rendering (docs/reports.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from dustgrid import cli
from dustgrid.reports.figures import online_rate, share
from dustgrid.reports.notice import Notice, RankRow, notice_pdf, unsupported_chars


def _pdf_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    return "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))


def _ink(pdf: bytes) -> float:
    """The share of non-white pixels on the first page rendered to PNG."""
    page = pdfium.PdfDocument(pdf)[0]
    image = page.render(scale=1).to_pil().convert("L")
    dark = sum(1 for v in image.tobytes() if v < 128)
    return dark / (image.width * image.height)


def test_cli_writes_xlsx_and_pdf(november_db: str, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(cli.app, ["assess", "run", "--month", "2026-11"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "out"
    r = runner.invoke(cli.app, ["notices", "monthly", "--month", "2026-11", "--out", str(out)])
    assert r.exit_code == 0, r.output
    xlsx, pdf = out / "monthly-notice-2026-11.xlsx", out / "monthly-notice-2026-11.pdf"
    assert str(xlsx) in r.output and str(pdf) in r.output

    wb = load_workbook(xlsx)
    assert wb.sheetnames == ["主要指标", "二级网格单位", "执法监督网格组", "执法监督网格员",
                             "第三方巡查组", "设备服务商", "红榜", "黑名单"]  # fmt: skip
    figures = wb["主要指标"]
    assert figures["A1"].value == "2026年11月扬尘管控工作月通报"
    labels = {row[0].value: row[1].value for row in figures.iter_rows(min_row=2)}
    assert labels["考核状态"] == "未关账" and "设备在线率" in labels
    units = list(wb["二级网格单位"].iter_rows(values_only=True))
    assert units[0] == ("名次", "名称", "得分", "扣分", "处理")
    scores = [row[2] for row in units[1:]]
    assert scores and scores == sorted(scores, reverse=True)  # best first
    assert units[1][0] == 1
    # each officer ranked: off_hp1 visited 1 of 3 sites and missed a report (81.67); the
    # five others visited nothing (100 − 20) and share the 2nd place
    officers = list(wb["执法监督网格员"].iter_rows(values_only=True))[1:]
    assert officers[0][:3] == (1, "E-HP off_hp1", 81.7)
    assert len(officers) == 6 and {row[:1] + row[2:3] for row in officers[1:]} == {(2, 80.0)}

    content = pdf.read_bytes()
    text = _pdf_text(content)
    assert "2026年11月扬尘管控工作月通报" in text
    for heading in ("主要指标", "二级网格单位得分", "设备服务商", "红榜", "黑名单", "名次"):
        assert heading in text
    assert str(units[1][1]) in text  # the best unit's name, as written
    assert 0.002 < _ink(content) < 0.5  # the page renders to PNG with text on it


def test_cli_refuses_a_bad_month(november_db: str, tmp_path: Path) -> None:
    r = CliRunner().invoke(cli.app, ["notices", "monthly", "--month", "2026-13",
                                     "--out", str(tmp_path)])  # fmt: skip
    assert r.exit_code == 2 and "YYYY-MM" in r.output


def test_every_char_has_a_glyph() -> None:
    """The CID font covers GBK: each Chinese character written must be in it, and each
    renders with ink (a missing glyph would render blank or as an empty box, and would
    not extract back as the character)."""
    notice = Notice("2026-11", "closed", 2, [("reports.fig.sites", "12")],
                    {"l2_unit": [RankRow(1, "滨江区住建局", 96.5, -3.5, "")]},
                    ["鑫盛建设有限公司"], [("恒达土方工程公司", 3)])  # fmt: skip
    assert unsupported_chars(notice) == set()
    pdf = notice_pdf(notice)
    doc = pdfium.PdfDocument(pdf)
    page = doc[0]
    textpage = page.get_textpage()
    text = textpage.get_text_range()
    for word in ("滨江区住建局", "鑫盛建设有限公司", "恒达土方工程公司", "主要指标"):
        assert word in text
    image = page.render(scale=2).to_pil().convert("L")
    checked = 0
    for i in range(textpage.count_chars()):
        ch = textpage.get_text_range(i, 1)
        if not ("\u4e00" <= ch <= "\u9fff"):
            continue
        left, bottom, right, top = textpage.get_charbox(i)
        h = page.get_height()
        box = image.crop((int(left * 2), int((h - top) * 2), int(right * 2) + 1,
                          int((h - bottom) * 2) + 1))  # fmt: skip
        dark = sum(1 for v in box.tobytes() if v < 160)
        assert dark > 3, f"{ch!r} renders without ink"
        # an empty box (notdef) inks only the rim; a character inks its inside too
        inner = box.crop((2, 2, max(3, box.width - 2), max(3, box.height - 2)))
        assert sum(1 for v in inner.tobytes() if v < 160) > 0, f"{ch!r} renders as a box"
        checked += 1
    assert checked > 20


def test_unsupported_char_is_reported() -> None:
    notice = Notice("2026-11", "open", 1, [], {}, ["𠀀建设"], [])
    assert unsupported_chars(notice) == {"𠀀"}


def test_online_rate_and_shares() -> None:
    d = datetime(2026, 11, 1, tzinfo=UTC)
    end = datetime(2026, 11, 11, tzinfo=UTC)  # 10 days
    devices = [(1, d, None), (2, datetime(2026, 11, 6, tzinfo=UTC), None)]  # 10 + 5 days
    offline = [(1, datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)),
               (2, datetime(2026, 11, 10, tzinfo=UTC), None), (3, d, None)]  # fmt: skip
    # 15 device-days in service, 1 + 1 offline (device 3 is not in service)
    assert online_rate(devices, offline, d, end) == pytest.approx(100 * 13 / 15)
    assert online_rate([], [], d, end) is None
    assert share(3, 10) == 30.0 and share(0, 0) is None
