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
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from dustgrid import migrate
from dustgrid.app import create_app
from dustgrid.auth.models import User
from dustgrid.auth.service import load_principal
from dustgrid.cases import service as cases
from dustgrid.cases.models import Case
from dustgrid.cases.states import CaseSource
from dustgrid.cases.workflow import MoveInput
from dustgrid.config import Settings
from dustgrid.db import get_session, make_engine
from dustgrid.i18n import translate
from dustgrid.identity.deps import app_settings
from dustgrid.intake import hotline
from dustgrid.intake.models import Channel, Complaint, ComplaintStatus
from dustgrid.intake.open311.service import issue_key
from dustgrid.intake.open311.spec import w3c as spec_w3c
from dustgrid.intake.schemas import ComplaintIn, LinkIn
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
    app.dependency_overrides[app_settings] = lambda: settings
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


# --------------------------------------------------------------------------- conformance
# What georeport 0.3.1 / three 0.8.0 clients ran into (issue 9).


def _complaint(live: Live, rid: str) -> Complaint:
    with live.factory() as s:
        c = s.get(Complaint, int(rid))
        assert c is not None
        return c


def test_description_is_optional(http: httpx.Client, live: Live) -> None:
    r = http.post("/open311/v2/requests.json", data={
        "api_key": live.key, "service_code": "bare_soil_cover", "lat": "41.7915",
        "long": "123.4016"})  # fmt: skip
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    req = http.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert req["description"] == "" and req["service_code"] == "bare_soil_cover"
    assert _complaint(live, rid).district_id == live.city.districts["heping"]
    with pytest.raises(ValidationError):  # the desk's own complaints still need the content
        ComplaintIn(channel=Channel.open311, place_text="中山路", content="")


def test_address_string_naming_a_ledger_site_is_placed_there(
    http: httpx.Client, live: Live
) -> None:
    r = _post(http, live.key, lat="", long="", address_string="和平区中山路住宅项目门口")
    assert r.status_code == 201, r.text
    assert "台账工地" in r.json()[0]["service_notice"]
    rid = r.json()[0]["service_request_id"]
    req = http.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert (req["lat"], req["long"]) == (41.791, 123.401)  # HP-001
    assert req["address"] == "和平区中山路住宅项目门口"
    assert _complaint(live, rid).district_id == live.city.districts["heping"]


def test_address_string_naming_only_a_district_goes_to_that_district(
    http: httpx.Client, live: Live
) -> None:
    r = _post(http, live.key, lat="", long="", address_string="沈河区北二马路与青年大街交叉口")
    assert r.status_code == 201, r.text
    c = _complaint(live, r.json()[0]["service_request_id"])
    assert c.district_id == live.city.districts["shenhe"] and c.lat is None


def test_address_string_without_a_match_is_kept_for_the_desk(
    http: httpx.Client, live: Live
) -> None:
    r = _post(http, live.key, lat="", long="", address_string="学校后面的工地")
    assert r.status_code == 201, r.text
    en = http.post("/open311/v2/requests.json", headers={"Accept-Language": "en"}, data={
        "api_key": live.key, "service_code": "dust_complaint",
        "address_string": "behind the school"})  # fmt: skip
    assert en.status_code == 201 and "12319 desk will place it" in en.json()[0]["service_notice"]
    c = _complaint(live, r.json()[0]["service_request_id"])
    assert c.place_text == "学校后面的工地" and c.lat is None and c.district_id is None


def test_address_id_is_a_site_project_code(http: httpx.Client, live: Live) -> None:
    r = _post(http, live.key, lat="", long="", address_id="SH-001")
    assert r.status_code == 201, r.text
    rid = r.json()[0]["service_request_id"]
    req = http.get(f"/open311/v2/requests/{rid}.json").json()[0]
    assert (req["lat"], req["long"]) == (41.801, 123.461)
    assert "SH-001" in req["address"]
    assert _complaint(live, rid).district_id == live.city.districts["shenhe"]
    bad = _post(http, live.key, lat="", long="", address_id="NO-SUCH")
    assert bad.status_code == 400
    assert bad.json()[0]["code"] == 400 and "address_id not found" in bad.json()[0]["description"]


def test_a_point_outside_the_city_is_refused(http: httpx.Client, live: Live) -> None:
    paris = _post(http, live.key, lat="48.8566", long="2.3522")
    assert paris.status_code == 400
    (err,) = paris.json()
    assert err["code"] == 400 and "outside the city" in err["description"]
    xml = http.post("/open311/v2/requests.xml", data={
        "api_key": live.key, "service_code": "dust_complaint", "lat": "48.8566",
        "long": "2.3522"})  # fmt: skip
    assert xml.status_code == 400
    root = ET.fromstring(xml.content)
    assert root.tag == "errors" and "outside the city" in (root.findtext("error/description") or "")
    # just over the east edge of 和平区 (123.425), within the city-edge allowance: accepted
    edge = _post(http, live.key, lat="41.79", long="123.4265")
    assert edge.status_code == 201, edge.text
    c = _complaint(live, edge.json()[0]["service_request_id"])
    assert c.district_id == live.city.districts["heping"]


