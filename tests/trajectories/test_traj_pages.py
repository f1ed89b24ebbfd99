"""City Brain pages: the queue with each push's 24-hour clock, a suspect with its evidence
and the verdict forms for the district that decides, the heat map, places and trucks."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.config import Settings
from dustgrid.identity.deps import app_settings
from dustgrid.models import utcnow
from dustgrid.trajectories import service
from dustgrid.trajectories.models import KnownPlace, SuspectSite, Truck
from tests.trajectories.loop_kit import DAY2, HEPING, SHENHE_OPEN, loading_fixes, store_fixes

Web = Callable[[str], TestClient]


@pytest.fixture
def pushed(app: Any, db: Session, settings: Settings, tmp_path: Path) -> Iterator[dict[str, int]]:
    cb = settings.model_copy(update={"var_dir": tmp_path})
    app.dependency_overrides[app_settings] = lambda: cb
    store_fixes(cb, loading_fixes([HEPING, SHENHE_OPEN]))
    service.run_day(db, DAY2, settings=cb, now=utcnow())
    rows = {s.district_id: s.id for s in db.scalars(select(SuspectSite))}
    yield {"heping": min(rows.values()), "all": len(rows)}  # type: ignore[dict-item]


def test_queue_and_suspect_pages_in_both_languages(web_as: Web, pushed: dict[str, int]) -> None:
    city = web_as("admin")
    page = city.get("/citybrain")
    assert page.status_code == 200
    assert page.text.count("data-suspect-id=") == 2
    assert "剩余 23 小时" in page.text  # the 24-hour clock
    queue = page.text.split('data-testid="cb-queue"', 1)[1].split("</table>", 1)[0]
    assert queue.count('data-testid="cb-queue-clock"') == 2  # each district's next deadline
    assert 'data-district="和平区"' in queue and "剩余 23 小时" in queue
    district = web_as("d_heping")
    mine = district.get("/citybrain")
    assert mine.text.count("data-suspect-id=") == 1
    sid = mine.text.split('data-suspect-id="', 1)[1].split('"', 1)[0]
    detail = district.get(f"/citybrain/suspects/{sid}")
    assert detail.status_code == 200
    assert 'data-testid="cb-decide"' in detail.text and "P" in detail.text
    assert 'data-testid="cb-decide"' not in city.get(f"/citybrain/suspects/{sid}").text
    r = district.post(
        f"/citybrain/suspects/{sid}/dismiss",
        data={"csrf_token": district.csrf, "reason": "depot", "text": ""},
    )  # type: ignore[attr-defined]
    assert r.status_code == 303
    after = district.get(f"/citybrain/suspects/{sid}")
    assert "已排除" in after.text and 'data-testid="cb-decide"' not in after.text
    district.cookies.set("locale", "en")
    en = district.get("/citybrain", headers={"Accept-Language": "en"})
    assert en.status_code == 200


def test_heat_places_and_trucks_pages(web_as: Web, pushed: dict[str, int]) -> None:
    city = web_as("admin")
    heat = city.get("/citybrain/heat")
    assert heat.status_code == 200 and "共 8 次停留" in heat.text
    assert city.get("/citybrain/heat?day=not-a-day").status_code == 200
    assert city.get("/citybrain/places").status_code == 200
    r = city.post(
        "/citybrain/places/new",
        data={
            "csrf_token": city.csrf,
            "name": "浑南消纳场",  # type: ignore[attr-defined]
            "kind": "disposal",
            "lat": "41.7",
            "lon": "123.5",
            "radius_m": "300",
            "shape": "circle",
        },
    )
    assert r.status_code == 303
    assert "浑南消纳场" in city.get("/citybrain/places").text
    assert city.get("/citybrain/trucks").status_code == 200
    assert web_as("con_alpha").get("/citybrain").status_code == 403
    assert web_as("off_hp1").get("/citybrain").status_code == 200


def _audit(db: Session, entity: str, entity_id: int) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(
        AuditEntry.entity_type == entity, AuditEntry.entity_id == entity_id
    )
    return list(db.scalars(stmt.order_by(AuditEntry.id)))


def test_register_and_edit_a_truck_in_the_pages(web_as: Web, db: Session) -> None:
    city = web_as("admin")
    listing = city.get("/citybrain/trucks")
    assert 'href="/citybrain/trucks/new"' in listing.text
    form = city.get("/citybrain/trucks/new")
    assert form.status_code == 200 and 'name="terminal_id"' in form.text
    r = city.post(
        "/citybrain/trucks/new",
        data={
            "csrf_token": city.csrf,  # type: ignore[attr-defined]
            "plate": "辽a 12345",
            "company": "沈运渣土",
            "terminal_id": "T-100",
            "active": "on",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/citybrain/trucks"
    truck = db.scalar(select(Truck).where(Truck.plate == "辽A12345"))
    assert truck is not None and truck.active and truck.terminal_id == "T-100"
    page = city.get("/citybrain/trucks").text
    assert "已保存车辆" in page and "辽A12345" in page and "在用" in page
    assert f'href="/citybrain/trucks/{truck.id}/edit"' in page
    edit = city.get(f"/citybrain/trucks/{truck.id}/edit")
    assert 'value="辽A12345"' in edit.text and "checked" in edit.text
    # deactivate and move the terminal to a new company (no "active" box sent: unticked)
    r = city.post(
        f"/citybrain/trucks/{truck.id}/edit",
        data={
            "csrf_token": city.csrf,  # type: ignore[attr-defined]
            "plate": "辽A12345",
            "company": "浑南运输",
            "terminal_id": "T-101",
        },
    )
    assert r.status_code == 303
    db.expire_all()
    truck = db.get(Truck, truck.id)
    assert truck is not None and not truck.active
    assert truck.company == "浑南运输" and truck.terminal_id == "T-101"
    assert "已停用" in city.get("/citybrain/trucks").text
    entries = _audit(db, "traj_truck", truck.id)
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].changes["active"] == [True, False]
    assert entries[1].changes["terminal_id"] == ["T-100", "T-101"]


def test_a_truck_refused_says_why_beside_the_field(web_as: Web, db: Session) -> None:
    city = web_as("admin")
    csrf = city.csrf  # type: ignore[attr-defined]
    for plate, terminal in (("辽A11111", "T-1"), ("辽A22222", "T-2")):
        r = city.post(
            "/citybrain/trucks/new",
            data={"csrf_token": csrf, "plate": plate, "terminal_id": terminal, "active": "on"},
        )
        assert r.status_code == 303
    taken = city.post(
        "/citybrain/trucks/new",
        data={"csrf_token": csrf, "plate": "辽A11111", "terminal_id": "T-9", "active": "on"},
    )
    assert taken.status_code == 422
    assert 'data-testid="error-plate"' in taken.text and "车牌 辽A11111 已登记" in taken.text
    assert 'aria-invalid="true" aria-describedby="e-plate"' in taken.text
    assert 'value="T-9"' in taken.text  # what was typed stays
    second = db.scalar(select(Truck).where(Truck.plate == "辽A22222"))
    assert second is not None
    moved = city.post(
        f"/citybrain/trucks/{second.id}/edit",
        data={"csrf_token": csrf, "plate": "辽A22222", "terminal_id": "T-1", "active": "on"},
    )
    assert moved.status_code == 422
    assert 'data-testid="error-terminal_id"' in moved.text
    assert "终端号 T-1 已登记在车辆 辽A11111 上" in moved.text
    empty = city.post(
        "/citybrain/trucks/new", data={"csrf_token": csrf, "plate": "", "terminal_id": ""}
    )
    assert empty.status_code == 422
    assert 'data-testid="error-plate"' in empty.text
    assert 'data-testid="error-terminal_id"' in empty.text
    assert 'data-testid="error-company"' not in empty.text
    db.expire_all()
    assert db.get(Truck, second.id).terminal_id == "T-2"  # type: ignore[union-attr]
    assert len(list(db.scalars(select(Truck)))) == 2


@pytest.mark.parametrize("username", ["d_heping", "st_heping", "off_hp1"])
def test_only_who_manages_the_fleet_adds_or_edits_trucks(web_as: Web, username: str) -> None:
    c = web_as(username)
    listing = c.get("/citybrain/trucks")
    assert listing.status_code == 200
    assert "/citybrain/trucks/new" not in listing.text and "/edit" not in listing.text
    assert c.get("/citybrain/trucks/new").status_code == 403
    r = c.post(
        "/citybrain/trucks/new",
        data={"csrf_token": c.csrf, "plate": "辽A99999", "terminal_id": "X"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 403
    assert c.get("/citybrain/trucks/1/edit").status_code == 403


SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [[123.50, 41.70], [123.51, 41.70], [123.51, 41.71], [123.50, 41.71], [123.50, 41.70]]
    ],
}


def test_create_a_place_then_draw_its_boundary(web_as: Web, db: Session) -> None:
    city = web_as("admin")
    csrf = city.csrf  # type: ignore[attr-defined]
    form = city.get("/citybrain/places/new")
    assert form.status_code == 200
    assert 'id="place-map"' in form.text and 'name="boundary"' in form.text
    assert "/static/js/place_map.js" in form.text
    r = city.post(
        "/citybrain/places/new",
        data={"csrf_token": csrf, "name": "浑南车场", "kind": "depot", "shape": "circle",
              "lat": "41.705", "lon": "123.505", "radius_m": "120", "note": ""},
    )  # fmt: skip
    assert r.status_code == 303
    place = db.scalar(select(KnownPlace).where(KnownPlace.name == "浑南车场"))
    assert place is not None and place.boundary is None and place.radius_m == 120.0
    listing = city.get("/citybrain/places").text
    assert "半径 120 米" in listing and f"/citybrain/places/{place.id}/edit" in listing
    edit = city.get(f"/citybrain/places/{place.id}/edit")
    assert 'value="41.705000"' in edit.text
    r = city.post(
        f"/citybrain/places/{place.id}/edit",
        data={"csrf_token": csrf, "name": "浑南车场", "kind": "depot", "shape": "boundary",
              "boundary": json.dumps(SQUARE), "lat": "41.705", "lon": "123.505",
              "radius_m": "120", "note": "东门进出"},
    )  # fmt: skip
    assert r.status_code == 303, r.text
    db.expire_all()
    place = db.get(KnownPlace, place.id)
    assert place is not None and place.boundary is not None
    assert place.boundary["coordinates"][0][1] == [123.51, 41.70]
    assert abs(place.lat - 41.705) < 1e-3 and abs(place.lon - 123.505) < 1e-3
    assert 680 < place.radius_m < 710  # half the diagonal of an 830 m × 1.1 km square
    assert place.note == "东门进出"
    assert "绘制的边界" in city.get("/citybrain/places").text
    again = city.get(f"/citybrain/places/{place.id}/edit").text
    assert 'data-testid="shape-boundary" checked' in again and "123.51" in again
    entries = _audit(db, "traj_known_place", place.id)
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].changes["boundary"][0] is None
    assert entries[1].changes["boundary"][1]["type"] == "Polygon"


def test_a_place_refused_says_why_beside_the_field(web_as: Web, db: Session) -> None:
    city = web_as("admin")
    csrf = city.csrf  # type: ignore[attr-defined]
    base = {"csrf_token": csrf, "name": "车场", "kind": "depot", "note": ""}
    undrawn = city.post("/citybrain/places/new", data=base | {"shape": "boundary"})
    assert undrawn.status_code == 422
    assert 'data-testid="error-boundary"' in undrawn.text and "至少点选 3 个顶点" in undrawn.text
    corners = [[123.50, 41.70], [123.51, 41.71], [123.51, 41.70], [123.50, 41.71], [123.50, 41.70]]
    bowtie = {"type": "Polygon", "coordinates": [corners]}
    crossed = city.post(
        "/citybrain/places/new",
        data=base | {"shape": "boundary", "boundary": json.dumps(bowtie)},
    )
    assert crossed.status_code == 422 and "边界的边相互交叉" in crossed.text
    assert "123.51" in crossed.text  # the drawing is kept to be mended
    no_centre = city.post("/citybrain/places/new", data=base | {"shape": "circle", "lon": "123.5"})
    assert no_centre.status_code == 422
    assert 'data-testid="error-lat"' in no_centre.text and "请填写中心点" in no_centre.text
    bad = city.post(
        "/citybrain/places/new",
        data=base | {"shape": "circle", "lat": "95", "lon": "123.5", "radius_m": "0", "name": ""},
    )
    assert bad.status_code == 422
    for field in ("name", "lat", "radius_m"):
        assert f'data-testid="error-{field}"' in bad.text
    assert 'data-testid="error-lon"' not in bad.text
    assert db.scalar(select(KnownPlace).where(KnownPlace.name == "车场")) is None


@pytest.mark.parametrize("username", ["d_heping", "off_hp1"])
def test_only_who_manages_the_fleet_edits_places(web_as: Web, username: str) -> None:
    c = web_as(username)
    listing = c.get("/citybrain/places")
    assert listing.status_code == 200 and "/citybrain/places/new" not in listing.text
    assert c.get("/citybrain/places/new").status_code == 403
    assert c.get("/citybrain/places/1/edit").status_code == 403
    r = c.post(
        "/citybrain/places/new",
        data={"csrf_token": c.csrf, "name": "x", "kind": "depot", "lat": "41.7", "lon": "123.5"},  # type: ignore[attr-defined]
    )
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("page", "rows", "bad"),
    [
        (
            "trucks",
            [["plate", "company", "terminal_id"], ["辽A30001", "甲运输", "T-301"],
             ["辽A30002", "乙运输", "T-301"]],
            "第 3 行（terminal_id）",
        ),
        (
            "places",
            [["name", "kind", "lat", "lon", "radius_m", "note"],
             ["北郊消纳场", "disposal", 41.9, 123.4, 300, ""],
             ["无名", "volcano", 41.9, 123.4, 1, ""]],
            "第 3 行（kind）",
        ),
    ],
)  # fmt: skip
def test_excel_import_from_the_page_keeps_good_rows_and_names_bad_ones(
    web_as: Web, page: str, rows: list[list[Any]], bad: str
) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    for row in rows:
        wb.active.append(row)  # type: ignore[union-attr]
    book = io.BytesIO()
    wb.save(book)
    city = web_as("admin")
    r = city.post(
        f"/citybrain/{page}/import",
        data={"csrf_token": city.csrf},  # type: ignore[attr-defined]
        files={"file": ("book.xlsx", book.getvalue())},
    )
    assert r.status_code == 303 and r.headers["location"] == f"/citybrain/{page}"
    shown = city.get(f"/citybrain/{page}").text
    assert "导入完成" in shown and "导入 1 行，1 行有误" in shown and bad in shown
    assert rows[1][0] in shown
    again = city.get(f"/citybrain/{page}").text
    assert "导入 1 行" not in again  # said once
    refused = city.post(
        f"/citybrain/{page}/import",
        data={"csrf_token": city.csrf},  # type: ignore[attr-defined]
        files={"file": ("book.xlsx", b"not a workbook")},
    )
    assert refused.status_code == 303
    assert "请上传 .xlsx 表格" in city.get(f"/citybrain/{page}").text
