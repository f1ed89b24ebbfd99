"""Data in (issue 14): the batch API (gzip, idempotent per batch id, bad rows by line, the
good ones kept, WGS-84 or GCJ-02), City Brain keys and their scopes, the truck registry and
known places from Excel with bad rows named, and the signed verdict webhook."""

from __future__ import annotations

import gzip
import hashlib
import hmac
from collections.abc import Callable, Iterator
from datetime import date
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.identity.deps import app_settings
from dustgrid.outbox.handlers import JobContext
from dustgrid.trajectories import service, tasks
from dustgrid.trajectories.models import SuspectSite
from tests.trajectories.loop_kit import DAY2, HEPING, RUN_AT, loading_fixes, store_fixes

CSV = (
    "terminal_id,time,lat,lon\n"
    "T1,2026-05-04T21:00:00+08:00,41.80,123.42\n"
    "T1,2026-05-04T21:00:30+08:00,41.80,123.42\n"
    ",2026-05-04T21:01:00+08:00,41.80,123.42\n"  # line 4: no terminal
    "T1,2026-05-04 21:01:30,41.80,123.42\n"  # line 5: no offset
    "T1,2026-05-04T21:02:00+08:00,91.5,123.42\n"  # line 6: latitude out of range
    "T2,1777899600,41.81,123.43\n"
)


@pytest.fixture
def cb_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"var_dir": tmp_path})


@pytest.fixture
def cb_app(app: Any, cb_settings: Settings) -> Iterator[Any]:
    app.dependency_overrides[app_settings] = lambda: cb_settings
    yield app


def test_batch_api_gzip_idempotent_bad_rows_named_good_kept(
    cb_app: Any, cb_settings: Settings, api_as: Callable[[str], TestClient]
) -> None:
    client = api_as("admin")
    body = gzip.compress(CSV.encode())
    url = "/api/v1/citybrain/fixes/batches/b-0001"
    r = client.post(
        url,
        params={"crs": "wgs84"},
        content=body,
        headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"},
    )
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["stored"] == 3 and out["bad"] == 3 and out["duplicate"] is False
    assert [e["line"] for e in out["errors"]] == [4, 5, 6]
    assert all(e["message"] for e in out["errors"])
    store = service.store_of(cb_settings)
    assert store.buckets(date(2026, 5, 4))
    stored = sum(len(store.read(date(2026, 5, 4), b)) for b in store.buckets(date(2026, 5, 4)))
    assert stored == 3
    again = client.post(
        url,
        params={"crs": "wgs84"},
        content=body,
        headers={"Content-Type": "text/csv", "Content-Encoding": "gzip"},
    )
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["stored"] == 3
    stored = sum(len(store.read(date(2026, 5, 4), b)) for b in store.buckets(date(2026, 5, 4)))
    assert stored == 3  # nothing twice


