"""Outbound channels: where a notification goes besides the in-app inbox.

A channel is anything with ``name``, ``enabled(settings)`` and ``send(message, settings)``
that raises on failure (the job runner retries with backoff). The webhook channel posts
JSON, signed with HMAC-SHA256 when a secret is set. Register others (SMS, a government
messaging app) with ``register_channel``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Protocol

import httpx

from dustgrid.config import Settings


class Channel(Protocol):
    name: str

    def enabled(self, settings: Settings) -> bool: ...

    def send(self, message: dict[str, Any], settings: Settings) -> None: ...


class DeliveryError(RuntimeError):
    """The channel could not deliver; the job is retried."""


class WebhookChannel:
    name = "webhook"

    def enabled(self, settings: Settings) -> bool:
        return bool(settings.notify_webhook_url)

    def send(self, message: dict[str, Any], settings: Settings) -> None:
        body = json.dumps(message, ensure_ascii=False, sort_keys=True).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if settings.notify_webhook_secret:
            sig = hmac.new(settings.notify_webhook_secret.encode(), body, hashlib.sha256)
            headers["X-DustGrid-Signature"] = f"sha256={sig.hexdigest()}"
        try:
            response = httpx.post(
                settings.notify_webhook_url,
                content=body,
                headers=headers,
                timeout=settings.notify_webhook_timeout_s,
            )
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook unreachable: {exc}") from exc
        if response.status_code >= 300:
            raise DeliveryError(f"webhook answered {response.status_code}")


CHANNELS: dict[str, Channel] = {"webhook": WebhookChannel()}


def register_channel(channel: Channel) -> None:
    CHANNELS[channel.name] = channel


def enabled_channels(settings: Settings) -> list[str]:
    return [name for name, ch in CHANNELS.items() if ch.enabled(settings)]
