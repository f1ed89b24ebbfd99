"""`make run` stops cleanly on Ctrl-C: the simulator and the server both end, no crash."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "run-demo.sh"

FAKE_DUSTGRID = """#!/usr/bin/env bash
trap 'echo "$1 stopped" >> "$LOG"; exit 0' TERM
echo "$1 started" >> "$LOG"
while true; do sleep 0.05; done
"""


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dustgrid"
    fake.write_text(FAKE_DUSTGRID)
    fake.chmod(0o755)
    log = tmp_path / "log"
    log.touch()
    proc = subprocess.Popen(
        [str(SCRIPT), str(bin_dir), "127.0.0.1", "8000", "3"],
        env={**os.environ, "LOG": str(log)},
        start_new_session=True,  # its own process group, like a terminal's foreground job
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while log.read_text().count("started") < 2:
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    return proc, log


def test_ctrl_c_stops_simulator_and_server(tmp_path: Path) -> None:
    proc, log = _start(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C
    out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, out.decode()
    assert "simulate stopped" in log.read_text() and "serve stopped" in log.read_text()
    assert b"Segmentation fault" not in out and b"DustGrid stopped." in out


def test_sigterm_stops_both(tmp_path: Path) -> None:
    proc, log = _start(tmp_path)
    proc.terminate()
    proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert log.read_text().count("stopped") == 2
