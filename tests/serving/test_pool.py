"""The database pool follows the request threads and refuses quickly when exhausted."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from dustgrid.config import Settings
from dustgrid.db import PoolLimits, get_session, make_engine, pool_limits, serve


def test_pool_size_follows_the_request_threads() -> None:
    s = Settings(web_threads=9, db_pool_extra=3, db_pool_timeout_s=1.5)
    assert pool_limits(s) == PoolLimits(size=12, timeout_s=1.5)


def test_an_exhausted_pool_refuses_within_its_timeout(db_url: str) -> None:
    engine = make_engine(db_url, pool=PoolLimits(size=1, timeout_s=0.3))
    try:
        held = engine.connect()
        started = time.monotonic()
        with pytest.raises(PoolTimeout):
            engine.connect()
        assert time.monotonic() - started < 2
        held.close()
        with engine.connect():  # and recovers once the connection is back
            pass
    finally:
        engine.dispose()


@pytest.mark.parametrize(("lang", "words"), [("zh-CN", "服务器繁忙"), ("en", "busy")])
def test_a_request_without_a_connection_gets_503_in_its_language(
    app: Any, anon: Any, token_for: Any, db_url: str, lang: str, words: str
) -> None:
    bearer = {"Authorization": f"Bearer {token_for('admin')}", "Accept-Language": lang}
    engine = make_engine(db_url, pool=PoolLimits(size=1, timeout_s=0.2))
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    def _session() -> Iterator[Session]:
        yield from serve(factory())

    held = engine.connect()
    previous = app.dependency_overrides[get_session]
    app.dependency_overrides[get_session] = _session
    try:
        r = anon.get("/api/v1/sites", headers=bearer)
    finally:
        app.dependency_overrides[get_session] = previous
        held.close()
        engine.dispose()
    assert r.status_code == 503, r.text
    assert int(r.headers["Retry-After"]) >= 1 and words in r.json()["detail"]
