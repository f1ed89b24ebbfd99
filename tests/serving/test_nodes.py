"""Several web processes on one database behave as one platform: what a person does on one
is seen on the other (the several-machines layout of docs/operations.md)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.fixtures.city import PASSWORD
from tests.serving.conftest import Node, csrf_of, page_login


def test_login_session_and_logout_cross_web_nodes(web_pair: tuple[Node, Node]) -> None:
    a, b = web_pair
    with httpx.Client(base_url=a.url) as on_a, httpx.Client(base_url=b.url) as on_b:
        assert page_login(on_a, "d_heping").status_code == 303
        on_b.cookies = on_a.cookies  # the load balancer sends the next request elsewhere
        sites = on_b.get("/sites")
        assert sites.status_code == 200 and "d_heping" in sites.text
        # Logging out on B ends the session everywhere: A sends the same cookie to login.
        out = on_b.post("/logout", data={"csrf_token": csrf_of(on_b, "/sites")})
        assert out.status_code == 303
        again = httpx.get(f"{a.url}/sites", cookies=on_a.cookies)
        assert again.status_code == 303 and again.headers["location"].startswith("/login")


def test_bearer_token_cross_web_nodes(web_pair: tuple[Node, Node]) -> None:
    a, b = web_pair
    got = httpx.post(f"{a.url}/api/v1/auth/token", data={"username": "admin", "password": PASSWORD})
    assert got.status_code == 200
    bearer = {"Authorization": f"Bearer {got.json()['access_token']}"}
    me = httpx.get(f"{b.url}/api/v1/auth/me", headers=bearer)
    assert me.status_code == 200 and me.json()["username"] == "admin"
    assert httpx.post(f"{b.url}/api/v1/auth/logout", headers=bearer).status_code == 204
    assert httpx.get(f"{a.url}/api/v1/auth/me", headers=bearer).status_code == 401


def test_login_throttle_counts_failures_on_every_node(web_pair: tuple[Node, Node]) -> None:
    a, b = web_pair
    answers = []
    for i in range(8):  # the account's free failures are 5: alternate nodes
        node = (a, b)[i % 2]
        r = httpx.post(
            f"{node.url}/api/v1/auth/token", data={"username": "off_hp1", "password": "wrong-pw-1"}
        )
        answers.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["Retry-After"]) >= 1
            break
    assert answers[:5] == [401] * 5, answers
    assert answers[-1] == 429, f"the throttle saw the failures on both nodes: {answers}"
    # Even the right password waits now, on either node.
    r = httpx.post(f"{a.url}/api/v1/auth/token", data={"username": "off_hp1", "password": PASSWORD})
    assert r.status_code == 429


def _children(pid: int) -> list[int]:
    """Direct and indirect child processes of ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_workers_share_one_port_and_stop_on_sigterm(start_node: Callable[..., Node]) -> None:
    node = start_node("--workers", "2")
    deadline = time.monotonic() + 60
    while True:  # uvicorn's supervisor starts its workers one after the other
        kids = [p for p in _children(node.proc.pid) if "resource_tracker" not in _cmdline(p)]
        if len(kids) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(kids) == 3, f"2 web processes and 1 services process: {kids}\n{node.output()}"

    # Both web processes sign and check with one key (var/secret_key, written once by the
    # first of them): the cookie of a login on either is good on both.
    with httpx.Client(base_url=node.url, timeout=30) as browser:
        assert page_login(browser, "d_heping").status_code == 303
        cookies = dict(browser.cookies)

    def _ask(_: int) -> int:
        return httpx.get(f"{node.url}/sites", cookies=cookies, timeout=30).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(_ask, range(40)))
    assert statuses == [200] * 40
    assert len((node.log.parent / "var" / "secret_key").read_text().strip()) >= 32

    started = time.monotonic()
    node.proc.send_signal(signal.SIGTERM)
    assert node.proc.wait(15) == 0, node.output()
    assert time.monotonic() - started < 15
    time.sleep(0.5)
    assert not [p for p in kids if os.path.exists(f"/proc/{p}") and _cmdline(p)], "no orphans"
