"""A city's staff at once: mixed reads and writes against running `dustgrid serve` processes.

Targets (issue 16; 5,000-site demo city on PostgreSQL, this 2-core machine):

- ``think``: 150 people, each asking every 1–3 s: p95 < 150 ms, 0 errors;
- ``nopause``: 50 clients without pause: throughput ≥ 2× one `serve` process, p95 < 500 ms;
- ``overload``: 400 people: every request answered within 2 s (200 or 503), no 500, memory
  flat.

Run (the database must hold a demo city: ``dustgrid demo --seed 3 --sites 5000 --devices 200``;
the servers run in demo mode so the demo accounts' password works)::

    .venv/bin/python bench/load.py --database-url postgresql+psycopg://postgres@127.0.0.1/dg_load \\
        --workers 1,2 --scenario all

For each ``--workers`` value the script starts ``dustgrid serve --workers N --no-hj212
--no-jobs`` on a free loopback port over that database, runs the scenarios against it, stops
it, and prints the figures side by side with ratios against the first configuration (the
baseline: one process, as before issue 16). ``--baseline-src DIR`` runs the baseline from
another checkout's ``src`` (e.g. a ``git worktree`` of the previous main), so "before" and
"after" are measured in one run on one machine. ``--url`` measures a server that is already
running instead (loopback only; its CPU and memory are then not read).

Each simulated person logs in once (a token for the API, a cookie for the pages), then picks
requests from a fixed mix: ledger list pages, text search, the map data, one site, the case
list, one case, the site and case pages, and writes: a note on a case, and (officers and
inspectors) a whole inspection (check-in at the site, answers, submit). Printed per
configuration and scenario: requests/s, p50/p95/p99 per kind and overall (client wall clock
to the last body byte), answers by status, the share answered within 2 s, the server's CPU
milliseconds per request (user + system time of the whole process tree) and its resident
memory at the start, the end and the peak. The load generator runs on the same machine: its
own CPU competes with the server's, as a real client's would not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from _common import free_port, load_average, machine_lines, percentile, ratio
from sqlalchemy import create_engine, text

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "demo-2024"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SEARCH_WORDS = ("项目", "花园", "路", "学校", "工程", "广场", "大厦", "苑", "中心", "二期")
#: Request kinds and their weights in the mix (what grid staff and officials do most).
MIX = {
    "list": 14,
    "search": 10,
    "map": 4,
    "site": 14,
    "cases": 10,
    "case": 10,
    "site_page": 12,
    "case_page": 10,
    "note": 3,
    "inspection": 2,
}
OFFICIAL_ROLES = ("city_admin", "district_admin", "station_staff")
FIELD_ROLES = ("officer", "inspector")


@dataclass(frozen=True)
class Scenario:
    name: str
    people: int
    think: tuple[float, float] | None  # seconds between a person's requests; None = no pause


SCENARIOS = {
    "think": Scenario("think", 150, (1.0, 3.0)),
    "nopause": Scenario("nopause", 50, None),
    "overload": Scenario("overload", 400, (1.0, 3.0)),
}


@dataclass
class Result:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[str] = field(default_factory=Counter)
    slow: int = 0  # answered after 2 s, or not at all
    started: float = 0.0
    ended: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.statuses.values())


@dataclass
class Person:
    username: str
    role: str
    api: httpx.AsyncClient
    web: httpx.AsyncClient
    sites: list[dict[str, Any]] = field(default_factory=list)
    cases: list[int] = field(default_factory=list)


# --- the server --------------------------------------------------------------------------


class Server:
    """`dustgrid serve` over the database, on a free loopback port."""

    def __init__(self, database_url: str, workers: int, src: Path | None, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "DUSTGRID_DATABASE_URL": database_url,
            "DUSTGRID_DEMO_MODE": "true",
            "DUSTGRID_COOKIE_SECURE": "false",
            "DUSTGRID_VAR_DIR": str(log.parent / "var"),
            "DUSTGRID_HJ212_ENABLED": "false",
            "DUSTGRID_WORKERS_IN_PROCESS": "false",
        }
        if src is not None:
            env["PYTHONPATH"] = str(src)
        code = "import sys; from dustgrid.cli import main; sys.argv[0] = 'dustgrid'; main()"
        args = ["serve", "--port", str(self.port)]
        if src is None:  # the code under test knows --workers and --no-jobs
            args += ["--workers", str(workers), "--no-hj212", "--no-jobs"]
        else:  # an older checkout: one process, its own flags
            args += ["--no-hj212"]
        self.log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            cwd=log.parent,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"server did not start; see {log}")
            time.sleep(0.3)
        time.sleep(2 if workers > 1 else 0.5)  # uvicorn starts its workers one by one

    def tree(self) -> list[int]:
        return [self.proc.pid, *_descendants(self.proc.pid)]

    def cpu_s(self) -> float:
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick
        return total

    def rss_mb(self) -> float:
        total = 0
        for pid in self.tree():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024

    def stop(self) -> float:
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()
        return time.monotonic() - started


def _descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parents.items() if pp == frontier[-1]]
        frontier.pop()
        found += kids
        frontier += kids
    return found


# --- the people --------------------------------------------------------------------------


def accounts(database_url: str) -> list[tuple[str, str]]:
    """Active demo accounts by role (officials, field staff, contractors)."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT username, role FROM user_account WHERE is_active")).all()
    engine.dispose()
    return [(str(u), str(r).rsplit(".", 1)[-1]) for u, r in rows]


