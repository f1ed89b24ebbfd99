"""Photos and documents of cases: checked by their bytes, stored by their sha256.

Validation reads the magic bytes (a renamed ``.exe`` is not a photo whatever it is called)
and enforces ``settings.attachment_max_bytes``. Files go under
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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, SessionTransaction

from dustgrid.cases.models import CaseAttachment
from dustgrid.config import Settings
from dustgrid.errors import Invalid

PHOTO = "photo"
DOCUMENT = "document"
KINDS = (PHOTO, DOCUMENT)
IMAGE_MIMES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic"})
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


def check(files: Sequence[AttachmentIn], settings: Settings) -> list[CheckedFile]:
    """Validate every upload before anything is written; 422 naming the first bad one."""
    if len(files) > settings.attachment_max_files:
        raise Invalid(
            f"附件过多（最多 {settings.attachment_max_files} 个） / "
            f"too many attachments (at most {settings.attachment_max_files})"
        )
    out: list[CheckedFile] = []
    for f in files:
        name = _clean_name(f.filename)
        if f.kind not in KINDS:
            raise Invalid(f"附件类型无效：{f.kind} / attachment kind must be photo or document")
        if not f.content:
            raise Invalid(f"附件为空：{name} / empty file")
        if len(f.content) > settings.attachment_max_bytes:
            mb = settings.attachment_max_bytes / 1024 / 1024
            raise Invalid(
                f"附件过大：{name}（上限 {mb:.1f} MB） / "
                f"file too large: {name} (limit {mb:.1f} MB)",
                details={"filename": name, "size": len(f.content)},
            )
        mime = sniff(f.content)
        if mime is None or (f.kind == PHOTO and mime not in IMAGE_MIMES):
            what = "图片" if f.kind == PHOTO else "图片或 PDF"
            en = "an image" if f.kind == PHOTO else "an image or a PDF"
            raise Invalid(
                f"文件不是{what}：{name} / {name} is not {en} (JPEG, PNG, GIF, WebP, HEIC"
                f"{'' if f.kind == PHOTO else ', PDF'})",
                details={"filename": name},
            )
        sha = hashlib.sha256(f.content).hexdigest()
        out.append(CheckedFile(name, f.content, f.kind, mime, sha))
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


def _write(session: Session, settings: Settings, f: CheckedFile) -> None:
    path = path_for(settings, f.sha256)
    if path.exists():
        return  # content-addressed: the same bytes are already stored
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{f.sha256}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    tmp.write_bytes(f.content)
    os.replace(tmp, path)
    txn = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(_NEW_FILES, []).append((txn, path))


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
        used = session.scalar(
            select(CaseAttachment.id).where(CaseAttachment.sha256 == path.name).limit(1)
        )
        if used is None:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def describe(rows: Sequence[CaseAttachment]) -> list[dict[str, Any]]:
    """Attachment summaries for event data and notifications."""
    return [{"id": r.id, "filename": r.filename, "mime": r.mime, "size": r.size} for r in rows]
