"""Server CPU per request, by kind, of a real `dustgrid serve` web process: before and after.

``bench/request_cpu.py`` measures a request in-process (no HTTP server, no event loop of
uvicorn's). This script measures what a deployment pays: it starts one uvicorn web process
(``dustgrid.serving.served_app``, as each worker of ``dustgrid serve`` runs it) per source
tree, sends each kind of request one at a time over keep-alive connections, and reads the
server process's own CPU time (user + system, ``/proc/PID/stat``) around each kind. Source
trees alternate round by round, so a change in the machine's load hits both.

Run against a database holding a demo city (``dustgrid demo --seed 3 --sites 5000``), demo
mode on so the demo accounts log in::

    DUSTGRID_DEMO_MODE=true .venv/bin/python bench/served_cpu.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1/dg_load \\
        --src /path/to/previous-main/src:before --src src:after --rounds 3 --n 60

A ``:LABEL`` ending in ``plain`` serves that tree on asyncio's loop and h11 (uvicorn without
uvloop and httptools), to show what those two libraries change on their own.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from _common import free_port, machine_lines, ratio

REPO = Path(__file__).resolve().parents[1]
USER, PASSWORD = "city_admin", "demo-2024"
KINDS = ("list", "search", "map", "site", "cases", "case", "site_page", "case_page", "healthz")


def start(src: Path, plain: bool, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    """One web process over ``src``; returns it with its base URL once it answers."""
    port = free_port()
    loop = ", loop='asyncio', http='h11'" if plain else ""
    code = (
        "import uvicorn; from dustgrid.serving import served_app; "
        f"uvicorn.run(served_app(), host='127.0.0.1', port={port}, log_level='warning'{loop})"
    )
    process = subprocess.Popen([sys.executable, "-c", code], env={**env, "PYTHONPATH": str(src)})
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the server over {src} did not start")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_tree(url: str, pid: int, n: int) -> dict[str, float]:
    """CPU ms per request of each kind, ``n`` requests after 5 to warm up."""
    api, web = httpx.Client(base_url=url, timeout=60), httpx.Client(base_url=url, timeout=60)
    token = api.post("/api/v1/auth/token", data={"username": USER, "password": PASSWORD})
    token.raise_for_status()
    api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    found = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/login").text)
    assert found, "login page without CSRF token"
    web.post("/login", data={"username": USER, "password": PASSWORD, "csrf_token": found[1]})
    site = api.get("/api/v1/sites?page=3").json()["items"][0]["id"]
    cases = api.get("/api/v1/cases").json()["items"]
    if not cases:
        raise SystemExit("the city has no cases: run bench/load.py once (it opens some)")
    case = cases[0]["id"]
    paths = {
        "list": (api, "/api/v1/sites?page=2"),
        "search": (api, "/api/v1/sites?q=%E8%8A%B1%E5%9B%AD"),  # 花园
        "map": (api, "/api/v1/sites/map"),
        "site": (api, f"/api/v1/sites/{site}"),
        "cases": (api, "/api/v1/cases"),
        "case": (api, f"/api/v1/cases/{case}"),
        "site_page": (web, f"/sites/{site}"),
        "case_page": (web, f"/cases/{case}"),
        "healthz": (api, "/healthz"),
    }
    out: dict[str, float] = {}
    for kind in KINDS:
        client, path = paths[kind]
        for _ in range(5):
            client.get(path)
        began = cpu_s(pid)
        for _ in range(n):
            answer = client.get(path)
            assert answer.status_code == 200, (kind, answer.status_code)
        out[kind] = (cpu_s(pid) - began) / n * 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--src", action="append", required=True, help="SRC_DIR[:LABEL], repeatable")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--n", type=int, default=60, help="requests per kind per round")
    args = ap.parse_args()
    env = {
        **os.environ,
        "DUSTGRID_DATABASE_URL": args.database_url,
        "DUSTGRID_DEMO_MODE": "true",
        "DUSTGRID_COOKIE_SECURE": "false",
    }  # plain HTTP on loopback: the cookie must come back
    trees = []
    for item in args.src:
        path, _, label = item.partition(":")
        trees.append((Path(path).resolve(), label or path))
    print("\n".join(machine_lines()))
    runs: dict[str, list[dict[str, float]]] = {label: [] for _, label in trees}
    for _ in range(args.rounds):
        for src, label in trees:
            process, url = start(src, label.endswith("plain"), env)
            try:
                runs[label].append(one_tree(url, process.pid, args.n))
            finally:
                process.terminate()
                process.wait(30)
    first = trees[0][1]
    print(f"\nserver CPU ms per request (median over {args.rounds} rounds of {args.n})")
    print("kind".ljust(10) + "".join(label.rjust(16) for _, label in trees) + "   ratio last/first")
    for kind in KINDS:
        cells = {label: statistics.median(r[kind] for r in runs[label]) for _, label in trees}
        line = kind.ljust(10) + "".join(f"{cells[label]:16.2f}" for _, label in trees)
        print(line + "   " + ratio(cells[trees[-1][1]], cells[first]))


if __name__ == "__main__":
    main()
