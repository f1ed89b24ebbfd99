"""Admission control: a saturated web process answers at once with 503, never a long wait.

Why: a request runs in one of a fixed number of threads and needs one database connection.
Beyond what those threads serve, extra requests used to queue without bound (over a minute)
until the pool gave up after 30 s and answered 500. Here each process admits at most
``slots`` requests at once; a few more (``queue_max``) may wait, first come first served,
for at most ``queue_wait_s``; the rest are refused at once with ``503`` and ``Retry-After``
so that clients, proxies and load balancers back off or try another node.

Static files, ``/healthz`` and ``/favicon.ico`` pass without a slot: they need no database
and a health check must not fail because pages are busy.

Pure ASGI (no framework imports): the refusal body is built by a callable the app passes in,
so the text is in the caller's language.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
#: Builds the refusal: (scope, retry_after_s) → (status, headers, body).
Refusal = Callable[[Scope, int], tuple[int, list[tuple[bytes, bytes]], bytes]]

EXEMPT_PREFIXES = ("/static/",)
EXEMPT_PATHS = frozenset({"/healthz", "/favicon.ico"})


@dataclass(frozen=True)
class AdmissionPolicy:
    """How many requests one process serves at once, how many may wait and for how long."""

    slots: int
    queue_max: int
    queue_wait_s: float
    retry_after_s: int

    def __post_init__(self) -> None:
        if self.slots < 1 or self.queue_max < 0 or self.queue_wait_s < 0:
            raise ValueError("admission: slots ≥ 1, queue_max ≥ 0, queue_wait_s ≥ 0")


@dataclass
class AdmissionStats:
    """Counters since the process started (for logs and the load benchmark)."""

    admitted: int = 0
    queued: int = 0
    refused: int = 0
    longest_wait_s: float = 0.0


@dataclass
class _Gate:
    """Slots and a FIFO of waiters, on the event loop (no locks: one loop per process)."""

    policy: AdmissionPolicy
    busy: int = 0
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)
    stats: AdmissionStats = field(default_factory=AdmissionStats)

    async def enter(self) -> bool:
        """True once a slot is held; False when the caller must be refused."""
        if self.busy < self.policy.slots and not self.waiters:
            self.busy += 1
            self.stats.admitted += 1
            return True
        if len(self.waiters) >= self.policy.queue_max or self.policy.queue_wait_s == 0:
            self.stats.refused += 1
            return False
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        self.stats.queued += 1
        started = time.monotonic()
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.policy.queue_wait_s)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():  # handed a slot as time ran out
                return self._admitted_after(started)
            waiter.cancel()
            self._forget(waiter)
            self.stats.refused += 1
            return False
        except BaseException:  # the client went away while waiting
            if waiter.done() and not waiter.cancelled():
                self.leave()
            else:
                waiter.cancel()
                self._forget(waiter)
            raise
        return self._admitted_after(started)

    def _admitted_after(self, started: float) -> bool:
        self.stats.admitted += 1
        self.stats.longest_wait_s = max(self.stats.longest_wait_s, time.monotonic() - started)
        return True

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        with contextlib.suppress(ValueError):  # already handed over or forgotten
            self.waiters.remove(waiter)

    def leave(self) -> None:
        """Hand the slot to the oldest waiter still waiting, or free it."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: ``busy`` is unchanged
                return
        self.busy -= 1


class Admission:
    """ASGI middleware: at most ``policy.slots`` requests at once in this process."""

    def __init__(self, app: ASGIApp, policy: AdmissionPolicy, refusal: Refusal) -> None:
        self.app, self.refusal = app, refusal
        self.gate = _Gate(policy)

    @property
    def stats(self) -> AdmissionStats:
        return self.gate.stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _exempt(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        if not await self.gate.enter():
            status, headers, body = self.refusal(scope, self.gate.policy.retry_after_s)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.gate.leave()


def _exempt(path: str) -> bool:
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)
