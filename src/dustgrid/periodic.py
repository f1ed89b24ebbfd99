"""Periodic work that domains register and the worker (``jobs.scheduler``) runs.

A domain decorates its sweep (``session, now, settings -> report``, run every tick in one
transaction) or its chore (``session, settings -> count``, run about once an hour) here, so
the worker needs no domain's name. The entry points load the registering modules
(``dustgrid.wiring``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from dustgrid.config import Settings

# How often a chore runs at most (seconds): the attachment clean-up needs no more.
CHORE_INTERVAL_S = 3600.0

Sweep = Callable[[Session, datetime, Settings], object]
Chore = Callable[[Session, Settings], int]
S = TypeVar("S", bound=Sweep)
C = TypeVar("C", bound=Chore)

SWEEPS: dict[str, Sweep] = {}
CHORES: dict[str, Chore] = {}


def every_tick(name: str) -> Callable[[S], S]:
    """Decorator: run ``fn(session, now, settings)`` on every worker tick."""

    def _wrap(fn: S) -> S:
        SWEEPS[name] = fn
        return fn

    return _wrap


def chore(name: str) -> Callable[[C], C]:
    """Decorator: run ``fn(session, settings)`` at most every ``CHORE_INTERVAL_S``."""

    def _wrap(fn: C) -> C:
        CHORES[name] = fn
        return fn

    return _wrap
