"""Incremental TCP stream splitting and split-packet reassembly (pure: no sockets, no clock).

:class:`FrameSplitter` turns arbitrary read chunks into frame candidates. It finds frame
boundaries only (``##`` start; CRLF, the next ``##``, or the declared length at end of
data); validation is :func:`~.codec.decode`'s job, so its exact messages apply. Problems in
the byte stream itself (garbage, oversize, truncation) come back as :class:`StreamError`
*results*: ``feed`` never raises on any input.

:class:`SplitReassembler` joins PNUM/PNO split packets keyed by (MN, QN). It never reads a
clock: the caller passes ``now`` (any monotonic number) and purges stale partials itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

from .codec import Frame
from .codes import CRC_DIGITS, FLAG_SPLIT, HEADER_LEN, MAX_FRAME_LEN, START_LEN
from .envelope import CRC_HJ212
from .errors import E_GARBAGE, E_TOO_LARGE, SplitPacketError, StreamError

TRAILER_SLACK: Final = 64  # bytes tolerated between a frame's CRC and its CRLF
DEFAULT_MAX_BUFFER: Final = MAX_FRAME_LEN + TRAILER_SLACK
_START: Final = b"##"
_CRLF: Final = b"\r\n"
_WHITESPACE: Final = b" \t\r\n\x00"
_PREVIEW: Final = 48  # bytes of garbage quoted in a report

StreamResult = bytes | StreamError


class FrameSplitter:
    """Feed bytes as they arrive; get back complete frame bytes or :class:`StreamError`.

    ``max_buffer`` caps the bytes held while waiting for a frame to complete (a frame is at
    most 10,011 bytes by definition; lower it to bound memory per connection further).
    """

    def __init__(self, *, max_buffer: int = DEFAULT_MAX_BUFFER) -> None:
        self.max_buffer = max(max_buffer, HEADER_LEN + CRC_DIGITS)
        self._buf = bytearray()
        self._garbage = 0  # garbage bytes skipped since the last report
        self._garbage_head = b""

    @property
    def pending(self) -> int:
        """Bytes buffered while waiting for the rest of a frame."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[StreamResult]:
        """Add received bytes; return the frames (and stream errors) now complete."""
        self._buf += data
        return self._drain(eof=False)

    def flush(self) -> list[StreamResult]:
        """End of stream: a last frame without CRLF is still returned, leftovers reported."""
        out = self._drain(eof=True)
        self._report_garbage(out)
        return out

    # -- internals -------------------------------------------------------------------

    def _skip(self, count: int) -> None:
        """Drop ``count`` leading bytes; remember non-whitespace as garbage to report."""
        chunk = bytes(self._buf[:count])
        del self._buf[:count]
        if chunk.strip(_WHITESPACE):
            if len(self._garbage_head) < _PREVIEW:
                head = self._garbage_head + chunk if self._garbage else chunk.lstrip(_WHITESPACE)
                self._garbage_head = head[:_PREVIEW]
            self._garbage += len(chunk)

    def _report_garbage(self, out: list[StreamResult]) -> None:
        if self._garbage:
            out.append(
                StreamError(
                    f"skipped {self._garbage} bytes that are not a frame: {self._garbage_head!r}",
                    code=E_GARBAGE,
                    raw=self._garbage_head,
                )
            )
            self._garbage = 0
            self._garbage_head = b""

    def _emit(self, size: int, out: list[StreamResult]) -> None:
        """Hand out the first ``size`` bytes as a frame, after any pending garbage report."""
        self._report_garbage(out)
        out.append(bytes(self._buf[:size]))
        del self._buf[:size]

    def _drain(self, *, eof: bool) -> list[StreamResult]:
        out: list[StreamResult] = []
        buf = self._buf
        while buf:
            start = buf.find(_START)
            if start < 0:
                self._skip_unframed(eof, out)
                break
            if start:
                self._skip(start)
            if len(buf) < HEADER_LEN:
                self._skip_short(eof)
                break
            if not buf[START_LEN:HEADER_LEN].isdigit():
                self._skip(1)  # "##" not followed by a length: garbage (maybe "###0101...")
                continue
            end = (
                HEADER_LEN + int(buf[START_LEN:HEADER_LEN]) + CRC_DIGITS
            )  # where the CRLF should start
            if end > self.max_buffer:
                self._report_garbage(out)
                out.append(
                    StreamError(
                        f"frame of {end} bytes exceeds the buffer cap of {self.max_buffer}",
                        code=E_TOO_LARGE,
                        raw=bytes(buf[:HEADER_LEN]),
                    )
                )
                del buf[:START_LEN]
                continue
            crlf = buf.find(_CRLF, HEADER_LEN)
            nxt = buf.find(_START, START_LEN)
            stops = [i for i in (crlf, nxt) if i >= 0]
            if stops:
                stop = min(stops)
                self._emit(stop + len(_CRLF) if stop == crlf else stop, out)
                continue
            if len(buf) >= end and not buf[end:].strip(_WHITESPACE):
                # CRC complete and nothing but (part of) the trailer after it: a device that
                # omits CRLF and waits for our reply must not wait for the next frame.
                self._emit(end, out)
                continue
            if (eof or len(buf) > self.max_buffer) and self._unterminated(eof, out):
                continue
            break  # wait for the rest of the frame (no call on this common path)
        return out

    # The rarely taken ends of _drain, split off to keep its per-frame loop short: each runs
    # at most once per call (or once per oversized frame), never once per well-formed frame.

    def _skip_unframed(self, eof: bool, out: list[StreamResult]) -> None:
        """No "##" in the buffer: drop it all (keep a last "#" that may be half of "##" while
        more may come); report the garbage once it exceeds the buffer cap."""
        buf = self._buf
        keep = 1 if buf.endswith(b"#") and not eof else 0  # maybe half of "##"
        self._skip(len(buf) - keep)
        if self._garbage > self.max_buffer:
            self._report_garbage(out)

    def _skip_short(self, eof: bool) -> None:
        """Fewer bytes than a header after "##": wait for more, or drop them at end of data."""
        if eof:
            self._skip(len(self._buf))

    def _unterminated(self, eof: bool, out: list[StreamResult]) -> bool:
        """A frame without CRLF, next "##" or complete declared length, at end of data or
        past the buffer cap (only then called). At end of data it is handed out as it is
        (False: stop); past the cap its "##" is dropped (True: look for the next frame)."""
        buf = self._buf
        if eof:
            self._emit(len(buf), out)
            return False
        self._report_garbage(out)
        out.append(
            StreamError(
                f"no frame end within {self.max_buffer} bytes",
                code=E_TOO_LARGE,
                raw=bytes(buf[:_PREVIEW]),
            )
        )
        del buf[:START_LEN]
        return True


