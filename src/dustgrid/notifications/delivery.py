"""Job handler: send one message through one outbound channel (retried by the runner)."""

from __future__ import annotations

from typing import Any

from dustgrid.jobs.runner import JobContext, register
from dustgrid.notifications.channels import CHANNELS
from dustgrid.notifications.service import CHANNEL_JOB


@register(CHANNEL_JOB)
def deliver(payload: dict[str, Any], ctx: JobContext) -> None:
    channel = CHANNELS.get(str(payload.get("channel")))
    if channel is None:
        raise LookupError(f"unknown channel {payload.get('channel')!r}")
    if not channel.enabled(ctx.settings):
        return  # switched off since the job was queued: nothing to send
    channel.send(dict(payload.get("message") or {}), ctx.settings)
