"""`dustgrid serve --workers 1` runs the web app and the HJ 212 listener in one process, and
stops cleanly (several processes: tests/serving/test_nodes.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

from dustgrid.ingest.hj212 import FrameSplitter, decode
from tests.ingest.hj212_server.hj_support import TZ_NAME, Dev, free_port, rtd

T0 = datetime(2024, 5, 1, 10, 0, 0)  # noqa: DTZ001 - device-local


def test_serve_runs_web_and_hj212_then_stops_on_sigterm(hj_db_url: str, tmp_path: Path) -> None:
    http_port, tcp_port = free_port(), free_port()
    env = {
        **os.environ,
        "DUSTGRID_DATABASE_URL": hj_db_url,
        "DUSTGRID_VAR_DIR": str(tmp_path),
        "DUSTGRID_TIMEZONE": TZ_NAME,
        "DUSTGRID_HJ212_PORT": str(tcp_port),
        "DUSTGRID_HJ212_STATS_EVERY_S": "0",
        "DUSTGRID_COOKIE_SECURE": "false",
    }
    code = "import sys; from dustgrid.cli import main; sys.argv[0] = 'dustgrid'; main()"
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(http_port)]
        + ["--workers", "1"],  # one process: web and listener in one event loop
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 240  # a loaded machine imports the app slowly
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1)
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", tcp_port), timeout=5) as s:
            s.sendall(rtd(Dev(0, "NOSUCHDEVICE000000000001", "1"), T0))
            splitter, frames = FrameSplitter(), []
            while not frames:
                frames = [decode(f) for f in splitter.feed(s.recv(4096)) if isinstance(f, bytes)]
            assert frames[0].cn == "9011" and frames[0].cp["QnRtn"] == "4"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
    output = (tmp_path / "serve.log").read_text()
    assert "HJ 212 listener on" in output and "hj212 stats" in output
