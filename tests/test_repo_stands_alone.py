"""A clone of the repository alone must work: no tracked file points outside it.

A user who clones DustGrid has nothing beside the clone, so code, tests, docs, the Makefile
and CI may only name paths inside the repository. Data the product needs ships in
``src/dustgrid/data`` with its licence. The check names no outside folder itself: it resolves
every ``../`` path, absolute paths into the folder that holds the clone, and links from docs.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from dustgrid.data import PRSA_DIR

REPO = Path(__file__).resolve().parents[1]
#: Links in these are relative to the file itself (Markdown, pages, style sheets).
FILE_RELATIVE = {".md", ".html", ".css", ".js", ".svg"}
SKIP_DIRS = ("src/dustgrid/web/static/vendor/",)
UP_PATH = re.compile(r"(?<![\w./])(?:\.\./)+[\w.\-]+(?:/[\w.\-]+)*")
PY_UP = re.compile(r"""/\s*["']\.\.["']|\b(?:REPO|ROOT)\.parent\b""")  # / "..", REPO.parent
#: Absolute paths into the folder that holds the clone (a sibling of the repository); none
#: when the clone sits at the file system's root.
BESIDE = re.compile(
    rf"(?<![\w.]){re.escape(str(REPO.parent).rstrip('/'))}/(?!{re.escape(REPO.name)}\b)"
    if REPO.parent != REPO.parent.parent
    else r"(?!)"
)
#: A line that names an outside path on purpose (a path-traversal attempt a test makes).
ALLOW_MARK = "outside-path: test input"


def _tracked_names() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
        ).stdout
        return [n for n in out.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):  # an export without .git
        names = [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file()]
        return [n for n in names if not n.startswith((".git/", ".venv/", "var/"))]


def _tracked_text_files() -> list[Path]:
    files = []
    for name in _tracked_names():
        if name.startswith(SKIP_DIRS):
            continue
        path = REPO / name
        try:
            path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary (images, fonts)
        files.append(path)
    return files


def test_no_tracked_link_leads_outside_the_repository() -> None:
    outside = [
        name
        for name in _tracked_names()
        if (REPO / name).is_symlink() and _escapes(REPO, str((REPO / name).readlink()))
    ]
    assert outside == [], f"links to paths outside the repository: {outside}"


def _escapes(base: Path, ref: str) -> bool:
    target = (base / ref).resolve()
    return target != REPO and REPO not in target.parents


def outside_references(path: Path, text: str) -> list[str]:
    """``line: reference`` for every path in ``text`` that leaves the repository."""
    found = []
    relative_to_file = path.suffix in FILE_RELATIVE
    for lineno, line in enumerate(text.splitlines(), 1):
        if ALLOW_MARK in line:
            continue
        for m in BESIDE.finditer(line):
            found.append(f"{lineno}: {m.group(0)}")
        if path.suffix == ".py":
            for m in PY_UP.finditer(line):
                found.append(f"{lineno}: {m.group(0).strip()}")
        for m in UP_PATH.finditer(line):
            ref = m.group(0)
            base = path.parent if relative_to_file else REPO
            # from docs a sibling folder reads as a link to a file the repository lacks
            missing = relative_to_file and not (base / ref).exists()
            if _escapes(base, ref) or missing:
                found.append(f"{lineno}: {ref}")
    return found


def test_no_tracked_file_points_outside_the_repository() -> None:
    problems = {}
    for path in _tracked_text_files():
        if path == Path(__file__).resolve():
            continue  # this file names the patterns it looks for
        hits = outside_references(path, path.read_text(encoding="utf-8"))
        if hits:
            problems[str(path.relative_to(REPO))] = hits
    assert problems == {}, f"paths outside the repository: {problems}"


@pytest.mark.parametrize(
    ("name", "text", "bad"),
    [
        ("src/dustgrid/x.py", 'DATA = Path("../elsewhere/data/prsa")', True),
        ("tests/x.py", 'PRSA = REPO / ".." / "elsewhere"', True),
        ("tests/x.py", 'DATA = REPO.parent / "elsewhere"', True),
        ("docs/x.md", "see [the README](../README.md)", False),
        ("docs/x.md", "see ../../elsewhere/rules.md", True),
        ("docs/x.md", "the rules in `../elsewhere/rules.md`", True),
        ("Makefile", f"\tcp {REPO.parent}/elsewhere/rules.md docs/", True),
        ("Makefile", f"\tcp {REPO}/docs/domain.md /tmp/", False),
        ("src/dustgrid/x.py", "# 10/../2026 is not a path", False),
        ("tests/x.py", 'name("../../etc/passwd")  # outside-path: test input', False),
    ],
)
def test_the_check_itself_tells_inside_from_outside(name: str, text: str, bad: bool) -> None:
    assert bool(outside_references(REPO / name, text)) is bad


def test_the_real_data_ships_with_its_licence() -> None:
    readme = (PRSA_DIR / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in readme and "Zhang" in readme
    for station in ("Dongsi", "Huairou"):
        header = (PRSA_DIR / f"{station}.csv").read_text(encoding="utf-8").splitlines()[0]
        assert header.startswith("No,year,month,day,hour,PM2.5,PM10")
