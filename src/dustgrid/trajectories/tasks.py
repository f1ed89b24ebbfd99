"""The scheduled job and the verdict webhook (registered through ``dustgrid.wiring``).

- ``daily``: on every worker tick, once the local time is past ``run_hour``, detect
  yesterday (local day) and push its new suspects, once per day (``traj_run``).
- ``citybrain.verdict``: an outbox job per verdict; POSTs it to the City Brain's webhook
  (``citybrain_webhook_url``) signed with HMAC-SHA256 of the body
  (``X-DustGrid-Signature: sha256=<hex>``, key ``citybrain_webhook_secret``). A failure
  raises, so the outbox retries it with back-off; no URL means nothing to send.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.orm import Session

from dustgrid import periodic
from dustgrid.config import Settings, get_settings
from dustgrid.outbox.handlers import JobContext, register
from dustgrid.trajectories import repository as repo
from dustgrid.trajectories import service
from dustgrid.trajectories.loop_policy import DEFAULT_CITY_BRAIN_LOOP_POLICY

SIGNATURE_HEADER = "X-DustGrid-Signature"


@periodic.every_tick("trajectories")
def daily(session: Session, now: datetime, settings: Settings | None = None) -> int:
    """Suspects pushed this tick (0 when yesterday has already been run)."""
    settings = settings or get_settings()
    local = now.astimezone(ZoneInfo(settings.timezone))
    if local.hour < DEFAULT_CITY_BRAIN_LOOP_POLICY.run_hour:
        return 0
    report = service.run_once(session, service.yesterday(now, settings), settings=settings, now=now)
    return report.pushed if report is not None else 0


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@register(service.VERDICT_JOB)
def send_verdict(payload: dict[str, Any], ctx: JobContext) -> None:
    url = ctx.settings.citybrain_webhook_url
    if not url:
        return
    with ctx.session_factory() as session:
        row = repo.suspect_visible(session, None, int(payload["suspect_id"]))
        if row is None or row.verdict_at is None:
            return
        item = service.feedback_item(session, row)
    body = json.dumps(item.model_dump(mode="json"), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if ctx.settings.citybrain_webhook_secret:
        headers[SIGNATURE_HEADER] = sign(body, ctx.settings.citybrain_webhook_secret)
    response = httpx.post(
        url, content=body, headers=headers, timeout=DEFAULT_CITY_BRAIN_LOOP_POLICY.webhook_timeout_s
    )
    response.raise_for_status()
