"""How many SQL statements a site page and a case page send (issue 16: CPU per request).

Every statement is a round trip and its rows' work; in the cases below the pages used to
send 14 (site) and 17 (case), most of them one look-up per name shown (N+1), and a case's
timeline one more per person in it (21 for the longer one). These
tests count them for a district admin on the test city and fail when a change sends more,
so that a regression shows here rather than in a load test. When a change legitimately
needs another statement, raise the constant and say why in its comment.

Counting: the statements the request's session sends, from the first (the session look-up)
to the last. The suite answers every request with one session in a rolled-back
transaction, so each request's commit shows up as SAVEPOINT / RELEASE: not counted (a
served request's BEGIN and COMMIT are not queries either). The session also keeps the rows
an earlier request read; it is emptied before the counted request, as a new request's
session is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from dustgrid.cases.states import CaseState
from dustgrid.config import Settings
from dustgrid.sites.models import Enterprise
from tests.cases.case_kit import case_in, mv
from tests.fixtures.city import City

#: The site page (with a change in its history): the session, account, unit and grids (1);
#: the site with its district, L2 unit, enterprises and grids (1); the grade history (1);
#: the devices behind the waste gate (1); the change history (1), the people it names with
#: their units (1) and the enterprises its changes name that the page has not read yet (1).
SITE_PAGE_STATEMENTS = 7
#: The site's JSON: the session (1) and the site in the caller's scope (1).
SITE_JSON_STATEMENTS = 2
#: The case page of a dispatched case for its unit's admin (who may accept it, naming a
#: responsible person, or transfer it): the session (1); the case (1); its site, unit and
#: responsible person's names (1); its events (1) and attachments (1); the units it may be
#: transferred to (1) and the site's own unit, the one proposed (1); the ladder proposal it
#: raised (1); the people of its timeline with their units (1); the people who may be named
#: responsible (1).
CASE_PAGE_STATEMENTS = 10
#: The case's JSON: the session (1), the case (1), its names (1), events (1), attachments (1).
CASE_JSON_STATEMENTS = 5


@contextmanager
def counted(db: Session) -> Iterator[list[str]]:
    """The statements sent on the test session's connection inside the block."""
    sent: list[str] = []

    def _count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if not statement.startswith(("SAVEPOINT", "RELEASE SAVEPOINT")):
            sent.append(" ".join(statement.split())[:200])

    conn = db.connection()
    db.expunge_all()  # a request's own session starts empty
    event.listen(conn, "before_cursor_execute", _count)
    try:
        yield sent
    finally:
        event.remove(conn, "before_cursor_execute", _count)


def test_site_page_and_json_statements(
    db: Session,
    city: City,
    web_as: Callable[[str], TestClient],
    api_as: Callable[[str], TestClient],
) -> None:
    site = city.sites["HP-001"]
    beta = db.scalar(select(Enterprise).where(Enterprise.id == city.enterprises["beta"]))
    assert beta is not None
    api = api_as("d_heping")
    change = {"contractor": {"name": beta.name, "uscc": beta.uscc}, "contact_name": "李四"}
    assert api.patch(f"/api/v1/sites/{site}", json=change).status_code == 200
    web = web_as("d_heping")
    with counted(db) as sent:
        page = web.get(f"/sites/{site}")
    assert page.status_code == 200
    # The page shows what it read: the new contractor, the grids and the change by name.
    assert beta.name in page.text and "E-HP" in page.text and "I-HP" in page.text
    assert "李四" in page.text and "沈阳阿尔法建设集团有限公司" in page.text  # the old contractor
    assert len(sent) <= SITE_PAGE_STATEMENTS, "\n".join(sent)
    with counted(db) as sent:
        assert api.get(f"/api/v1/sites/{site}").json()["contact_name"] == "李四"
    assert len(sent) <= SITE_JSON_STATEMENTS, "\n".join(sent)


def test_case_page_and_json_statements(
    db: Session,
    city: City,
    settings: Settings,
    web_as: Callable[[str], TestClient],
    api_as: Callable[[str], TestClient],
) -> None:
    case = case_in(db, city, settings, CaseState.dispatched)
    db.commit()
    web = web_as("d_heping")
    with counted(db) as sent:
        page = web.get(f"/cases/{case.id}")
    assert page.status_code == 200
    # The forms of both moves are there: the responsible people and the units to transfer to.
    assert 'data-testid="move-accept"' in page.text and "off_hp1（" in page.text
    assert "沈河区建设局" in page.text  # a unit it may be transferred to
    assert len(sent) <= CASE_PAGE_STATEMENTS, "\n".join(sent)
    with counted(db) as sent:
        assert web.get(f"/api/v1/cases/{case.id}").json()["state"] == "dispatched"
    assert len(sent) <= CASE_JSON_STATEMENTS, "\n".join(sent)


def test_a_longer_timeline_sends_no_more_statements(
    db: Session, city: City, settings: Settings, web_as: Callable[[str], TestClient]
) -> None:
    """Each person in the timeline used to cost a look-up (and another for their unit)."""
    case = case_in(db, city, settings, CaseState.dispatched)
    mv(db, city, settings, case, "accept", "d_heping", responsible_id=city.users["off_hp1"])
    mv(db, city, settings, case, "start_handling", "off_hp1")
    db.commit()
    web = web_as("d_heping")
    with counted(db) as sent:
        page = web.get(f"/cases/{case.id}")
    assert page.status_code == 200
    named = ("admin（沈阳市城乡建设局）", "d_heping（和平区建设局）", "off_hp1（和平区安全监督站）")
    assert all(who in page.text for who in named)  # each with their unit, as before
    assert len(sent) <= CASE_PAGE_STATEMENTS, "\n".join(sent)
