"""Open311 GeoReport v2 through a plain HTTP client: the real app under uvicorn on a free
port, a temporary SQLite database built by the migrations and the tiny city, and httpx.

The app gets its own session factory (the same commit-or-rollback as ``db.get_session``)
so this module does not touch the process-wide engine other tests rely on.
"""

from __future__ import annotations

import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dustgrid import migrate
from dustgrid.app import create_app
from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.cases import service as cases
from dustgrid.cases.models import Case
from dustgrid.cases.workflow import MoveInput
from dustgrid.config import Settings, get_settings
from dustgrid.db import get_session, make_engine
from dustgrid.intake import hotline
from dustgrid.intake.models import Complaint
from dustgrid.intake.open311_service import issue_key
from dustgrid.intake.schemas import LinkIn
from dustgrid.models import utcnow
from tests.fixtures.city import City, build_city


@dataclass
class Live:
    url: str
    key: str
    revoked_key: str
    factory: sessionmaker[Session]
    city: City


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("open311")
    url = f"sqlite:///{tmp / 'o311.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as s:
        city = build_city(s)
        s.flush()
        admin = load_principal(s, s.get(User, city.users["admin"]))  # type: ignore[arg-type]
        _row, key = issue_key(s, admin, "市民随手拍", now=utcnow())
        revoked, revoked_key = issue_key(s, admin, "旧客户端", now=utcnow())
        revoked.revoked_at = utcnow()
        s.commit()
    settings = Settings(database_url=url, var_dir=Path(tmp / "var"), cookie_secure=False,
                        secret_key="open311-http-test-secret-key-0123456789")  # fmt: skip
    app = create_app(settings)

    def _session() -> Iterator[Session]:
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    app.dependency_overrides[get_session] = _session
    app.dependency_overrides[get_settings] = lambda: settings
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", access_log=False))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Live(f"http://127.0.0.1:{port}", key, revoked_key, factory, city)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


@pytest.fixture
def http(live: Live) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, timeout=10) as client:
        yield client


def _post(http: httpx.Client, key: str, **fields: str) -> httpx.Response:
    form = {"api_key": key, "service_code": "dust_complaint", "lat": "41.7915",
            "long": "123.4016", "description": "工地夜间扬尘严重", "first_name": "三",
            "last_name": "张", "email": "zhang@example.com", **fields}  # fmt: skip
    return http.post("/open311/v2/requests.json", data=form)


