"""Real `dustgrid serve` processes over one database (SQLite file or a new PostgreSQL
database), with the fixture city in it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from dustgrid import migrate
from dustgrid.db import make_engine
from tests.fixtures.city import PASSWORD, build_city

CODE = "import sys; from dustgrid.cli import main; sys.argv[0] = 'dustgrid'; main()"
WEB_ONLY = ("--workers", "1", "--no-hj212", "--no-jobs")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def node_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of its own with the fixture city (the suite's is rolled back per test)."""
    given = str(request.config.getoption("--dburl"))
    admin = None
    if given.startswith("postgresql"):
        base = make_url(given)
        name = f"dg_serving_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('serving') / 'nodes.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        build_city(s)
        s.commit()
    engine.dispose()
    try:
        yield url
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


class Node:
    """One `dustgrid serve` process (and whatever it starts)."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(10)


def launch(db_url: str, workdir: Path, *args: str) -> Node:
    """Start `dustgrid serve ARGS` on a free port; returns once /healthz answers."""
    port = free_port()
    log = workdir / f"serve-{port}.log"
    environment = {
        **os.environ,
        "DUSTGRID_DATABASE_URL": db_url,
        "DUSTGRID_VAR_DIR": str(workdir / "var"),  # shared: one secret key file
        "DUSTGRID_COOKIE_SECURE": "false",
        "DUSTGRID_HJ212_PORT": str(free_port()),
        "DUSTGRID_JOBS_POLL_S": "1",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", CODE, "serve", "--port", str(port), *args],
            cwd=workdir,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    node = Node(proc, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 240  # a loaded machine imports the app slowly (each process)
    while True:
        try:
            if httpx.get(f"{node.url}/healthz", timeout=1).status_code == 200:
                return node
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            node.kill()
            pytest.fail(f"serve did not start:\n{node.output()}")
        time.sleep(0.2)


@pytest.fixture
def start_node(node_db_url: str, tmp_path: Path) -> Iterator[Callable[..., Node]]:
    nodes: list[Node] = []

    def _start(*args: str) -> Node:
        nodes.append(launch(node_db_url, tmp_path, *args))
        return nodes[-1]

    yield _start
    for node in nodes:
        node.kill()


@pytest.fixture(scope="module")
def web_pair(
    node_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Node, Node]]:
    """Two web-only processes over one database, as two machines behind a balancer."""
    workdir = tmp_path_factory.mktemp("pair")
    a = launch(node_db_url, workdir, *WEB_ONLY)
    try:
        b = launch(node_db_url, workdir, *WEB_ONLY)
    except BaseException:
        a.kill()
        raise
    yield a, b
    a.kill()
    b.kill()


def page_login(client: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    """Log in through the login page (its CSRF token first), as a browser does."""
    form = client.get("/login")
    token = CSRF.search(form.text)
    assert token, "the login page carries a CSRF token"
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token.group(1)},
    )


def csrf_of(client: httpx.Client, path: str) -> str:
    found = CSRF.search(client.get(path).text)
    assert found, f"{path} carries a CSRF token"
    return found.group(1)