def test_get_token(http: httpx.Client, live: Live) -> None:
    rid = _post(http, live.key).json()[0]["service_request_id"]
    r = http.get(f"/open311/v2/tokens/{rid}.json")
    assert r.status_code == 200 and r.json() == [{"service_request_id": rid, "token": rid}]
    xml = ET.fromstring(http.get(f"/open311/v2/tokens/{rid}.xml").content)
    assert xml.findtext("request/service_request_id") == rid
    assert http.get(f"/open311/v2/tokens/{rid}").json()[0]["token"] == rid
    missing = http.get("/open311/v2/tokens/999999.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


def test_unknown_routes_answer_in_the_spec_error_format(http: httpx.Client) -> None:
    r = http.get("/open311/v2/nope.json")
    assert r.status_code == 404
    assert r.json() == [
        {"code": 404, "description": "no such Open311 resource: /open311/v2/nope.json"}
    ]
    x = http.get("/open311/v2/nope/deeper.xml")
    assert x.status_code == 404 and x.headers["content-type"].startswith("text/xml")
    assert ET.fromstring(x.content).findtext("error/code") == "404"
    wrong_method = http.delete("/open311/v2/services.json")
    assert wrong_method.status_code == 405
    assert wrong_method.json()[0]["code"] == 405 and "GET" in wrong_method.headers["allow"]
    # the rest of the API keeps FastAPI's format
    assert http.get("/api/v1/no-such-route").json() == {"detail": "Not Found"}


def test_requests_listing_keeps_to_the_spec_90_day_window(http: httpx.Client, live: Live) -> None:
    now = utcnow()
    with live.factory() as s:
        rows = {}
        for days in (10, 120, 200):
            c = Complaint(channel=Channel.open311, status=ComplaintStatus.received,
                          received_at=now - timedelta(days=days), content=f"{days} 天前的投诉",
                          category="hoarding", lat=41.79, lon=123.40)  # fmt: skip
            s.add(c)
            s.flush()
            rows[days] = str(c.id)
        s.commit()

    def ids(**params: str) -> set[str]:
        r = http.get("/open311/v2/requests.json", params={"service_code": "hoarding", **params})
        assert r.status_code == 200, r.text
        return {x["service_request_id"] for x in r.json()} & set(rows.values())

    assert ids() == {rows[10]}  # no dates: the last 90 days
    assert ids(end_date=spec_w3c(now)) == {rows[10]}  # a lone end: 90 days before it
    assert ids(end_date=spec_w3c(now - timedelta(days=100))) == {rows[120]}
    assert ids(start_date=spec_w3c(now - timedelta(days=210))) == {rows[200]}  # 90 days after
    span = http.get("/open311/v2/requests.json", params={
        "start_date": spec_w3c(now - timedelta(days=300)), "end_date": spec_w3c(now)})  # fmt: skip
    assert span.status_code == 400 and "90 days" in span.json()[0]["description"]
    # ids ignore the window (spec)
    old = http.get("/open311/v2/requests.json", params={"service_request_id": rows[200]})
    assert [x["service_request_id"] for x in old.json()] == [rows[200]]


def test_the_case_opened_from_a_request_records_source_open311(
    http: httpx.Client, live: Live
) -> None:
    rid = _post(http, live.key, service_code="hoarding").json()[0]["service_request_id"]
    phone_case = None
    with live.factory() as s:
        admin = load_principal(s, s.get(User, live.city.users["admin"]))  # type: ignore[arg-type]
        _c, case, new = hotline.link(s, admin, int(rid), LinkIn(site_id=live.city.sites["HP-002"]))
        assert new and case.source == CaseSource.open311
        assert case.description.startswith("【Open311 上报】")
        # a 12319 call about the same site and problem joins the Open311 case
        call = hotline.create(s, admin, ComplaintIn(place_text="南京街", content="围挡倒了",
                                                    category="hoarding"))  # fmt: skip
        _c2, phone_case, new2 = hotline.link(s, admin, call.id,
                                             LinkIn(site_id=live.city.sites["HP-002"]))  # fmt: skip
        assert not new2 and phone_case.id == case.id
        s.commit()
    for locale, label in (("zh-CN", "Open311 市民上报"), ("en", "Open311 citizen report")):
        assert translate("case_source.open311", locale) == label