async def log_in(url: str, username: str, role: str) -> Person:
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    api = httpx.AsyncClient(base_url=url, timeout=30, transport=RetryingTransport(limits=limits))
    web = httpx.AsyncClient(base_url=url, timeout=30, transport=RetryingTransport(limits=limits))
    for attempt in range(20):
        got = await api.post(
            "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
        )
        if got.status_code == 200:
            break
        await asyncio.sleep(0.5 + attempt * 0.2)  # busy (503) while everyone logs in
    else:
        raise SystemExit(f"login of {username} failed: {got.status_code} {got.text[:200]}")
    api.headers["Authorization"] = f"Bearer {got.json()['access_token']}"
    for attempt in range(20):
        form = await web.get("/login")
        found = CSRF.search(form.text)
        if found:
            done = await web.post(
                "/login",
                data={"username": username, "password": PASSWORD, "csrf_token": found.group(1)},
            )
            if done.status_code == 303:
                break
        await asyncio.sleep(0.5 + attempt * 0.2)
    else:
        raise SystemExit(f"page login of {username} failed")
    person = Person(username, role, api, web)
    for attempt in range(20):
        sites = await api.get("/api/v1/sites", params={"page_size": 50})
        cases = await api.get("/api/v1/cases", params={"tab": "all", "page_size": 50})
        if sites.status_code == 200 and cases.status_code == 200:
            person.sites = list(sites.json().get("items", []))
            person.cases = [int(c["id"]) for c in cases.json().get("items", [])]
            return person
        await asyncio.sleep(0.5 + attempt * 0.2)
    raise SystemExit(f"{username}: could not read the ledger and the cases")


