"""The router that skips what it cannot match (``dustgrid.routing``).

Routing is the first thing every request pays for; the skip must never change which route
answers. These tests check the index itself, that every router of the app uses it, and that
the answers a user sees (a page, a JSON read, 404, 405 with ``Allow``) are those FastAPI's
own matching gives.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from dustgrid.app import create_app
from dustgrid.routing import Router, literal_start


def test_literal_start_stops_at_the_first_parameter() -> None:
    assert literal_start("/api/v1/sites") == ("/api/v1/sites", True)
    assert literal_start("/api/v1/sites/{site_id}/history") == ("/api/v1/sites/", False)
    assert literal_start("/files/{path:path}") == ("/files/", False)


def _router() -> Router:
    r = Router(prefix="/api/v1/things")

    @r.get("")
    def listing() -> list[int]:
        return [1]

    @r.get("/{thing_id}")
    def one(thing_id: int) -> int:
        return thing_id

    return r


def test_could_match_only_paths_its_routes_start_with() -> None:
    r = _router()
    assert r.could_match("/api/v1/things")
    assert r.could_match("/api/v1/things/7")
    assert not r.could_match("/api/v1/thingsX")  # a route without parameters is exact
    assert not r.could_match("/cases/5")
    assert not r.could_match("/api/v1")


def test_a_route_added_later_is_indexed() -> None:
    r = _router()
    assert not r.could_match("/healthz")

    @r.get("/healthz-late", include_in_schema=False)
    def late() -> str:
        return "ok"

    assert r.could_match("/api/v1/things/healthz-late")


def test_a_router_with_a_mount_is_matched_the_usual_way(tmp_path: object) -> None:
    r = Router()
    r.routes.append(Mount("/files", app=StaticFiles(directory=str(tmp_path))))
    assert not r.indexable()
    assert r.could_match("/anything")


def test_nested_routers_are_indexed_through() -> None:
    outer, inner = Router(), _router()
    outer.include_router(inner)
    assert outer.indexable()
    assert outer.could_match("/api/v1/things/3")
    assert not outer.could_match("/sites/3")


def test_the_same_route_answers_with_and_without_the_index() -> None:
    """Two apps from one router: ours, and FastAPI's own router holding the same routes."""
    ours = FastAPI()
    ours.include_router(_router())
    with TestClient(ours) as c:
        assert c.get("/api/v1/things").json() == [1]
        assert c.get("/api/v1/things/7").json() == 7
        assert c.get("/api/v1/thingsX").status_code == 404
        wrong = c.post("/api/v1/things/7")
        assert wrong.status_code == 405  # a partial match still answers 405


def test_every_router_of_the_app_uses_the_index() -> None:
    """A router added as a plain ``APIRouter`` would make every later route slower again."""
    app = create_app()
    included = [r for r in app.router.routes if hasattr(r, "original_router")]
    assert len(included) > 40
    plain = [
        type(r.original_router).__name__  # type: ignore[attr-defined]
        for r in included
        if not (isinstance(r.original_router, Router) and r.original_router.indexable())  # type: ignore[attr-defined]
    ]
    assert plain == []