def test_services_list_and_definition(http: httpx.Client) -> None:
    r = http.get("/open311/v2/services.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = r.json()
    codes = {s["service_code"] for s in services}
    assert {"bare_soil_cover", "dust_complaint", "no_video"} <= codes
    one = next(s for s in services if s["service_code"] == "bare_soil_cover")
    assert set(one) == {"service_code", "service_name", "description", "metadata", "type",
                        "keywords", "group"}  # fmt: skip
    assert one["service_name"] == "裸土严密覆盖" and one["metadata"] is False
    assert one["type"] == "realtime"
    en = http.get("/open311/v2/services", headers={"Accept-Language": "en-US,en"}).json()
    assert next(s for s in en if s["service_code"] == "bare_soil_cover")["service_name"] == (
        "Bare soil tightly covered"
    )
    xml = http.get("/open311/v2/services.xml")
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(xml.content)
    assert root.tag == "services" and len(root.findall("service")) == len(services)
    d = http.get("/open311/v2/services/dust_complaint.json").json()
    assert d == {"service_code": "dust_complaint", "attributes": []}
    missing = http.get("/open311/v2/services/nope.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404 and "nope" in missing.json()[0]["description"]


def test_post_request_then_follow_its_status(http: httpx.Client, live: Live) -> None:
    r = _post(http, live.key)
    assert r.status_code == 201, r.text
    body = r.json()
    assert isinstance(body, list) and set(body[0]) >= {"service_request_id", "service_notice"}
    rid = body[0]["service_request_id"]

    got = http.get(f"/open311/v2/requests/{rid}.json")
    assert got.status_code == 200
    req = got.json()[0]
    assert req["service_request_id"] == rid and req["status"] == "open"
    assert req["service_code"] == "dust_complaint" and req["lat"] == 41.7915
    assert req["long"] == 123.4016 and req["requested_datetime"].endswith("Z")
    assert "email" not in req and "张" not in str(req)  # no personal data in public reads
    with live.factory() as s:
        c = s.get(Complaint, int(rid))
        assert c is not None and c.caller_name == "张 三" and c.channel.value == "open311"

    # the desk links it, the case is dispatched, then dismissed: the client sees each step
    with live.factory() as s:
        admin = load_principal(s, s.get(User, live.city.users["admin"]))  # type: ignore[arg-type]
        _c, case, _new = hotline.link(s, admin, int(rid),
                                      LinkIn(site_id=live.city.sites["HP-001"]))  # fmt: skip
        s.commit()
        case_id = case.id
    req = http.get(f"/open311/v2/requests/{rid}").json()[0]
    assert req["status"] == "open" and req["status_notes"] == "已立案，待交办"
    with live.factory() as s:
        admin = load_principal(s, s.get(User, live.city.users["admin"]))  # type: ignore[arg-type]
        cases.move(s, admin, case_id, "dismiss", MoveInput(reason="重复，已在处理"))
        s.commit()
        assert s.scalar(select(Case.state).where(Case.id == case_id)).value == "closed"  # type: ignore[union-attr]
    closed = http.get(f"/open311/v2/requests/{rid}.json",
                      headers={"Accept-Language": "en"}).json()[0]  # fmt: skip
    assert closed["status"] == "closed" and closed["status_notes"] == "Closed"

    listed = http.get("/open311/v2/requests.json", params={"status": "closed"}).json()
    assert rid in {x["service_request_id"] for x in listed}
    opened = http.get("/open311/v2/requests.json", params={"status": "open"}).json()
    assert rid not in {x["service_request_id"] for x in opened}
    by_ids = http.get("/open311/v2/requests.json", params={"service_request_id": f"{rid},99999"})
    assert [x["service_request_id"] for x in by_ids.json()] == [rid]
    xml = ET.fromstring(http.get(f"/open311/v2/requests/{rid}.xml").content)
    assert xml.tag == "service_requests" and xml.find("request/status").text == "closed"  # type: ignore[union-attr]


def test_errors_in_spec_format(http: httpx.Client, live: Live) -> None:
    with live.factory() as s:
        before = s.scalar(select(func.count(Complaint.id)))
    bad_lat = _post(http, live.key, lat="north")
    assert bad_lat.status_code == 400
    assert bad_lat.json() == [{"code": 400, "description": "lat must be a number: 'north'"}]
    out_of_range = _post(http, live.key, lat="123.4")
    assert out_of_range.status_code == 400 and out_of_range.json()[0]["code"] == 400
    unknown = _post(http, live.key, service_code="potholes")
    assert unknown.status_code == 404 and unknown.json()[0]["code"] == 404
    no_key = _post(http, "")
    assert no_key.status_code == 403 and no_key.json()[0]["code"] == 403
    assert _post(http, live.revoked_key).status_code == 403
    assert _post(http, live.key, lat="", long="").status_code == 400  # no location
    assert _post(http, live.key, email="not-an-email").status_code == 400
    xml_err = http.post("/open311/v2/requests.xml", data={"api_key": live.key, "lat": "x"})
    assert xml_err.status_code in (400, 404)
    assert ET.fromstring(xml_err.content).tag == "errors"
    assert http.get("/open311/v2/requests/424242.json").status_code == 404
    assert (
        http.get("/open311/v2/requests.json", params={"start_date": "yesterday"}).json()[0]["code"]
        == 400
    )
    assert http.get("/open311/v2/services.csv").json()[0]["code"] == 400
    assert http.get("/open311/v2/requests.json", params={"status": "pending"}).status_code == 400
    with live.factory() as s:  # nothing half-written by the refused posts
        assert s.scalar(select(func.count(Complaint.id))) == before


def test_discovery(http: httpx.Client) -> None:
    d = http.get("/open311/v2/discovery.json").json()
    assert d["endpoints"][0]["specification"].endswith("GeoReport_v2")
