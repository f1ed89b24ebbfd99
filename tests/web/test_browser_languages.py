"""Every page a role reaches, in zh-CN and in English, says nothing internal.

A real browser logs in as several roles, follows the navigation plus a fixed list of detail
pages (a site, a sensor-raised case, its alert, a device) in both languages, and fails on
what a person should never read: a message key (a missing translation shows its key), raw
JSON, Chinese on an English page (beyond the city's own data: names of sites, people, units
and places) and English UI words on a Chinese page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Session

from dustgrid import model_registry  # noqa: F401  (every table, for the data strings)
from dustgrid.alerts.engine.profiles import BUILTIN_PROFILES
from dustgrid.alerts.service import raise_alert
from dustgrid.db import make_engine
from dustgrid.i18n import catalogue
from dustgrid.models import Base, utcnow
from tests.alerts.alert_kit import add_device
from tests.web.test_browser_ledger import login

pytestmark = pytest.mark.browser

ROLES = ("admin", "d_heping", "off_hp1", "con_alpha")
CJK = re.compile(r"[\u3400-\u9fff]+")
WORD = re.compile(r"[A-Za-z]{4,}")
#: Where a page's visible text comes from: the body minus scripts and anything marked as
#: being in the other language on purpose (the language switch says its own name).
VISIBLE_TEXT = """(lang) => {
  const body = document.body.cloneNode(true);
  body.querySelectorAll('script,style,template,noscript').forEach(e => e.remove());
  body.querySelectorAll('[lang]').forEach(e => { if (e.lang !== lang) e.remove(); });
  body.querySelectorAll('option').forEach(e => { e.textContent = ' ' + e.textContent + ' '; });
  document.documentElement.appendChild(body);
  const text = body.innerText;
  body.remove();
  return text;
}"""
#: Columns holding names people gave things (a user called "admin" is data, not interface).
NAME_COLUMNS = frozenset({"username", "title", "address", "mn", "uscc", "code"})
SKIP_LINKS = ("/logout", "/lang/", "/api/", "/static/", "/docs", "/redoc", "/open311/")


@dataclass(frozen=True)
class Seeded:
    site_id: int
    case_id: int
    alert_id: int
    device_id: int


@pytest.fixture(scope="module")
def seeded(live_server: Any) -> Seeded:
    """A sensor-raised case: a device at HP-001 and an exceedance alert with its evidence."""
    engine = make_engine(live_server.settings.database_url)
    profile = BUILTIN_PROFILES["liaoning-db21-2642-2016"]
    now = utcnow().replace(second=0, microsecond=0)
    windows = [
        {"start": (now - timedelta(hours=3 - i)).isoformat(),
         "end": (now - timedelta(hours=2 - i)).isoformat(),
         "value": 180.0 + 20 * i, "reference": 60.0, "reference_used": 60.0,
         "limit": 80.0, "excess": 40.0 + 20 * i, "held": False, "count": 12}
        for i in range(3)
    ]  # fmt: skip
    with Session(engine) as s:
        device = add_device(s, live_server.city, "88888888TEXTS1", site="HP-001")
        alert = raise_alert(
            s, kind="exceedance", rule_key=profile.id, rule_version=profile.version,
            started_at=now - timedelta(hours=3), now=now, severity="high",
            site_id=live_server.city.sites["HP-001"], device_id=device.id, metric="pm10",
            evidence={"rule": profile.describe(), "rule_version": profile.version,
                      "windows": windows, "held_windows": 0, "reference_stations": 2},
            peak=(220.0, 160.0, 80.0),
        )  # fmt: skip
        s.commit()
        assert alert.case_id is not None
        out = Seeded(live_server.city.sites["HP-001"], alert.case_id, alert.id, device.id)
    engine.dispose()
    return out


@pytest.fixture(scope="module")
def data_strings(live_server: Any, seeded: Seeded) -> list[str]:
    """Every Chinese text stored in the test city (names of sites, people, places, …) and
    every name, longest first: these are data, not untranslated interface."""
    engine = make_engine(live_server.settings.database_url)
    found: set[str] = set()
    with Session(engine) as s:
        for table in Base.metadata.sorted_tables:
            for col in table.columns:
                if isinstance(col.type, String | Text):
                    named = col.name in NAME_COLUMNS or col.name.endswith("name")
                    values = s.scalars(select(col).distinct())
                    found |= {v for v in values if v and (named or CJK.search(v))}
    engine.dispose()
    return sorted(found, key=len, reverse=True)


def _catalogue_words() -> tuple[set[str], re.Pattern[str]]:
    """English interface words (in the English catalogue only) and a message-key pattern
    whose first part is one of the catalogues' key prefixes (so e-mails and file names pass)."""
    en_words = {w.lower() for v in catalogue("en").values() for w in WORD.findall(v)}
    zh_words = {w.lower() for v in catalogue("zh-CN").values() for w in WORD.findall(v)}
    prefixes = sorted({k.split(".")[0] for k in catalogue("zh-CN")}, key=len, reverse=True)
    key = re.compile(rf"\b(?:{'|'.join(map(re.escape, prefixes))})(?:\.[a-z0-9_]+)+\b")
    return en_words - zh_words, key


