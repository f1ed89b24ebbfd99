"""Periodic work that domains register; the worker (``jobs.scheduler``) and ``serve``'s
threads (``dustgrid.background``) run it without naming a domain.

- a sweep (``session, now, settings -> report``): every worker tick, one transaction;
- a chore (``session, settings -> count``): at most every ``CHORE_INTERVAL_S``;
- an in-process sweep (``session, now``): only the worker thread of ``serve``, before the
  tick, in its own transaction (the device offline sweep);
- a thread (``settings, stop, session_factory=``): a long-running loop ``serve`` starts,
  always or only with ``workers_in_process``.

The entry points load the registering modules (``dustgrid.wiring``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

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


InProcessSweep = Callable[[Session, datetime], object]
P = TypeVar("P", bound=InProcessSweep)
IN_PROCESS_SWEEPS: dict[str, InProcessSweep] = {}


def in_process_sweep(name: str) -> Callable[[P], P]:
    """Decorator: ``serve``'s worker thread runs ``fn(session, now)`` before each tick."""

    def _wrap(fn: P) -> P:
        IN_PROCESS_SWEEPS[name] = fn
        return fn

    return _wrap


class ThreadLoop(Protocol):
    def __call__(
        self,
        settings: Settings,
        stop: threading.Event,
        /,
        *,
        session_factory: Callable[[], Session],
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Thread:
    run: ThreadLoop
    with_workers_only: bool  # started only when ``workers_in_process`` is on


T = TypeVar("T", bound=ThreadLoop)
THREADS: dict[str, Thread] = {}


def thread(name: str, *, with_workers_only: bool) -> Callable[[T], T]:
    """Decorator: ``serve`` runs ``fn(settings, stop, session_factory=…)`` in a thread."""

    def _wrap(fn: T) -> T:
        THREADS[name] = Thread(fn, with_workers_only)
        return fn

    return _wrap
