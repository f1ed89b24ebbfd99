"""Side effects after commit: the outbox, the webhook channel against a local HTTP server,
retries with backoff, and the worker tick."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.cases import feedback, service
from dustgrid.cases.states import CaseSource
from dustgrid.config import Settings
from dustgrid.jobs.models import JobStatus, OutboxJob
from dustgrid.jobs.runner import JobContext, run_due_jobs
from dustgrid.jobs.scheduler import tick
from tests.cases.case_kit import MONDAY, report
from tests.fixtures.city import City


class Hook:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.fail = 0  # answer 500 this many times first


@pytest.fixture
def hook() -> Iterator[tuple[Hook, str]]:
    state = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.fail > 0:
                state.fail -= 1
                self.send_response(500)
                self.end_headers()
                return
            state.bodies.append(json.loads(body))
            state.headers.append({k.lower(): v for k, v in self.headers.items()})
            state.headers[-1]["_raw"] = body.decode()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


@pytest.fixture
def factory(db: Session) -> Callable[[], Session]:
    """Sessions on the test's connection: their commits are savepoints rolled back later."""
    conn = db.connection()
    return lambda: Session(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


def jobs(db: Session, kind: str = "notify.channel") -> list[OutboxJob]:
    return list(db.scalars(select(OutboxJob).where(OutboxJob.kind == kind).order_by(OutboxJob.id)))


def test_webhook_gets_the_report_after_commit_signed(
    db: Session,
    city: City,
    settings: Settings,
    hook: tuple[Hook, str],
    factory: Callable[[], Session],
) -> None:
    state, url = hook
    on = settings.model_copy(update={"notify_webhook_url": url, "notify_webhook_secret": "k"})
    case = report(db, city, on)
    [job] = jobs(db)
    assert job.status == JobStatus.pending and state.bodies == []  # nothing sent yet
    db.commit()
    result = run_due_jobs(factory, MONDAY, settings=on)
    assert (result.done, result.retried, result.dead) == (1, 0, 0)
    [body] = state.bodies
    assert body["kind"] == "case.reported" and body["case_id"] == case.id
    assert set(body["recipient_ids"]) >= {city.users["admin"], city.users["d_heping"]}
    sig = hmac.new(b"k", state.headers[0]["_raw"].encode(), hashlib.sha256).hexdigest()
    assert state.headers[0]["x-dustgrid-signature"] == f"sha256={sig}"
    db.expire_all()
    assert jobs(db)[0].status == JobStatus.done
    assert run_due_jobs(factory, MONDAY, settings=on).done == 0  # not sent twice


def test_a_rolled_back_change_sends_nothing(
    db: Session,
    city: City,
    settings: Settings,
    hook: tuple[Hook, str],
    factory: Callable[[], Session],
) -> None:
    state, url = hook
    on = settings.model_copy(update={"notify_webhook_url": url})
    sp = db.begin_nested()
    report(db, city, on)
    sp.rollback()
    assert jobs(db) == []
    assert run_due_jobs(factory, MONDAY, settings=on).done == 0
    assert state.bodies == []


def test_failures_retry_with_backoff_then_die(
    db: Session,
    city: City,
    settings: Settings,
    hook: tuple[Hook, str],
    factory: Callable[[], Session],
) -> None:
    state, url = hook
    on = settings.model_copy(
        update={"notify_webhook_url": url, "jobs_backoff_s": 10, "jobs_max_attempts": 3}
    )
    state.fail = 1
    report(db, city, on)
    db.commit()
    first = run_due_jobs(factory, MONDAY, settings=on)
    assert first.retried == 1 and state.bodies == []
    db.expire_all()
    [job] = jobs(db)
    assert job.attempts == 1 and job.run_after == MONDAY + timedelta(seconds=10)
    assert "500" in job.last_error
    assert run_due_jobs(factory, MONDAY + timedelta(seconds=5), settings=on).done == 0
    assert run_due_jobs(factory, MONDAY + timedelta(seconds=10), settings=on).done == 1
    assert len(state.bodies) == 1

    dead_url = on.model_copy(
        update={"notify_webhook_url": "http://127.0.0.1:9/nothing", "notify_webhook_timeout_s": 0.5}
    )
    report(db, city, dead_url)
    db.commit()
    t = MONDAY
    outcomes = []
    for _ in range(3):
        r = run_due_jobs(factory, t, settings=dead_url)
        outcomes.append((r.retried, r.dead))
        t += timedelta(minutes=10)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    db.expire_all()
    assert jobs(db)[-1].status == JobStatus.dead


def test_no_channel_no_job(db: Session, city: City, settings: Settings) -> None:
    report(db, city, settings)  # the webhook is off by default
    assert jobs(db) == []


def test_source_feedback_reaches_the_registered_sender(
    db: Session, city: City, settings: Settings, factory: Callable[[], Session]
) -> None:
    got: list[dict[str, Any]] = []

    def sender(payload: dict[str, Any], ctx: JobContext) -> None:
        got.append(payload)

    feedback.register_source_feedback("city_brain", sender)
    try:
        case, _ = service.open_case(
            db,
            actor=None,
            source=CaseSource.city_brain,
            site_id=city.sites["HP-002"],
            location=None,
            category="dust_exceedance",
            description="推送",
            severity="low",
            external_ref="CB-77",
            now=MONDAY,
            settings=settings,
        )
        db.commit()
        report_ = tick(factory, MONDAY, settings=settings)
        assert report_.jobs.done == 1
        assert got[0]["external_ref"] == "CB-77" and got[0]["state"] == "reported"
    finally:
        feedback.SENDERS.pop("city_brain", None)