def _paths(seeded: Seeded) -> list[str]:
    return [
        "/", "/overview", "/sites", f"/sites/{seeded.site_id}", "/map", "/cases",
        f"/cases/{seeded.case_id}", "/alerts", f"/alerts/{seeded.alert_id}", "/devices",
        f"/devices/{seeded.device_id}", "/notifications", "/no-such-page",
    ]  # fmt: skip


def _nav(page: Any, base: str) -> list[str]:
    hrefs = page.eval_on_selector_all(
        "header a[href], nav a[href]", "els => els.map(e => e.getAttribute('href'))"
    )
    return [h for h in hrefs if h.startswith("/") and not h.startswith(SKIP_LINKS)]


def problems(text: str, locale: str, data: list[str]) -> list[str]:
    """What a person should not read on a page in ``locale``."""
    en_only, key = _catalogue_words()
    out = [f"message key {m.group(0)!r}" for m in key.finditer(text)]
    out += [f"raw JSON near {text[max(0, i - 20) : i + 40]!r}" for i in _json_at(text)]
    if locale == "en":
        rest = text
        for value in data:
            rest = rest.replace(value, " ")
        out += [f"Chinese {m.group(0)!r}" for m in CJK.finditer(rest)]
    else:
        rest = text
        for value in data:
            rest = rest.replace(value, " ")
        out += [f"English {w!r}" for w in WORD.findall(rest) if w.lower() in en_only]
    return out


def _json_at(text: str) -> list[int]:
    return [m.start() for m in re.finditer(r'\{"|\[\{', text)]


def _visit(page: Any, base: str, path: str, locale: str, data: list[str]) -> list[str]:
    response = page.goto(base + path)
    if response is None or response.headers.get("content-type", "").split(";")[0] != "text/html":
        return []
    page.wait_for_load_state("networkidle")
    text = page.evaluate(VISIBLE_TEXT, locale)
    return [f"{path} [{locale}]: {p}" for p in problems(text, locale, data)]


@pytest.fixture
def context_for(browser: Any) -> Iterator[Any]:
    contexts: list[Any] = []

    def make(locale: str) -> Any:
        ctx = browser.new_context(locale=locale, viewport={"width": 1280, "height": 800})
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.mark.parametrize("username", ROLES)
def test_every_page_in_both_languages(
    context_for: Any, live_server: Any, seeded: Seeded, data_strings: list[str], username: str
) -> None:
    base = live_server.url
    found: list[str] = []
    for locale in ("zh-CN", "en"):
        page = context_for(locale).new_page()
        login(page, base, username)
        page.context.add_cookies([{"name": "lang", "value": locale, "url": base}])
        page.goto(base + "/")
        paths = list(dict.fromkeys([*_nav(page, base), *_paths(seeded)]))
        for path in paths:
            found += _visit(page, base, path, locale, data_strings)
    assert not found, "\n".join(found)


def test_the_check_itself_catches_keys_json_and_the_other_language() -> None:
    data = ["和平区中山路住宅项目"]
    assert problems("案件 case_event.case.evidence", "zh-CN", data)
    assert problems('证据 {"alert_id": 5}', "zh-CN", data)
    assert problems("Case 和平区中山路住宅项目 状态", "en", data) == ["Chinese '状态'"]
    assert problems("案件 Exceedance", "zh-CN", data)
    assert not problems("Site 和平区中山路住宅项目 · admin@example.org · report.xlsx", "en", data)
