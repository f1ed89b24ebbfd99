"""Outbox job handlers, registered by the domains that enqueue each kind of job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.config import Settings


@dataclass(frozen=True, slots=True)
class JobContext:
    session_factory: Callable[[], Session]
    settings: Settings
    now: datetime


Handler = Callable[[dict[str, Any], JobContext], None]
HANDLERS: dict[str, Handler] = {}


def register(kind: str) -> Callable[[Handler], Handler]:
    """Decorator: ``@register("notify.channel") def deliver(payload, ctx): ...``."""

    def _wrap(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return _wrap