class RetryingTransport(httpx.AsyncHTTPTransport):
    """A GET whose kept-alive connection the server closed as it was sent (its idle
    timeout, 5 s by default, raced the client's reuse) is sent once more on a new
    connection, as browsers do; anything else is reported as an error."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.RemoteProtocolError:
            if request.method != "GET":
                raise
            return await super().handle_async_request(request)


async def one_request(p: Person, kind: str, rng: random.Random) -> httpx.Response | None:
    """One request of ``kind`` for person ``p`` (None when the person has nothing to ask)."""
    site = rng.choice(p.sites) if p.sites else None
    case = rng.choice(p.cases) if p.cases else None
    if kind == "list":
        return await p.api.get("/api/v1/sites", params={"page": rng.randint(1, 5)})
    if kind == "search":
        return await p.api.get("/api/v1/sites", params={"q": rng.choice(SEARCH_WORDS)})
    if kind == "map":
        return await p.api.get("/api/v1/sites/map")
    if kind == "cases":
        return await p.api.get("/api/v1/cases", params={"page": rng.randint(1, 3)})
    if kind == "site" and site is not None:
        return await p.api.get(f"/api/v1/sites/{site['id']}")
    if kind == "case" and case is not None:
        return await p.api.get(f"/api/v1/cases/{case}")
    if kind == "site_page" and site is not None:
        return await p.web.get(f"/sites/{site['id']}")
    if kind == "case_page" and case is not None:
        return await p.web.get(f"/cases/{case}")
    if kind == "note" and case is not None:
        return await p.api.post(f"/api/v1/cases/{case}/notes", data={"text": "现场复核，持续跟进"})
    if kind == "inspection" and site is not None and p.role in FIELD_ROLES:
        return await inspection(p, site)
    return None


async def inspection(p: Person, site: dict[str, Any]) -> httpx.Response:
    """A whole visit: read the site's position, check in there, answer every item "passed",
    submit. The time recorded is the whole visit's (four requests)."""
    detail = await p.api.get(f"/api/v1/sites/{site['id']}")  # the list has no coordinates
    if detail.status_code != 200:
        return detail
    lat, lon = detail.json()["lat"], detail.json()["lon"]
    body = {"site_id": site["id"], "lat": lat, "lon": lon, "accuracy_m": 10,
            "idempotency_key": f"bench-{uuid.uuid4().hex[:20]}"}  # fmt: skip
    visit = await p.api.post("/api/v1/inspections", json=body)
    if visit.status_code not in (200, 201):
        return visit
    checklist = await p.api.get("/api/v1/checklist")
    if checklist.status_code != 200:
        return checklist
    answers = [{"item_code": i["code"], "outcome": "passed"} for i in checklist.json()["items"]]
    return await p.api.post(
        f"/api/v1/inspections/{visit.json()['id']}/submit", json={"answers": answers}
    )


async def person_loop(
    p: Person, scenario: Scenario, until: float, result: Result, seed: int
) -> None:
    rng = random.Random(seed)
    kinds, weights = list(MIX), list(MIX.values())
    if scenario.think:
        await asyncio.sleep(rng.uniform(0, scenario.think[1]))  # people do not start in step
    while time.monotonic() < until:
        kind = rng.choices(kinds, weights)[0]
        started = time.monotonic()
        try:
            answer = await one_request(p, kind, rng)
        except httpx.HTTPError as exc:
            result.statuses[type(exc).__name__] += 1
            result.slow += 1
            continue
        if answer is None:
            continue
        took = time.monotonic() - started
        result.times[kind].append(took)
        result.statuses[str(answer.status_code)] += 1
        if took > 2.0:
            result.slow += 1
        if answer.status_code == 503 and scenario.think is None:
            await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
        if scenario.think:
            await asyncio.sleep(rng.uniform(*scenario.think))


async def run_scenario(
    url: str, people: list[Person], scenario: Scenario, duration: float
) -> Result:
    result = Result()
    chosen = [people[i % len(people)] for i in range(scenario.people)]
    result.started = time.monotonic()
    until = result.started + duration
    await asyncio.gather(
        *(person_loop(p, scenario, until, result, i) for i, p in enumerate(chosen))
    )
    result.ended = time.monotonic()
    return result


async def gather_people(url: str, logins: list[tuple[str, str]], n: int) -> list[Person]:
    """Log ``n`` people in (a few at a time: logging in is deliberately slow, argon2)."""
    rng = random.Random(7)
    picked = rng.sample(logins, min(n, len(logins)))
    while len(picked) < n:
        picked.append(rng.choice(logins))
    people: list[Person] = []
    for start in range(0, n, 8):
        people += await asyncio.gather(*(log_in(url, u, r) for u, r in picked[start : start + 8]))
    return people


