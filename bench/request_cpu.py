"""CPU milliseconds per request, by kind: where a list, a search, the map and a site page spend.

Issue 16 asks to measure where the time of a request goes and to cut it. The server's CPU per
request decides how many requests a core serves, whatever the machine's load: this script
measures it in-process (no HTTP, no other process), as ``time.process_time`` around the whole
ASGI call through every middleware (admission, session, security headers), authentication,
the queries, serialisation and the template.

Run against a database holding a demo city (``dustgrid demo --seed 3 --sites 5000``)::

    .venv/bin/python bench/request_cpu.py --database-url postgresql+psycopg://…/dg_load \\
        --baseline-src /path/to/previous-main/src

With ``--baseline-src`` the script runs itself twice per round as subprocesses, once on the
baseline's ``src`` (``PYTHONPATH``) and once on this checkout's, alternating rounds, and prints
the median CPU ms per request of each, and the ratio. ``--profile KIND`` instead prints a
cProfile of that kind (the functions with the most cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
USER = "city_admin"
PASSWORD = "demo-2024"


def _kinds(site_id: int, case_id: int) -> dict[str, tuple[str, str]]:
    """kind → (client, path): ``api`` sends the bearer token, ``web`` the session cookie."""
    return {
        "list": ("api", "/api/v1/sites?page=2"),
        "search": ("api", "/api/v1/sites?q=%E8%8A%B1%E5%9B%AD"),  # 花园
        "map": ("api", "/api/v1/sites/map"),
        "site": ("api", f"/api/v1/sites/{site_id}"),
        "cases": ("api", "/api/v1/cases"),
        "case": ("api", f"/api/v1/cases/{case_id}"),
        "site_page": ("web", f"/sites/{site_id}"),
        "case_page": ("web", f"/cases/{case_id}"),
        "ledger_page": ("web", "/sites"),
    }


def _inline_threadpool() -> None:
    """Profiling only: run sync endpoints and dependencies in the calling thread, so that
    cProfile (which sees one thread) sees the whole request."""
    import fastapi.concurrency
    import fastapi.dependencies.utils
    import fastapi.routing

    async def inline(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    for module in (fastapi.routing, fastapi.dependencies.utils, fastapi.concurrency):
        module.run_in_threadpool = inline  # type: ignore[attr-defined]


async def _measure(n: int, profile: str | None) -> dict[str, float]:
    import re

    import httpx

    from dustgrid.app import create_app

    app = create_app()
    transport = httpx.ASGITransport(app=app)
    base = "http://bench"
    api = httpx.AsyncClient(transport=transport, base_url=base)
    web = httpx.AsyncClient(transport=transport, base_url=base)
    token = await api.post("/api/v1/auth/token", data={"username": USER, "password": PASSWORD})
    token.raise_for_status()
    api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', (await web.get("/login")).text)
    assert csrf, "login page without CSRF token"
    done = await web.post(
        "/login", data={"username": USER, "password": PASSWORD, "csrf_token": csrf.group(1)}
    )
    assert done.status_code == 303, done.text[:300]
    sites = (await api.get("/api/v1/sites?page=3")).json()["items"]
    cases = (await api.get("/api/v1/cases")).json()["items"]
    if not cases:
        raise SystemExit("the city has no cases: run bench/load.py once (it opens some)")
    clients = {"api": api, "web": web}
    out: dict[str, float] = {}
    statements: list[str] = []
    if os.environ.get("BENCH_SQL"):
        from sqlalchemy import event

        from dustgrid.db import get_engine

        event.listen(get_engine(), "before_cursor_execute", lambda *a: statements.append(str(a[2])))
    for kind, (client, path) in _kinds(int(sites[0]["id"]), int(cases[0]["id"])).items():
        c = clients[client]
        for _ in range(3):  # warm: templates compiled, statements cached
            answer = await c.get(path)
            assert answer.status_code == 200, (kind, answer.status_code, answer.text[:200])
        if profile == kind:
            # CPU time, as the measurement: a wall-clock profile charges the database's
            # answer (psycopg waiting on its socket) to the request's functions.
            profiler = cProfile.Profile(time.process_time)
            profiler.enable()
            for _ in range(n):
                await c.get(path)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(70)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
            continue
        if statements is not None and os.environ.get("BENCH_SQL"):
            statements.clear()
            await c.get(path)
            print(f"--- {kind}: {len(statements)} statements", file=sys.stderr)
            for sql in statements:
                print("   ", " ".join(sql.split())[:300], file=sys.stderr)
        samples = []
        for _ in range(n):
            started = time.process_time()
            await c.get(path)
            samples.append((time.process_time() - started) * 1000)
        out[kind] = statistics.median(samples)
    return out


def measure_here(n: int, profile: str | None) -> dict[str, float]:
    """In this process: median CPU ms per request of each kind, over ``n`` requests each
    (one event loop, no HTTP: the app's own cost, middlewares to template)."""
    import asyncio

    os.environ.setdefault("DUSTGRID_DEMO_MODE", "true")
    os.environ.setdefault("DUSTGRID_COOKIE_SECURE", "false")
    if profile:
        _inline_threadpool()
    return asyncio.run(_measure(n, profile))


def run_child(src: Path, n: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{REPO / 'bench'}"}
    got = subprocess.run(
        [sys.executable, __file__, "--child", "--n", str(n)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if got.returncode != 0:
        raise SystemExit(f"measuring {src} failed:\n{got.stderr[-3000:]}")
    return dict(json.loads(got.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--database-url", help="a database with a demo city (default: the setting)")
    ap.add_argument("--baseline-src", type=Path, help="the previous code's src/ directory")
    ap.add_argument("--n", type=int, default=30, help="requests per kind per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", help="print a cProfile of this kind instead")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.database_url:
        os.environ["DUSTGRID_DATABASE_URL"] = args.database_url
    if args.child or args.profile:
        result = measure_here(args.n, args.profile)
        if args.child:
            print(json.dumps(result))
        return
    from _common import machine_lines, ratio

    print("\n".join(machine_lines()))
    sources = {"after": REPO / "src"}
    if args.baseline_src:
        sources = {"before": args.baseline_src, **sources}
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in sources}
    for _ in range(args.rounds):
        for label, src in sources.items():
            runs[label].append(run_child(src, args.n))
    print(f"\nCPU ms per request (median of {args.n} requests, median over {args.rounds} rounds)")
    kinds = list(runs["after"][0])
    header = f"{'kind':<12}" + "".join(f"{label:>10}" for label in sources)
    print(header + ("     ratio" if "before" in runs else ""))
    for kind in kinds:
        values = {label: statistics.median(r[kind] for r in rs) for label, rs in runs.items()}
        line = f"{kind:<12}" + "".join(f"{values[label]:>10.2f}" for label in sources)
        if "before" in values:
            line += f"  {ratio(values['after'], values['before']):>8}"
        print(line)


if __name__ == "__main__":
    main()
