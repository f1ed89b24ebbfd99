"""Fixtures for the HJ 212 codec tests: the recorded sample frames."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hj212"


@pytest.fixture(scope="session")
def fixture_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def fixture_frames() -> dict[str, list[bytes]]:
    """file stem -> frames (each with its CRLF) of tests/fixtures/hj212/*.txt."""
    out: dict[str, list[bytes]] = {}
    for path in sorted(FIXTURES.glob("*.txt")):
        out[path.stem] = [line + b"\r\n" for line in path.read_bytes().split(b"\r\n") if line]
    return out