def _open_cases(url: str) -> None:
    """The demo city starts without cases; the mix reads and writes some."""
    from _city import ensure_cases

    with httpx.Client(base_url=url, timeout=60) as api:
        got = api.post("/api/v1/auth/token", data={"username": "city_admin", "password": PASSWORD})
        got.raise_for_status()
        api.headers["Authorization"] = f"Bearer {got.json()['access_token']}"
        ensure_cases(api)


# --- reporting ---------------------------------------------------------------------------


def summary(result: Result) -> dict[str, Any]:
    every = [t for ts in result.times.values() for t in ts]
    span = max(result.ended - result.started, 1e-9)
    return {
        "requests": result.total,
        "rps": result.total / span,
        "p50": percentile(every, 50) * 1000 if every else 0.0,
        "p95": percentile(every, 95) * 1000 if every else 0.0,
        "p99": percentile(every, 99) * 1000 if every else 0.0,
        "within_2s": 1 - result.slow / max(result.total, 1),
        "statuses": dict(sorted(result.statuses.items())),
        "kinds": {
            k: (
                len(v),
                percentile(v, 50) * 1000,
                percentile(v, 95) * 1000,
                percentile(v, 99) * 1000,
            )
            for k, v in sorted(result.times.items())
            if v
        },  # fmt: skip
    }


def print_table(label: str, s: dict[str, Any], base: dict[str, Any] | None) -> None:
    vs = ""
    if base is not None:
        vs = f"   vs baseline: rps {ratio(s['rps'], base['rps'])}, "
        vs += f"p95 {ratio(s['p95'], base['p95'])}"
    head = f"  {label}: {s['requests']} requests, {s['rps']:.1f}/s, p50 {s['p50']:.0f} ms, "
    head += f"p95 {s['p95']:.0f} ms, p99 {s['p99']:.0f} ms, within 2 s {s['within_2s']:.1%}"
    print(head + vs)
    print(f"    answers: {s['statuses']}")
    extra = []
    if "cpu_ms" in s:
        extra.append(f"server CPU {s['cpu_ms']:.1f} ms/request")
    if "rss" in s:
        start, end, peak = s["rss"]
        extra.append(f"server RSS start {start:.0f} MB, end {end:.0f} MB, peak {peak:.0f} MB")
    if extra:
        print("    " + "; ".join(extra))
    for kind, (n, p50, p95, p99) in s["kinds"].items():
        print(f"    {kind:<11} n={n:<6} p50 {p50:7.1f}  p95 {p95:7.1f}  p99 {p99:7.1f} ms")


def check_targets(name: str, s: dict[str, Any], base: dict[str, Any] | None) -> list[str]:
    """The issue's targets, as PASS/FAIL lines."""
    bad = {k: v for k, v in s["statuses"].items() if k not in ("200", "201", "503")}
    lines = []
    if name == "think":
        ok = s["p95"] < 150 and not bad and "503" not in s["statuses"]
        lines.append(f"think: p95 < 150 ms and 0 errors → {'PASS' if ok else 'FAIL'}")
    elif name == "nopause":
        fast = base is None or s["rps"] >= 2 * base["rps"]
        ok = fast and s["p95"] < 500 and not bad
        lines.append(f"nopause: ≥ 2× baseline rps and p95 < 500 ms → {'PASS' if ok else 'FAIL'}")
    elif name == "overload":
        flat = "rss" not in s or s["rss"][1] <= s["rss"][0] * 1.25 + 50
        ok = s["within_2s"] == 1.0 and not bad and flat
        lines.append(
            "overload: all answered ≤ 2 s (200/503), no 500, memory flat → "
            + ("PASS" if ok else "FAIL")
        )
    return lines


