"""Issue 10 §11: uploads cannot become a page or a script on our origin.

A PNG that is also an HTML page, and a PDF that runs script or acts on opening, are
refused with a clear error; what is kept gets a name and type from its sniffed bytes and
is served with ``nosniff``, a sandbox CSP, and ``attachment`` unless it is an image.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from dustgrid.cases import attachments as files
from tests.cases.case_kit import JPEG, PDF, PNG
from tests.fixtures.city import City

POLYGLOT = PNG + b"<html><script>alert(document.cookie)</script></html>"
PDF_OPEN_ACTION = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /OpenAction 2 0 R >> endobj\n"
    b"2 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj\n%%EOF\n"
)
PDF_ESCAPED = b"%PDF-1.4\n1 0 obj << /Type /Catalog /Open#41ction 2 0 R >> endobj\n%%EOF\n"
PDF_HIDDEN = (
    b"%PDF-1.5\n3 0 obj << /Type /ObjStm /Filter /FlateDecode >> stream\n"
    + zlib.compress(b"<< /S /Launch /F (cmd.exe) >>")
    + b"\nendstream endobj\n%%EOF\n"
)


def _report(c: TestClient, city: City, files_: list) -> object:
    body = {
        "source": "third_party_inspector",
        "site_id": city.sites["HP-001"],
        "category": "hoarding",
        "description": "围挡缺口",
    }
    return c.post("/api/v1/cases", data=body, files=files_)


def test_polyglot_image_is_refused(api_as: Callable[[str], TestClient], city: City) -> None:
    r = _report(api_as("insp_hp1"), city, [("photos", ("poly.html", POLYGLOT, "text/html"))])
    assert r.status_code == 422, r.text  # type: ignore[attr-defined]
    assert "poly.html" in r.json()["detail"] and "网页代码" in r.json()["detail"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("pdf", "named"),
    [
        (PDF_OPEN_ACTION, "/JS, /JavaScript, /OpenAction"),
        (PDF_ESCAPED, "/OpenAction"),
        (PDF_HIDDEN, "/Launch"),
    ],  # fmt: skip
)
def test_active_pdf_is_refused(
    pdf: bytes, named: str, api_as: Callable[[str], TestClient], city: City
) -> None:
    c = api_as("insp_hp1")
    case = _report(c, city, [("photos", ("a.jpg", JPEG, "image/jpeg"))]).json()  # type: ignore[attr-defined]
    r = c.post(
        f"/api/v1/cases/{case['id']}/notes",
        data={"text": "处罚决定书"},
        files=[("documents", ("decision.pdf", pdf, "application/pdf"))],
    )
    assert r.status_code == 422, r.text
    assert named in r.json()["detail"] and "decision.pdf" in r.json()["detail"]
    assert files.active_pdf_names(PDF) == []


def test_kept_files_are_served_safely(api_as: Callable[[str], TestClient], city: City) -> None:
    c = api_as("insp_hp1")
    case = _report(c, city, [("photos", ("poly.html", PNG, "text/html"))]).json()  # type: ignore[attr-defined]
    r = c.post(
        f"/api/v1/cases/{case['id']}/notes",
        data={"text": "决定书"},
        files=[("documents", ("decision.pdf", PDF, "application/pdf"))],
    )
    assert r.status_code == 200, r.text
    detail = c.get(f"/api/v1/cases/{case['id']}").json()
    by_mime = {a["mime"]: a for a in detail["attachments"]}
    image = c.get(by_mime["image/png"]["url"])
    assert by_mime["image/png"]["filename"] == "poly.png"
    assert image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"].startswith("inline")
    assert 'filename="poly.png"' in image.headers["content-disposition"]
    pdf = c.get(by_mime["application/pdf"]["url"])
    assert pdf.headers["content-disposition"].startswith("attachment")
    for got in (image, pdf):
        assert got.headers["x-content-type-options"] == "nosniff"
        policies = got.headers.get_list("content-security-policy")
        assert any(p.startswith("sandbox") for p in policies), policies


def test_safe_name_keeps_the_stem_and_takes_the_sniffed_extension() -> None:
    assert files.safe_name("现场照片 1.html", "image/jpeg") == "现场照片_1.jpg"
    assert files.safe_name('a";b.svg', "image/png") == "a__b.png"
    traversal = "../../etc/passwd"  # outside-path: test input
    assert files.safe_name(traversal, "application/pdf") == "passwd.pdf"
