"""``db.serve``: the one body of a request's session (the app and both test conftests)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from sqlalchemy.orm import Session

from dustgrid.db import serve
from dustgrid.errors import Invalid


class FakeSession:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def commit(self) -> None:
        self.calls.append("commit")

    def rollback(self) -> None:
        self.calls.append("rollback")

    def close(self) -> None:
        self.calls.append("close")


def _run(error: BaseException | None, *, close: bool = True) -> list[str]:
    fake = FakeSession()
    gen = serve(cast(Session, fake), close=close)
    assert next(gen) is cast(Any, fake)
    if error is None:
        with pytest.raises(StopIteration):
            next(gen)
    else:
        with pytest.raises(type(error)):
            gen.throw(error)
    return fake.calls


def test_a_good_request_commits_and_closes() -> None:
    assert _run(None) == ["commit", "close"]


def test_a_failed_request_rolls_back() -> None:
    assert _run(Invalid("bad")) == ["rollback", "close"]


def test_an_error_that_must_persist_commits_what_was_written() -> None:
    assert _run(Invalid("locked", persist=True)) == ["commit", "close"]


def test_a_borrowed_session_is_left_open() -> None:
    assert _run(None, close=False) == ["commit"]
    assert _run(RuntimeError("x"), close=False) == ["rollback"]
