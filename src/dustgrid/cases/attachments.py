"""Photos and documents of cases: checked by their bytes, stored by their sha256.

Validation reads the magic bytes (a renamed ``.exe`` is not a photo whatever it is called)
and enforces ``settings.attachment_max_bytes``. Active content is refused, not stored: a PDF
naming a script or an automatic action (``ACTIVE_PDF_NAMES``, also inside compressed object
streams and with ``#xx``-escaped names), and any file carrying HTML/SVG markup
(``MARKUP_MARKERS``: an image that is also a web page, a "polyglot"). The stored name is
derived from the sniffed type (``poly.html`` holding a PNG is kept as ``poly.png``).
``download_headers`` says how the bytes are served (see docs/security.md). Files go under
``var_dir/attachments/<sha[:2]>/<sha>``; identical uploads share one file.

Nothing half-written stays behind: a file is written to a temporary name and renamed into
place (readers never see a partial file), and a file this transaction created is deleted
again when the transaction (or the savepoint it was written in) rolls back. A crash
between the write and the rollback can still leave an unreferenced file; ``gc_orphans``
(run by the job scheduler) removes those after a grace period.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from dustgrid import periodic
from dustgrid.cases import repository as repo
from dustgrid.cases.models import CaseAttachment
from dustgrid.config import Settings
from dustgrid.errors import Invalid

PHOTO = "photo"
DOCUMENT = "document"
KINDS = (PHOTO, DOCUMENT)
IMAGE_MIMES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic"})
# The file extension a stored attachment gets, from its sniffed type (never the upload's).
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "application/pdf": ".pdf",
}
# PDF names that run script or act on their own when the file is opened (ISO 32000-1
# §12.6: actions, §12.6.4.16 JavaScript; /AA = additional actions, /Launch = start a program).
ACTIVE_PDF_NAMES = frozenset({"JavaScript", "JS", "OpenAction", "Launch", "AA"})
# Byte sequences of markup a browser would run if it ever rendered the file as a page.
MARKUP_MARKERS = (b"<script", b"<html", b"<svg", b"<iframe", b"<object", b"<embed", b"<!doctype")
# The CSP of a download response: no script, plugins or same-origin access, even if a
# browser is talked into rendering the bytes as a page.
ATTACHMENT_CSP = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"
# A compressed PDF stream is inflated only up to this size when looking for active names.
PDF_SCAN_MAX_INFLATED = 32 * 1024 * 1024
_PDF_NAME = re.compile(rb"/((?:[A-Za-z0-9_.+-]|#[0-9A-Fa-f]{2})+)")
_PDF_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
_NEW_FILES = "dustgrid.cases.new_files"


@dataclass(frozen=True, slots=True)
class AttachmentIn:
    """An upload as the service receives it (from the API, a page, or an intake channel)."""

    filename: str
    content: bytes
    kind: str = PHOTO  # "photo": images only; "document": images or PDF


@dataclass(frozen=True, slots=True)
class CheckedFile:
    filename: str
    content: bytes
    kind: str
    mime: str
    sha256: str


def sniff(content: bytes) -> str | None:
    """The MIME type the leading bytes prove, or None for anything we do not accept."""
    head = content[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1"):
        return "image/heic"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def _clean_name(name: str) -> str:
    base = os.path.basename(name.replace("\\", "/")).strip() or "file"
    return "".join(ch for ch in base if ch.isprintable())[:255]


def safe_name(name: str, mime: str) -> str:
    """The upload's name with its extension replaced by the one of the sniffed type, and
    only letters, digits, CJK and ``._-`` kept (no quotes or separators for a header)."""
    stem = os.path.splitext(_clean_name(name))[0]
    stem = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in stem).strip("._")
    return f"{stem[:120] or 'file'}{EXTENSIONS.get(mime, '.bin')}"


def _pdf_names(data: bytes) -> set[str]:
    found = set()
    for m in _PDF_NAME.finditer(data):
        raw = m.group(1)
        name = re.sub(rb"#([0-9A-Fa-f]{2})", lambda h: bytes([int(h.group(1), 16)]), raw)
        found.add(name.decode("latin-1"))
    return found


def active_pdf_names(content: bytes) -> list[str]:
    """Active names (``ACTIVE_PDF_NAMES``) in the PDF, in plain text or in inflatable streams."""
    names = _pdf_names(content)
    for m in _PDF_STREAM.finditer(content):
        inflater = zlib.decompressobj()
        try:
            inflated = inflater.decompress(m.group(1), PDF_SCAN_MAX_INFLATED)
        except zlib.error:
            continue  # not a Flate stream (an image, say): nothing to read in it
        names |= _pdf_names(inflated)
    return sorted(names & ACTIVE_PDF_NAMES)


def markup_in(content: bytes) -> bytes | None:
    """The first markup marker in the bytes (case-insensitive), or None."""
    lower = content.lower()
    for marker in MARKUP_MARKERS:
        if marker in lower:
            return marker
    return None


def _refuse_active(name: str, mime: str, content: bytes) -> None:
    if mime == "application/pdf":
        active = active_pdf_names(content)
        if active:
            listed = ", ".join(f"/{n}" for n in active)
            raise Invalid(
                "cases.error.pdf_script_or_automatic_actions_refused",
                listed=listed,
                name=name,
                details={"filename": name, "active": active},
            )
    marker = markup_in(content)
    if marker is not None:
        raise Invalid(
            "cases.error.carries_web_page_markup_and_refused",
            marker_decode=marker.decode(),
            name=name,
            details={"filename": name},
        )


def download_headers(filename: str, mime: str) -> tuple[str, str, dict[str, str]]:
    """(name, disposition, extra headers) for serving a stored attachment.

    Images may show inline, under a name derived from their sniffed type; everything else
    (PDF) downloads. The sandbox CSP denies script even if a browser renders the bytes as a
    document; ``X-Content-Type-Options: nosniff`` (keeping the browser to the declared type)
    is on every response already (``app.SecurityHeaders``).
    """
    disposition = "inline" if mime in IMAGE_MIMES else "attachment"
    headers = {"Content-Security-Policy": ATTACHMENT_CSP}
    return safe_name(filename, mime), disposition, headers


def check(files: Sequence[AttachmentIn], settings: Settings) -> list[CheckedFile]:
    """Validate every upload before anything is written; 422 naming the first bad one."""
    if len(files) > settings.attachment_max_files:
        raise Invalid(
            "cases.error.too_many_attachments_most",
            attachment_max_files=settings.attachment_max_files,
        )
    out: list[CheckedFile] = []
    for f in files:
        name = _clean_name(f.filename)
        if f.kind not in KINDS:
            raise Invalid("cases.error.attachment_kind_must_photo_or_document", kind=f.kind)
        if not f.content:
            raise Invalid("cases.error.empty_file", name=name)
        if len(f.content) > settings.attachment_max_bytes:
            mb = settings.attachment_max_bytes / 1024 / 1024
            raise Invalid(
                "cases.error.file_too_large_limit_mb",
                name=name,
                mb=f"{mb:.1f}",
                details={"filename": name, "size": len(f.content)},
            )
        mime = sniff(f.content)
        if mime is None or (f.kind == PHOTO and mime not in IMAGE_MIMES):
            raise Invalid(
                "cases.error.not_an_image" if f.kind == PHOTO else "cases.error.not_image_or_pdf",
                name=name,
                details={"filename": name},
            )
        _refuse_active(name, mime, f.content)
        sha = hashlib.sha256(f.content).hexdigest()
        out.append(CheckedFile(safe_name(name, mime), f.content, f.kind, mime, sha))
    return out


def root(settings: Settings) -> Path:
    return settings.var_dir / "attachments"


def path_for(settings: Settings, sha256: str) -> Path:
    return root(settings) / sha256[:2] / sha256


def _descends(txn: SessionTransaction | None, ancestor: SessionTransaction) -> bool:
    while txn is not None:
        if txn is ancestor:
            return True
        txn = txn.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _remove_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending: list[tuple[SessionTransaction | None, Path]] = session.info.get(_NEW_FILES) or []
    if not pending:
        return
    keep = []
    for txn, path in pending:
        if _descends(txn, previous_transaction):
            path.unlink(missing_ok=True)
        else:
            keep.append((txn, path))
    session.info[_NEW_FILES] = keep


@event.listens_for(Session, "after_commit")
def _forget_committed(session: Session) -> None:
    session.info.pop(_NEW_FILES, None)


def write_file(session: Session, path: Path, content: bytes) -> None:
    """Write ``content`` at ``path`` (content-addressed: an existing file is kept) through a
    temporary name, and delete it again if the session's transaction rolls back. Other
    domains storing files of their own (inspection photos) write through this too."""
    if path.exists():
        return  # content-addressed: the same bytes are already stored
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
    txn = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_NEW_FILES, []).append((txn, path))


def _write(session: Session, settings: Settings, f: CheckedFile) -> None:
    write_file(session, path_for(settings, f.sha256), f.content)


def store(
    session: Session,
    settings: Settings,
    files: Sequence[CheckedFile],
    *,
    case_id: int,
    event_id: int | None,
    uploaded_by: int | None,
) -> list[CaseAttachment]:
    """Write the files and their rows (the caller has validated them with ``check``)."""
    rows = []
    for f in files:
        _write(session, settings, f)
        row = CaseAttachment(
            case_id=case_id,
            event_id=event_id,
            kind=f.kind,
            filename=f.filename,
            mime=f.mime,
            size=len(f.content),
            sha256=f.sha256,
            uploaded_by_id=uploaded_by,
        )
        session.add(row)
        rows.append(row)
    if rows:
        session.flush()
    return rows


@periodic.chore("cases.attachments")
def gc_orphans(session: Session, settings: Settings, *, grace_s: float = 86400.0) -> int:
    """Delete stored files no row refers to and older than ``grace_s``; returns the count."""
    base = root(settings)
    if not base.exists():
        return 0
    cutoff = time.time() - grace_s
    removed = 0
    for path in base.glob("??/*"):
        if path.name.startswith(".") and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)  # a temporary file left by a crash
            continue
        if path.stat().st_mtime >= cutoff:
            continue
        if not repo.attachment_in_use(session, path.name):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def describe(rows: Sequence[CaseAttachment]) -> list[dict[str, Any]]:
    """Attachment summaries for event data and notifications."""
    return [{"id": r.id, "filename": r.filename, "mime": r.mime, "size": r.size} for r in rows]