@dataclass(slots=True)
class _Partial:
    pnum: int
    first_seen: float
    parts: dict[int, Frame] = field(default_factory=dict)


class SplitReassembler:
    """Collect split packets (Flag bit D, PNUM/PNO) per (MN, QN) until all parts are in."""

    def __init__(self) -> None:
        self._partials: dict[tuple[str, str | None], _Partial] = {}

    def __len__(self) -> int:
        return len(self._partials)

    def add(self, frame: Frame, now: float) -> Frame | None:
        """Return the whole frame when complete (unsplit frames pass through), else None."""
        if not frame.split:
            return frame
        if frame.pnum is None or frame.pno is None:
            raise SplitPacketError(f"MN {frame.mn} QN {frame.qn}: split flag without PNUM/PNO")
        key = (frame.mn, frame.qn)
        partial = self._partials.get(key)
        if partial is None:
            partial = self._partials[key] = _Partial(frame.pnum, now)
        elif partial.pnum != frame.pnum:
            del self._partials[key]
            raise SplitPacketError(
                f"MN {frame.mn} QN {frame.qn}: PNUM changed from {partial.pnum} to "
                f"{frame.pnum}; partial packet dropped"
            )
        partial.parts[frame.pno] = frame  # a retransmitted part replaces the earlier copy
        if len(partial.parts) < partial.pnum:
            return None
        del self._partials[key]
        return _combine([partial.parts[i] for i in sorted(partial.parts)])

    def purge(self, older_than: float) -> list[tuple[str, str | None, int, int]]:
        """Drop partials first seen before ``older_than``; return (MN, QN, got, PNUM) each."""
        stale = [k for k, p in self._partials.items() if p.first_seen < older_than]
        dropped = []
        for key in stale:
            partial = self._partials.pop(key)
            dropped.append((key[0], key[1], len(partial.parts), partial.pnum))
        return dropped


def _combine(parts: list[Frame]) -> Frame:
    first = parts[0]
    cp: dict[str, str] = {}
    for part in parts:
        cp.update(part.cp)
    return replace(
        first,
        flag=first.flag & ~FLAG_SPLIT,
        split=False,
        pnum=None,
        pno=None,
        data_time=next((p.data_time for p in parts if p.data_time is not None), None),
        items=[it for part in parts for it in part.items],
        cp=cp,
        crc=next((p.crc for p in parts if p.crc != CRC_HJ212), CRC_HJ212),
    )
