"""Stream splitting over TCP-like chunking, and split-packet reassembly."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dustgrid.ingest.hj212 import (
    DataItem,
    FrameSplitter,
    SplitPacketError,
    SplitReassembler,
    StreamError,
    build_data_frame,
    build_frame,
    decode,
)
from dustgrid.ingest.hj212.errors import E_GARBAGE, E_TOO_LARGE
from dustgrid.ingest.hj212.stream import StreamResult


def local(text: str) -> datetime:
    """A naive device-local time: HJ 212 carries no zone (the caller attaches the city's)."""
    return datetime.fromisoformat(text)


def frame(n: int, mn: str = "M1") -> bytes:
    return build_data_frame(
        mn=mn,
        pw="123456",
        data_time=local("2024-05-01T10:00") + timedelta(minutes=n % 60),
        items=[DataItem("a34002", "rtd", 80.0 + n), DataItem("a34004", "rtd", 40.0 + n)],
    )


def run(chunks: list[bytes], splitter: FrameSplitter | None = None) -> list[StreamResult]:
    s = splitter or FrameSplitter()
    out: list[StreamResult] = []
    for chunk in chunks:
        out += s.feed(chunk)
    return out + s.flush()


def frames_of(results: list[StreamResult]) -> list[bytes]:
    return [r for r in results if isinstance(r, bytes)]


def errors_of(results: list[StreamResult]) -> list[StreamError]:
    return [r for r in results if isinstance(r, StreamError)]


def test_several_frames_in_one_read() -> None:
    data = frame(1) + frame(2) + frame(3)
    assert frames_of(run([data])) == [frame(1), frame(2), frame(3)]


def test_byte_by_byte() -> None:
    data = frame(1) + frame(2)
    results = run([data[i : i + 1] for i in range(len(data))])
    assert [decode(f) for f in frames_of(results)] == [decode(frame(1)), decode(frame(2))]
    assert errors_of(results) == []


def test_garbage_between_frames_is_reported_then_resynced() -> None:
    results = run([b"\x00\x01junk" + frame(1) + b"more junk#" + frame(2) + b"\r\n\r\n"])
    assert frames_of(results) == [frame(1), frame(2)]
    errs = errors_of(results)
    assert len(errs) == 2 and all(e.code == E_GARBAGE for e in errs)
    assert "junk" in str(errs[0])


def test_whitespace_between_frames_is_silent() -> None:
    results = run([b"\r\n  " + frame(1) + b"\n\n" + frame(2)])
    assert frames_of(results) == [frame(1), frame(2)] and errors_of(results) == []


def test_hash_garbage_before_a_frame_does_not_eat_it() -> None:
    results = run([b"#", b"#", frame(1)])
    assert frames_of(results) == [frame(1)]
    results = run([b"##x" + frame(2)])
    assert frames_of(results) == [frame(2)]


def test_missing_crlf_between_frames_and_at_end() -> None:
    a, b = frame(1)[:-2], frame(2)[:-2]
    results = run([a + b])
    assert [decode(f) for f in frames_of(results)] == [decode(a), decode(b)]


def test_device_without_crlf_waiting_for_reply_is_answered() -> None:
    s = FrameSplitter()
    bare = frame(1)[:-2]
    assert s.feed(bare) == [bare]  # no need to wait for the next frame or a flush
    assert s.feed(b"\r\n") == [] and s.flush() == []


def test_truncated_frame_followed_by_next_frame() -> None:
    results = run([frame(1)[:40] + frame(2)])
    found = frames_of(results)
    assert found[1] == frame(2)
    with pytest.raises(Exception, match="length field says"):
        decode(found[0])


def test_buffer_cap_rejects_oversize_frames() -> None:
    s = FrameSplitter(max_buffer=64)
    results = run([frame(1) + frame(2)], s)
    assert frames_of(results) == []
    assert any(e.code == E_TOO_LARGE for e in errors_of(results))


def test_no_frame_end_within_cap() -> None:
    s = FrameSplitter(max_buffer=200)
    results = s.feed(b"##0010" + b"x" * 300)
    assert any("no frame end" in str(e) for e in errors_of(results))
    assert s.pending <= 200


def test_endless_garbage_keeps_memory_bounded() -> None:
    s = FrameSplitter(max_buffer=1000)
    reports = []
    for _ in range(100):
        reports += s.feed(b"z" * 997)
        assert s.pending <= 1
    reports += s.flush()
    assert s.pending == 0
    assert reports and all(isinstance(r, StreamError) for r in reports)
    assert sum(int(str(r).split()[1]) for r in reports) == 99_700


def test_split_packets_are_reassembled_in_order() -> None:
    qn = "20240501100000000"

    def part(pno: int) -> bytes:
        return build_frame(
            st="39",
            cn="2011",
            pw="1",
            mn="M1",
            flag=7,
            qn=qn,
            pnum=3,
            pno=pno,
            data_time=local("2024-05-01T10:00:00"),
            items=[DataItem(f"a3400{pno}", "rtd", float(pno))],
        )

    r = SplitReassembler()
    assert r.add(decode(part(3)), now=0.0) is None
    assert r.add(decode(part(1)), now=1.0) is None
    assert r.add(decode(part(1)), now=1.5) is None  # retransmission replaces
    whole = r.add(decode(part(2)), now=2.0)
    assert whole is not None and len(r) == 0
    assert [it.code for it in whole.items] == ["a34001", "a34002", "a34003"]
    assert (whole.split, whole.pnum, whole.pno, whole.flag) == (False, None, None, 5)


def test_reassembly_errors_and_purge() -> None:
    def part(mn: str, pnum: int, pno: int) -> bytes:
        return build_frame(
            st="39", cn="2011", pw="1", mn=mn, flag=6, qn="20240501100000000", pnum=pnum, pno=pno
        )

    r = SplitReassembler()
    unsplit = decode(frame(1))
    assert r.add(unsplit, now=0.0) is unsplit
    r.add(decode(part("A", 2, 1)), now=0.0)
    with pytest.raises(SplitPacketError, match="PNUM changed from 2 to 3"):
        r.add(decode(part("A", 3, 2)), now=1.0)
    r.add(decode(part("B", 2, 1)), now=5.0)
    r.add(decode(part("C", 2, 1)), now=20.0)
    assert r.purge(older_than=10.0) == [("B", "20240501100000000", 1, 2)]
    assert len(r) == 1