def test_batch_api_gcj02_is_converted_and_bad_input_refused(
    cb_app: Any, cb_settings: Settings, api_as: Callable[[str], TestClient]
) -> None:
    client = api_as("admin")
    r = client.post(
        "/api/v1/citybrain/fixes/batches/b-gcj",
        params={"crs": "gcj02"},
        content=CSV.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert r.status_code == 201
    store = service.store_of(cb_settings)
    fixes = store.read(date(2026, 5, 4), store.buckets(date(2026, 5, 4))[0])
    assert all(abs(x - 41.80) > 1e-4 for x in fixes.lat if abs(x - 41.80) < 0.01)  # shifted
    bad = client.post(
        "/api/v1/citybrain/fixes/batches/b-x", params={"crs": "bd09"}, content=CSV.encode()
    )
    assert bad.status_code == 422
    junk = client.post(
        "/api/v1/citybrain/fixes/batches/b-y",
        params={"crs": "wgs84"},
        content=b"\x1f\x8bnot gzip",
        headers={"Content-Encoding": "gzip"},
    )
    assert junk.status_code == 422
    nocol = client.post(
        "/api/v1/citybrain/fixes/batches/b-z", params={"crs": "wgs84"}, content=b"a,b\n1,2\n"
    )
    assert nocol.status_code == 422


def test_city_brain_keys_carry_scopes(
    cb_app: Any, anon: TestClient, api_as: Callable[[str], TestClient]
) -> None:
    r = api_as("admin").post(
        "/api/v1/citybrain/keys", json={"name": "城市大脑", "scopes": ["fixes:write"]}
    )
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    ok = anon.post(
        "/api/v1/citybrain/fixes/batches/k-1",
        params={"crs": "wgs84"},
        content=CSV.encode(),
        headers={"X-API-Key": key},
    )
    assert ok.status_code == 201
    assert anon.get("/api/v1/citybrain/feedback", headers={"X-API-Key": key}).status_code == 401
    assert (
        anon.get("/api/v1/citybrain/feedback", headers={"X-API-Key": "cb_wrong"}).status_code == 401
    )
    assert anon.get("/api/v1/citybrain/feedback").status_code == 401
    assert api_as("d_heping").post("/api/v1/citybrain/keys", json={"name": "x"}).status_code == 403


def _xlsx(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    buf = BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_trucks_and_places_from_excel_with_bad_rows_named(
    api_as: Callable[[str], TestClient],
) -> None:
    client = api_as("admin")
    trucks = _xlsx(
        [
            ["plate", "company", "terminal_id"],
            ["辽A12345", "顺达运输", "TRM-1"],
            ["辽A1", "", "TRM-2"][:1] + ["x", ""],
            ["辽A67890", "顺达运输", "TRM-1"],
        ]
    )
    r = client.post("/api/v1/trajectories/trucks/import", files={"file": ("t.xlsx", trucks)})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [
        (3, "terminal_id"),
        (4, "terminal_id"),
    ]
    assert [t["plate"] for t in client.get("/api/v1/trajectories/trucks").json()] == ["辽A12345"]
    places = _xlsx(
        [
            ["name", "kind", "lat", "lon", "radius_m", "note"],
            ["浑南消纳场", "disposal", 41.7, 123.5, 300, ""],
            ["坏行", "volcano", 41.7, 123.5, 100, ""],
            ["北站停车场", "car_park", "north", 123.5, 100, ""],
        ]
    )
    r = client.post("/api/v1/trajectories/places/import", files={"file": ("p.xlsx", places)})
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [(3, "kind"), (4, "lat")]
    assert [p["name"] for p in client.get("/api/v1/trajectories/places").json()] == ["浑南消纳场"]


def test_the_verdict_webhook_is_signed_and_retried_on_failure(
    db: Session,
    cb_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    api_as: Callable[[str], TestClient],
) -> None:
    store_fixes(cb_settings, loading_fixes([HEPING]))
    service.run_day(db, DAY2, settings=cb_settings, now=RUN_AT)
    s = db.query(SuspectSite).one()
    api_as("d_heping").post(
        f"/api/v1/trajectories/suspects/{s.id}/dismiss", json={"reason": "depot"}
    )
    sent: list[tuple[bytes, dict[str, str]]] = []

    class _Resp:
        def __init__(self, code: int) -> None:
            self.code = code

        def raise_for_status(self) -> None:
            if self.code >= 400:
                raise RuntimeError("503")

    codes = [503, 200]

    def fake_post(url: str, *, content: bytes, headers: dict[str, str], timeout: float) -> _Resp:
        sent.append((content, headers))
        return _Resp(codes.pop(0))

    monkeypatch.setattr(tasks.httpx, "post", fake_post)
    hooked = cb_settings.model_copy(
        update={
            "citybrain_webhook_url": "https://cb.example/hook",
            "citybrain_webhook_secret": "s3cret",
        }
    )
    ctx = JobContext(session_factory=lambda: _NoClose(db), settings=hooked, now=RUN_AT)
    with pytest.raises(RuntimeError):  # the outbox retries a failed delivery
        tasks.send_verdict({"suspect_id": s.id}, ctx)
    tasks.send_verdict({"suspect_id": s.id}, ctx)
    body, headers = sent[-1]
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-DustGrid-Signature"] == f"sha256={expected}"
    assert b'"verdict": "dismissed"' in body and b'"reason": "depot"' in body


class _NoClose:
    """The test's session as a context manager that leaves it open."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> Session:
        return self.session

    def __exit__(self, *exc: object) -> None:
        return None
