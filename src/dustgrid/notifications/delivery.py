"""Job handler: send one message through one outbound channel (retried by the runner)."""

from __future__ import annotations

from typing import Any

from dustgrid.notifications.channels import CHANNELS
from dustgrid.outbox.handlers import JobContext, register

# The job kind is defined beside its handler: whatever can enqueue it (notifications.service
# imports this module) has the handler registered in the same process.
CHANNEL_JOB = "notify.channel"


@register(CHANNEL_JOB)
def deliver(payload: dict[str, Any], ctx: JobContext) -> None:
    channel = CHANNELS.get(str(payload.get("channel")))
    if channel is None:
        raise LookupError(f"unknown channel {payload.get('channel')!r}")
    if not channel.enabled(ctx.settings):
        return  # switched off since the job was queued: nothing to send
    channel.send(dict(payload.get("message") or {}), ctx.settings)
