"""The admission gate: a saturated process refuses at once, fairly, and recovers."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from dustgrid.admission import Admission, AdmissionPolicy
from dustgrid.app import admission_policy, busy_answer
from dustgrid.config import Settings


def _slow_app(release: asyncio.Event) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def _scope(path: str = "/api/v1/sites", lang: bytes = b"") -> dict[str, Any]:
    return {"type": "http", "path": path, "headers": [(b"accept-language", lang)]}


async def _call(app: Any, scope: dict[str, Any]) -> tuple[int, dict[bytes, bytes], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]


def test_beyond_slots_and_queue_requests_are_refused_at_once() -> None:
    async def run() -> None:
        release = asyncio.Event()
        policy = AdmissionPolicy(slots=2, queue_max=1, queue_wait_s=5, retry_after_s=2)
        gate = Admission(_slow_app(release), policy, busy_answer)
        held = [asyncio.create_task(_call(gate, _scope())) for _ in range(3)]  # 2 run, 1 waits
        await asyncio.sleep(0.05)
        started = time.monotonic()
        status, headers, body = await _call(gate, _scope(lang=b"en"))
        assert time.monotonic() - started < 0.5  # refused at once, not after the wait
        assert status == 503 and headers[b"retry-after"] == b"2"
        assert b"busy" in body and headers[b"content-type"] == b"application/json"
        release.set()
        assert [s for s, _, _ in await asyncio.gather(*held)] == [200, 200, 200]
        assert gate.stats.admitted == 3 and gate.stats.queued == 1 and gate.stats.refused == 1
        assert gate.gate.busy == 0 and not gate.gate.waiters

    asyncio.run(run())


def test_a_waiter_is_refused_after_the_longest_wait_and_the_slot_stays_usable() -> None:
    async def run() -> None:
        release = asyncio.Event()
        policy = AdmissionPolicy(slots=1, queue_max=4, queue_wait_s=0.2, retry_after_s=3)
        gate = Admission(_slow_app(release), policy, busy_answer)
        first = asyncio.create_task(_call(gate, _scope()))
        await asyncio.sleep(0.02)
        started = time.monotonic()
        status, headers, body = await _call(gate, _scope("/sites"))  # a page: zh-CN text
        waited = time.monotonic() - started
        assert status == 503 and 0.15 < waited < 1.0
        assert headers[b"content-type"].startswith(b"text/html")
        assert "服务器繁忙" in body.decode() and "3 秒" in body.decode()
        release.set()
        assert (await first)[0] == 200
        assert (await _call(gate, _scope()))[0] == 200  # the slot came back
        assert gate.gate.busy == 0

    asyncio.run(run())


def test_waiters_are_served_first_come_first_served() -> None:
    async def run() -> None:
        order: list[int] = []
        release = asyncio.Event()

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope.get("n") == 0:
                await release.wait()
            order.append(int(scope["n"]))
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        policy = AdmissionPolicy(slots=1, queue_max=5, queue_wait_s=5, retry_after_s=1)
        gate = Admission(app, policy, busy_answer)
        tasks = []
        for n in range(4):
            tasks.append(asyncio.create_task(_call(gate, {**_scope(), "n": n})))
            await asyncio.sleep(0.01)
        release.set()
        await asyncio.gather(*tasks)
        assert order == [0, 1, 2, 3]

    asyncio.run(run())


def test_static_files_and_health_checks_pass_a_full_gate() -> None:
    async def run() -> None:
        release = asyncio.Event()
        reached: list[str] = []

        async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
            reached.append(scope["path"])
            if scope["path"] == "/api/v1/slow":
                await release.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        policy = AdmissionPolicy(slots=1, queue_max=0, queue_wait_s=0, retry_after_s=1)
        gate = Admission(app, policy, busy_answer)
        slow = asyncio.create_task(_call(gate, _scope("/api/v1/slow")))
        await asyncio.sleep(0.02)
        assert (await _call(gate, _scope("/healthz")))[0] == 200
        assert (await _call(gate, _scope("/static/app.css")))[0] == 200
        assert (await _call(gate, _scope("/api/v1/sites")))[0] == 503
        release.set()
        await slow

    asyncio.run(run())


def test_policy_follows_the_settings_and_refuses_nonsense() -> None:
    s = Settings(web_threads=7, web_queue_max=3, web_queue_wait_s=0.5, web_busy_retry_after_s=4)
    assert admission_policy(s) == AdmissionPolicy(7, 3, 0.5, 4)
    with pytest.raises(ValueError):
        AdmissionPolicy(slots=0, queue_max=1, queue_wait_s=1, retry_after_s=1)
