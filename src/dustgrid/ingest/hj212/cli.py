"""``dustgrid hj212``: decode frames to JSON lines, encode JSON to frames (engineer's tool).

Mounted by the root CLI with ``root.add_typer(app, name="hj212")``; runnable alone with
``python -m dustgrid.ingest.hj212.cli``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from .build import DataItem, build_frame, make_qn
from .codec import Frame, parse_data_segment, peek
from .codes import (
    CN_RTD_DATA,
    FLAG_ACK,
    FLAG_SPLIT,
    MAX_FLAG,
    MAX_FLAG_DIGITS,
    REQUEST_FLAG,
    ST_DUST,
    VERSION_SHIFT,
)
from .envelope import CRC_BAD, unwrap
from .errors import CRCError, HJ212Error

EXIT_BAD: Final = 1

app = typer.Typer(
    help=(
        "HJ 212-2017 frame tools. `decode` prints one JSON object per frame line; "
        "`encode` turns a JSON object into a frame."
    ),
    no_args_is_help=True,
    add_completion=False,
)

FileArg = Annotated[
    Path | None,
    typer.Argument(help="Input file; stdin when omitted.", exists=True, dir_okay=False),
]


def _read(file: Path | None) -> bytes:
    """Raw input bytes: frames are bytes on the wire, so no decoding can fail here."""
    if file is not None:
        return file.read_bytes()
    stdin = sys.stdin
    buffer = getattr(stdin, "buffer", None)
    return buffer.read() if buffer is not None else stdin.read().encode("utf-8", "replace")


def _flag_fields(flag_text: str | None) -> dict[str, Any]:
    if flag_text is None or not flag_text.isdigit() or len(flag_text) > MAX_FLAG_DIGITS:
        return {"flag": flag_text}
    if int(flag_text) > MAX_FLAG:
        return {"flag": flag_text}
    flag = int(flag_text)
    return {
        "flag": flag,
        "version": flag >> VERSION_SHIFT,
        "ack_wanted": bool(flag & FLAG_ACK),
        "split": bool(flag & FLAG_SPLIT),
    }


def decode_line(line: bytes | str) -> dict[str, Any]:
    """The JSON object ``decode`` prints for one frame line (never raises)."""
    error: HJ212Error | None = None
    variant = CRC_BAD
    data: bytes | None = None
    try:
        data, variant = unwrap(line, allow_modbus=True)
    except HJ212Error as exc:
        error = exc
        if isinstance(exc, CRCError):
            variant = exc.variant
            try:  # CRC wrong but envelope intact: still show the content
                data, _ = unwrap(line, allow_modbus=True, verify=False)
            except HJ212Error:
                data = None
    frame: Frame | None = None
    if data is not None:
        try:
            frame = parse_data_segment(data, crc=variant)
        except HJ212Error as exc:
            error = error or exc
    out: dict[str, Any] = {"ok": error is None}
    if error is not None:
        out["error"] = str(error)
        out["error_code"] = error.code
    if frame is not None:
        out.update(frame.to_dict())
    else:
        fields = peek(line)
        out["crc"] = variant
        for key in ("qn", "st", "cn", "pw", "mn"):
            out[key] = fields.get(key.upper())
        out.update(_flag_fields(fields.get("Flag")))
        out["items"] = []
    out["crc"] = variant
    return out


def _lines(data: bytes) -> Iterator[bytes]:
    for line in data.splitlines():
        if line.strip():
            yield line.strip()


@app.command("decode")
def decode_cmd(file: FileArg = None) -> None:
    """Decode frames, one per line, from FILE or stdin; print one JSON
    object per line.

    Each object has ok, crc (hj212, modbus or bad), the header fields
    (qn, st, cn, pw, mn, flag, version, ack_wanted, split, pnum, pno),
    data_time (ISO, device-local, no zone) and items, each
    {code, metric, kind, value, flag, valid}; other CP keys are in cp.

    A frame with a CRC-16/MODBUS checksum counts as ok here (crc is
    "modbus"): this is an engineer's tool, the server decides per device.

    A bad frame gives ok false, error (what is wrong), error_code and
    whatever could still be parsed. Exit status 1 when any frame is bad.
    """
    bad = False
    for line in _lines(_read(file)):
        result = decode_line(line)
        bad = bad or not result["ok"]
        typer.echo(json.dumps(result, ensure_ascii=False))
    if bad:
        raise typer.Exit(EXIT_BAD)


def _items(raw: Any) -> Iterable[DataItem]:
    if not isinstance(raw, list):
        raise ValueError("'items' must be a list")
    for entry in raw:
        if not isinstance(entry, dict) or "code" not in entry:
            raise ValueError(f"item {entry!r} must be an object with a 'code'")
        yield DataItem(
            str(entry["code"]),
            str(entry.get("kind", "rtd")),
            entry.get("value"),
            entry.get("flag", "N"),
        )


def frame_from_json(obj: Any) -> bytes:
    """Build the frame described by one JSON object (see ``encode``'s help)."""
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    if "mn" not in obj or "pw" not in obj:
        raise ValueError("'mn' and 'pw' are required")
    data_time = datetime.fromisoformat(obj["data_time"]) if obj.get("data_time") else None
    qn = obj.get("qn")
    if qn is None:
        if data_time is None:
            raise ValueError("'qn' is required when there is no 'data_time'")
        qn = make_qn(data_time)
    extra = obj.get("cp") or None
    if extra is not None and not isinstance(extra, dict):
        raise ValueError("'cp' must be an object of extra CP keys")
    return build_frame(
        st=str(obj.get("st", ST_DUST)),
        cn=str(obj.get("cn", CN_RTD_DATA)),
        pw=str(obj["pw"]),
        mn=str(obj["mn"]),
        flag=obj.get("flag", REQUEST_FLAG),
        qn=str(qn),
        data_time=data_time,
        items=list(_items(obj.get("items", []))),
        extra={str(k): str(v) for k, v in extra.items()} if extra else None,
        pnum=obj.get("pnum"),
        pno=obj.get("pno"),
    )


@app.command("encode")
def encode_cmd(
    file: FileArg = None,
    crlf: Annotated[
        bool, typer.Option("--crlf", help="Write exact wire bytes (CRLF, no extra newline).")
    ] = False,
) -> None:
    """Encode a JSON object (or a list of them) from FILE or stdin.

    Example: {"st": "39", "cn": "2011", "pw": "123456", "mn": "...",
    "flag": 5, "data_time": "2024-05-01T10:00:00", "items": [{"code":
    "a34002", "kind": "rtd", "value": 85.3, "flag": "N"}]}

    Optional keys: qn (default: from data_time), cp (extra CP keys),
    pnum/pno. Defaults: st 39, cn 2011, flag 5, kind rtd, flag N.

    Each frame is printed without its CRLF, followed by a newline (one
    per line, as decode reads them); with --crlf, as exact wire bytes.
    """
    try:
        payload = json.loads(_read(file).decode("utf-8", "replace"))
        objects = payload if isinstance(payload, list) else [payload]
        frames = [frame_from_json(obj) for obj in objects]
    except (ValueError, TypeError, HJ212Error) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD) from None
    for frame in frames:
        if crlf:
            typer.echo(frame, nl=False)  # bytes go to the binary stream: CRLF kept as is
        else:
            typer.echo(frame.decode("ascii").rstrip("\r\n"))


if __name__ == "__main__":  # pragma: no cover
    app()
