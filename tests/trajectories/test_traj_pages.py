"""City Brain pages: the queue with each push's 24-hour clock, a suspect with its evidence
and the verdict forms for the district that decides, the heat map, places and trucks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.config import Settings, get_settings
from dustgrid.models import utcnow
from dustgrid.trajectories import service
from dustgrid.trajectories.models import SuspectSite
from tests.trajectories.loop_kit import DAY2, HEPING, SHENHE_OPEN, loading_fixes, store_fixes

Web = Callable[[str], TestClient]


@pytest.fixture
def pushed(app: Any, db: Session, settings: Settings, tmp_path: Path) -> Iterator[dict[str, int]]:
    cb = settings.model_copy(update={"var_dir": tmp_path})
    app.dependency_overrides[get_settings] = lambda: cb
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
        "/citybrain/places",
        data={
            "csrf_token": city.csrf,
            "name": "浑南消纳场",  # type: ignore[attr-defined]
            "kind": "disposal",
            "lat": "41.7",
            "lon": "123.5",
            "radius_m": "300",
        },
    )
    assert r.status_code == 303
    assert "浑南消纳场" in city.get("/citybrain/places").text
    assert city.get("/citybrain/trucks").status_code == 200
    assert web_as("con_alpha").get("/citybrain").status_code == 403
    assert web_as("off_hp1").get("/citybrain").status_code == 200
