"""The HTTP edge: body limits, cache policy, the schema switch, Allow on 405, one error body,
and the bounds of ids, pages, dates and nulls (issues 9 and 10)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dustgrid.app import create_app
from dustgrid.bounds import ID_MAX, PAGE_MAX
from dustgrid.config import Settings
from dustgrid.errors import ErrorOut
from tests.fixtures.city import City

Api = Callable[[str], TestClient]
MIB = 1024 * 1024


# --- request bodies ------------------------------------------------------------------------


def test_oversized_body_without_key_is_413_not_401(anon: TestClient, settings: Settings) -> None:
    big = b"x" * (settings.body_max_default_bytes + 1)
    r = anon.post("/api/v1/sites", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413, r.text
    body = ErrorOut.model_validate(r.json())
    assert str(settings.body_max_default_bytes) in body.detail
    assert body.errors == {"limit": settings.body_max_default_bytes}


def test_login_and_token_forms_are_tiny(anon: TestClient, settings: Settings) -> None:
    pad = "a" * (settings.body_max_login_bytes + 1)
    r = anon.post("/api/v1/auth/token", data={"username": "admin", "password": pad})
    assert r.status_code == 413 and "detail" in r.json()
    page = anon.post("/login", data={"username": "admin", "password": pad, "csrf_token": "x"})
    assert page.status_code == 413
    assert "text/html" in page.headers["content-type"]
    assert "请求体过大" in page.text  # the page speaks zh-CN first, from the i18n catalogue


def test_open311_refuses_large_multipart_in_its_own_format(
    anon: TestClient, settings: Settings
) -> None:
    blob = b"0" * (settings.body_max_default_bytes + 1)
    r = anon.post(
        "/open311/v2/requests.json",
        data={"api_key": "k", "service_code": "dust"},
        files={"media": ("a.jpg", blob, "image/jpeg")},
    )
    assert r.status_code == 413
    assert r.json()[0]["code"] == 413 and "limit" in r.json()[0]["description"]


def _post_streamed(app: Any, path: str, chunk: int, chunks: int) -> tuple[int, int]:
    """POST a chunked body (no Content-Length) straight into the ASGI app; return the
    status and how many bytes the app pulled before answering."""
    pulled = 0
    sent = 0
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled, sent
        if sent == chunks:
            return {"type": "http.disconnect"}
        sent += 1
        pulled += chunk
        return {"type": "http.request", "body": b"x" * chunk, "more_body": sent < chunks}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    return status[0], pulled


def test_streamed_body_is_cut_at_the_limit_before_authentication(
    app: Any, settings: Settings
) -> None:
    chunk = 64 * 1024
    status, pulled = _post_streamed(app, "/api/v1/sites", chunk, chunks=800)  # 50 MiB offered
    assert status == 413
    assert pulled <= settings.body_max_default_bytes + chunk  # not the 50 MiB


def test_upload_routes_take_more_than_a_json_body(
    api_as: Api, settings: Settings, city: City
) -> None:
    photo = b"\xff\xd8\xff\xe0" + b"0" * (settings.body_max_default_bytes + MIB)
    r = api_as("admin").post(
        "/api/v1/cases",
        data={"source": "enforcement_officer", "category": "dust", "description": "扬尘",
              "site_id": str(city.sites["HP-001"])},
        files={"photos": ("p.jpg", photo, "image/jpeg")},
    )  # fmt: skip
    assert r.status_code != 413, r.text


# --- caching, schema switch, Allow -----------------------------------------------------------


def test_dynamic_answers_are_not_stored(api_as: Api, web_as: Api, anon: TestClient) -> None:
    assert api_as("admin").get("/api/v1/sites").headers["cache-control"] == "no-store"
    assert web_as("admin").get("/sites").headers["cache-control"] == "no-store"
    static = anon.get("/static/vendor/htmx.org/htmx.min.js")
    assert static.status_code == 200
    assert "no-store" not in static.headers.get("cache-control", "")


def _app(**overrides: Any) -> TestClient:
    s = Settings(secret_key="k" * 40, database_url="sqlite://", cookie_secure=False, **overrides)
    return TestClient(create_app(s))


def test_docs_and_schema_are_off_in_production_by_default() -> None:
    prod = _app()
    assert prod.get("/openapi.json").status_code == 404
    assert prod.get("/docs").status_code == 404
    demo = _app(demo_mode=True)
    assert demo.get("/openapi.json").status_code == 200
    assert demo.get("/docs").status_code == 200
    assert _app(api_docs_enabled=True).get("/openapi.json").status_code == 200


def test_405_lists_every_method_of_the_path(api_as: Api, city: City) -> None:
    gid = city.grids["E-HP"]
    r = api_as("admin").put(f"/api/v1/grids/{gid}", json={})
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "PATCH", "DELETE"}


# --- one error model -------------------------------------------------------------------------


def test_error_answers_and_schema_share_one_model(api_as: Api, app: Any) -> None:
    admin = api_as("admin")
    missing = admin.get("/api/v1/sites/999999")
    invalid = admin.get("/api/v1/sites", params={"size": "0"})
    for r in (missing, invalid):
        body = ErrorOut.model_validate(r.json())
        assert isinstance(body.detail, str) and body.detail
    assert missing.status_code == 404
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["loc"] == ["query", "size"]
    assert "size" in invalid.json()["detail"]

    undocumented = []
    for path, ops in app.openapi()["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, op in ops.items():
            for code in ("401", "403", "404", "422"):
                ref = op["responses"].get(code, {}).get("content", {}).get("application/json", {})
                if ref.get("schema", {}).get("$ref", "").split("/")[-1] != "ErrorOut":
                    undocumented.append(f"{method.upper()} {path} {code}")
    assert undocumented == []


# --- bounds of integers, dates and nulls ----------------------------------------------------


def test_every_integer_of_the_schema_is_bounded(app: Any) -> None:
    schema = app.openapi()
    comps = schema["components"]["schemas"]
    unbounded: list[str] = []

    def walk(node: Any, where: str, seen: tuple[str, ...] = ()) -> None:
        if not isinstance(node, dict):
            return
        if "$ref" in node:
            name = node["$ref"].split("/")[-1]
            if name not in seen:
                walk(comps[name], f"{where}<{name}>", (*seen, name))
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for sub in node.get(key, []):
                walk(sub, where, seen)
        if node.get("type") == "integer" and not (
            {"minimum", "exclusiveMinimum"} & node.keys()
            and {"maximum", "exclusiveMaximum"} & node.keys()
        ):
            unbounded.append(where)
        for name, sub in node.get("properties", {}).items():
            walk(sub, f"{where}.{name}", seen)
        walk(node.get("items"), f"{where}[]", seen)

    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                walk(p["schema"], f"{method.upper()} {path} {p['name']}")
            for content in op.get("requestBody", {}).get("content", {}).values():
                walk(content.get("schema"), f"{method.upper()} {path} body")
    assert unbounded == []


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/sites/{2**63}",
        f"/api/v1/sites/{ID_MAX + 1}/audit",
        f"/api/v1/devices/{2**64}",
        f"/api/v1/sites?page={2**63}",
        f"/api/v1/sites?page={PAGE_MAX + 1}",
        "/api/v1/alerts/quality?date_from=0001-01-01",
        "/api/v1/hotline/stats?month=0001-01",
        "/api/v1/hotline/stats?month=2026-13",
        "/api/v1/sites/1/series?start=0001-01-01T00:00:00",
    ],
)
def test_out_of_range_ids_pages_and_dates_are_422(api_as: Api, url: str) -> None:
    r = api_as("admin").get(url)
    assert r.status_code == 422, r.text
    assert r.json()["errors"], r.json()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/sites/{site}", {"stage": None}, "stage"),
        ("/api/v1/sites/{site}", {"lat": None}, "lat"),
        ("/api/v1/devices/{device}", {"particulate_unit": None}, "particulate_unit"),
    ],
)
def test_explicit_null_for_a_required_column_is_422(
    api_as: Api, city: City, path: str, body: dict[str, Any], field: str
) -> None:
    admin = api_as("admin")
    device = admin.post(
        "/api/v1/devices",
        json={"mn": "NULLCHECK01", "kind": "dust_monitor", "site_id": city.sites["HP-001"]},
    )
    assert device.status_code == 201, device.text
    url = path.format(site=city.sites["HP-001"], device=device.json()["id"])
    r = admin.patch(url, json=body)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", field]


def test_null_still_clears_what_may_be_empty(api_as: Api, city: City) -> None:
    r = api_as("admin").patch(
        f"/api/v1/sites/{city.sites['HP-001']}",
        json={"planned_end_date": None, "name": "和平区中山路住宅项目（二期）"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["planned_end_date"] is None


@pytest.mark.parametrize("field", ["org_unit_id", "enterprise_id"])
def test_user_with_unknown_unit_or_enterprise_is_422(api_as: Api, field: str) -> None:
    r = api_as("admin").post(
        "/api/v1/users",
        json={"username": "ghost_user", "password": "Ghost-pass-123", "display_name": "g",
              "role": "viewer", field: 999999},
    )  # fmt: skip
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == {"field": field}
