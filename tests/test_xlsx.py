"""The shared spreadsheet helper: text is written as text, and archives are measured first."""

from __future__ import annotations

import zipfile
from io import BytesIO

import pytest
from openpyxl import Workbook, load_workbook

from dustgrid.config import Settings
from dustgrid.errors import Invalid
from dustgrid.xlsx import XlsxLimits, append_row, check_archive, safe_text, unescape, write_cell

LIMITS = XlsxLimits(max_entries=5, max_entry_bytes=1000, max_total_bytes=1500, max_ratio=50)


@pytest.mark.parametrize(
    ("typed", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("＝1+1", "'＝1+1"),
        ("+86 13800000000", "+86 13800000000"),
        ("-5", "-5"),
        ("王\u0007工", "王工"),
        ("a\x00b\x1bc\x7fd\x85e\ufffe", "abcde"),
        ("一行\n二行", "一行\n二行"),
        ("'=1", "'=1"),
    ],
)
def test_safe_text(typed: str, written: str) -> None:
    assert safe_text(typed) == written
    if written.startswith("'") and not typed.startswith("'"):
        assert unescape(written) == typed


def test_cells_are_strings_never_formulas() -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    append_row(ws, ["=1+1", 3, None, "@x"])
    write_cell(ws, 2, 1, '=HYPERLINK("http://evil.example")')
    buf = BytesIO()
    wb.save(buf)
    back = load_workbook(BytesIO(buf.getvalue())).active
    assert back is not None
    cells = [c for row in back.iter_rows() for c in row if c.value is not None]
    assert [(c.value, c.data_type) for c in cells] == [
        ("'=1+1", "s"), (3, "n"), ("'@x", "s"), ("'=HYPERLINK(\"http://evil.example\")", "s"),
    ]  # fmt: skip


def archive(parts: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return buf.getvalue()


def key_of(content: bytes) -> str:
    with pytest.raises(Invalid) as err:
        check_archive(content, LIMITS)
    assert " / " in err.value.message  # zh-CN, then English
    return str(err.value.details["key"])


def test_each_limit_is_named() -> None:
    stored = zipfile.ZIP_STORED
    check_archive(archive({"a.xml": b"x" * 900, "b.xml": b"y" * 500}, stored), LIMITS)
    assert key_of(archive({f"p{i}.xml": b"" for i in range(6)})) == "xlsx.too_many_entries"
    assert key_of(archive({"big.xml": b"x" * 1001}, stored)) == "xlsx.entry_too_large"
    parts = {"a.xml": b"x" * 900, "b.xml": b"y" * 700}
    assert key_of(archive(parts, stored)) == "xlsx.total_too_large"
    assert key_of(archive({"a.xml": b"x" * 1000})) == "xlsx.ratio_too_high"


def test_the_message_is_chinese_first_and_names_the_part() -> None:
    with pytest.raises(Invalid) as err:
        check_archive(archive({"xl/sharedStrings.xml": b"x" * 1001}, zipfile.ZIP_STORED), LIMITS)
    assert err.value.message.startswith("文件解压后过大：部件 xl/sharedStrings.xml")


def test_not_a_zip_is_left_to_the_caller() -> None:
    check_archive(b"PK\x03\x04 not really a zip", LIMITS)


def test_limits_come_from_settings() -> None:
    s = Settings(excel_max_entries=7, excel_max_entry_bytes=8, excel_max_uncompressed_bytes=9,
                 excel_max_compression_ratio=10)  # fmt: skip
    assert XlsxLimits.from_settings(s) == XlsxLimits(7, 8, 9, 10)
