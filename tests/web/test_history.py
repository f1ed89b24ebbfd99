"""A record's change history reads as people speak: labels, names, local time, no codes."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from dustgrid.audit.models import AuditEntry
from dustgrid.config import Settings
from dustgrid.web.history import readable_history
from tests.fixtures.city import City


def _edit_stage(c: TestClient, city: City) -> str:
    token = c.csrf  # type: ignore[attr-defined]
    form = {
        "csrf_token": token,
        "project_code": "HIST-1",
        "name": "变更记录工地",
        "kind": "housing",
        "district_id": str(city.districts["heping"]),
        "lat": "41.79",
        "lon": "123.40",
        "stage": "earthwork",
        "area_m2": "800",
        "investment_yuan": "0",
        "permit_status": "permitted",
        "built_up_area": "on",
    }
    r = c.post("/sites/new", data=form)
    assert r.status_code == 303, r.text
    url: str = r.headers["location"]
    assert c.post(f"{url}/edit", data={**form, "stage": "foundation"}).status_code == 303
    return url


def _history_text(html: str) -> str:
    section = html[html.index('data-testid="audit"') :]
    section = section[: section.index("</table>")]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))


def test_site_history_names_fields_values_and_people(
    web_as: Callable[[str], TestClient], city: City
) -> None:
    c = web_as("d_heping")
    url = _edit_stage(c, city)
    text = _history_text(c.get(url).text)
    assert "修改工地信息" in text and "新增工地" in text
    assert "施工阶段：土方阶段 → 基础阶段" in text
    assert "所属区：— → 和平区" in text
    assert "d_heping（和平区建设局）" in text
    for internal in ("stage", "earthwork", "district_id", "UTC", "None", "True"):
        assert internal not in text, internal

    c.cookies.set("lang", "en")
    english = _history_text(c.get(url).text)
    assert "Site details changed" in english
    assert "Stage：Earthwork → Foundation" in english
    assert "d_heping (和平区建设局)" in english
    assert "修改工地信息" not in english and "earthwork" not in english


def test_times_are_local_and_gone_rows_are_said(
    db: Session, city: City, settings: Settings
) -> None:
    at = datetime(2026, 12, 6, 23, 15, 45, tzinfo=UTC)
    entry = AuditEntry(
        at=at,
        actor_id=None,
        actor_name="system",
        action="update",
        entity_type="site",
        entity_id=1,
        changes={
            "enforcement_grid_id": [987654, city.grids[next(iter(city.grids))]],
            "monitors_required": [False, True],
            "boundary": [None, {"type": "Polygon", "coordinates": []}],
            "retired_at": [None, (at + timedelta(hours=1)).isoformat()],
        },
        summary="",
    )
    [row] = readable_history(db, [entry], locale="zh-CN", tz=ZoneInfo(settings.timezone))
    assert row.at == "2026-12-07 07:15"  # Beijing time, not 23:15 UTC
    assert row.who == "系统"
    labels = {c.label: (c.old, c.new) for c in row.changes}
    assert labels["执法监督网格"][0] == "已删除（#987654）"
    assert labels["须安装监测设备"] == ("否", "是")
    assert labels["工地边界"] == ("—", "已更新")
    assert labels["退出台账时间"] == ("—", "2026-12-07 08:15")
    # Another city's zone setting: the same moments on its clock.
    [there] = readable_history(db, [entry], locale="zh-CN", tz=ZoneInfo("America/New_York"))
    assert there.at == "2026-12-06 18:15"
    assert ("—", "2026-12-06 19:15") in {(c.old, c.new) for c in there.changes}