async def measure(
    url: str, server: Server | None, logins: list[tuple[str, str]], names: list[str],
    duration: float,
) -> dict[str, dict[str, Any]]:  # fmt: skip
    out: dict[str, dict[str, Any]] = {}
    most = max(SCENARIOS[n].people for n in names)
    await asyncio.to_thread(_open_cases, url)
    people = await gather_people(url, logins, min(most, len(logins) * 4))
    for name in names:
        scenario = SCENARIOS[name]
        cpu0 = server.cpu_s() if server else 0.0
        rss0 = server.rss_mb() if server else 0.0
        peak = rss0
        task = asyncio.create_task(run_scenario(url, people, scenario, duration))
        while not task.done():
            await asyncio.sleep(1)
            if server:
                peak = max(peak, server.rss_mb())
        s = summary(task.result())
        if server:
            s["cpu_ms"] = (server.cpu_s() - cpu0) * 1000 / max(s["requests"], 1)
            s["rss"] = (rss0, server.rss_mb(), peak)
        out[name] = s
        await asyncio.sleep(3)  # let queues drain between scenarios
    for p in people:
        await p.api.aclose()
        await p.web.aclose()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--database-url", help="start servers over this database (a demo city)")
    ap.add_argument("--url", help="measure a running server instead (loopback only)")
    ap.add_argument("--workers", default=f"1,{os.cpu_count() or 1}",
                    help="comma-separated web process counts, first = baseline")  # fmt: skip
    ap.add_argument("--baseline-src", type=Path, help="run the baseline from this src/ directory")
    ap.add_argument("--scenario", default="all", choices=[*SCENARIOS, "all"])
    ap.add_argument("--duration", type=float, default=30.0, help="seconds per scenario")
    args = ap.parse_args()
    names = list(SCENARIOS) if args.scenario == "all" else [args.scenario]
    print("\n".join(machine_lines()))
    if args.url and not re.match(r"^http://(127\.0\.0\.1|localhost)(:\d+)?$", args.url):
        raise SystemExit("--url: loopback only (http://127.0.0.1:PORT)")
    if not args.database_url:
        raise SystemExit("give --database-url (a database holding a demo city)")
    logins = [(u, r) for u, r in accounts(args.database_url)
              if r in OFFICIAL_ROLES + FIELD_ROLES + ("contractor",)]  # fmt: skip
    if not logins:
        raise SystemExit("no demo accounts in that database")
    results: list[tuple[str, dict[str, dict[str, Any]]]] = []
    if args.url:
        measured = asyncio.run(measure(args.url, None, logins, names, args.duration))
        results.append((args.url, measured))
    else:
        workdir = Path(os.environ.get("TMPDIR", "/tmp")) / f"dustgrid-load-{os.getpid()}"
        workdir.mkdir(parents=True, exist_ok=True)
        for i, count in enumerate(int(w) for w in args.workers.split(",")):
            src = args.baseline_src if (i == 0 and args.baseline_src) else None
            label = f"{count} process{'es' if count > 1 else ''}"
            label += " (baseline src)" if src else ""
            server = Server(args.database_url, count, src, workdir / f"serve-{i}.log")
            try:
                print(f"\n== {label} at {server.url}, load {load_average()}", flush=True)
                measured = asyncio.run(measure(server.url, server, logins, names, args.duration))
                results.append((label, measured))
            finally:
                print(f"  SIGTERM → stopped in {server.stop():.1f} s")
    base = results[0][1] if len(results) > 1 else None
    print("\n== Results")
    for label, by_name in results:
        print(f"\n{label}")
        for name, s in by_name.items():
            b = base.get(name) if base is not None and by_name is not base else None
            print_table(name, s, b)
            if by_name is not base or base is None:
                for line in check_targets(name, s, b):
                    print(f"    target {line}")


if __name__ == "__main__":
    main()
