"""The signing key of sessions and tokens: ``DUSTGRID_SECRET_KEY``, else one key file under
``var_dir`` that the first process writes and every other reads; each app resolves it once,
when it is created, and keeps it (no module state, no file read per request)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dustgrid.app import create_app
from dustgrid.config import Settings

READ_KEY = (
    "import sys; from pathlib import Path; from dustgrid.config import Settings; "
    "print(Settings(var_dir=Path(sys.argv[1]), secret_key='').resolved_secret_key())"
)


def _settings(var_dir: Path, secret_key: str = "") -> Settings:
    return Settings(
        var_dir=var_dir, secret_key=secret_key, database_url=f"sqlite:///{var_dir}/x.db"
    )


def test_the_key_file_is_written_once_and_reused(tmp_path: Path) -> None:
    first = create_app(_settings(tmp_path))
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = first.state.secret_key
    assert len(key) >= 32 and key_file.read_text().strip() == key
    again = create_app(_settings(tmp_path))  # a restart, or another process
    assert again.state.secret_key == key
    assert key_file.read_text().strip() == key


def test_a_set_key_wins_and_writes_no_file(tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path, secret_key="s" * 40))
    assert app.state.secret_key == "s" * 40
    assert not (tmp_path / "secret_key").exists()


def test_each_app_resolves_its_key_when_it_is_created(tmp_path: Path) -> None:
    """A running app keeps the key it started with; a new app reads the file as it is now
    (nothing remembered between apps of one process)."""
    (tmp_path / "secret_key").write_text("k" * 40 + "\n")
    running = create_app(_settings(tmp_path))
    (tmp_path / "secret_key").write_text("n" * 40 + "\n")  # an operator rotates the key
    assert running.state.secret_key == "k" * 40
    assert create_app(_settings(tmp_path)).state.secret_key == "n" * 40
    other = tmp_path / "other"
    assert create_app(_settings(other)).state.secret_key not in ("k" * 40, "n" * 40)


def test_processes_starting_together_share_one_key(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", READ_KEY, str(tmp_path / "var")],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    keys = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert keys == {(tmp_path / "var" / "secret_key").read_text().strip()}
    assert not [p.name for p in (tmp_path / "var").iterdir() if p.name != "secret_key"]
