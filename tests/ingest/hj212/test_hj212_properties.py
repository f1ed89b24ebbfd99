"""Hypothesis properties: round trips, robustness on garbage, chunking invariance, and the
CP fast path agreeing with the reference loop."""

from __future__ import annotations

import contextlib
import string
from datetime import datetime

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from dustgrid.ingest.hj212 import (
    DataItem,
    Frame,
    FrameSplitter,
    HJ212Error,
    StreamError,
    build_frame,
    decode,
    make_qn,
    parse_data_segment,
)
from dustgrid.ingest.hj212.codes import DATA_FLAGS, FLAG_SPLIT, KIND_SUFFIXES, POLLUTANT_CODES
from dustgrid.ingest.hj212.cp import parse_cp, parse_cp_reference
from tests.ingest.hj212.hj212_frames import envelope

SAFE = "".join(c for c in string.printable if c not in ";,=&#\r\n\t\x0b\x0c")
TEXT_ALPHABET = string.ascii_letters + string.digits + "-._"
SEGMENT_ALPHABET = "QNSTCPWMFlagRtdAvgMinMaxCouDTime=;,&-.0123456789a3eN "


def local(text: str) -> datetime:
    """A naive device-local time: HJ 212 carries no zone (the caller attaches the city's)."""
    return datetime.fromisoformat(text)


local_times = st.datetimes(
    min_value=local("1000-01-01T00:00:00"), max_value=local("9999-12-31T00:00:00")
)
codes = st.one_of(st.sampled_from(sorted(POLLUTANT_CODES)), st.text(TEXT_ALPHABET, min_size=1))
values = st.one_of(
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**12), 10**12),
)
flags = st.one_of(st.none(), st.sampled_from(sorted(DATA_FLAGS)))


@st.composite
def item_lists(draw: st.DrawFn) -> list[DataItem]:
    chosen = draw(st.lists(codes, unique=True, max_size=12))
    items = []
    for code in chosen:
        flag = draw(flags)
        for kind in draw(
            st.lists(st.sampled_from(sorted(KIND_SUFFIXES.values())), unique=True, min_size=1)
        ):
            items.append(DataItem(code, kind, draw(values), flag))
    return items


@st.composite
def frames(draw: st.DrawFn) -> dict[str, object]:
    items = draw(item_lists())
    flag = draw(st.integers(0, 255))
    split = bool(flag & FLAG_SPLIT)
    pnum = draw(st.integers(1, 9999)) if split else None
    pno = draw(st.integers(1, pnum)) if pnum else None
    return {
        "st": draw(st.text(string.digits, min_size=1, max_size=5)),
        "cn": draw(st.text(string.digits, min_size=1, max_size=7)),
        "pw": draw(st.text(SAFE, min_size=1, max_size=9)),
        "mn": draw(st.text(SAFE, min_size=1, max_size=24)),
        "flag": flag,
        "qn": draw(st.one_of(st.none(), local_times.map(make_qn))),
        "data_time": draw(local_times) if items else draw(st.one_of(st.none(), local_times)),
        "items": items,
        "extra": draw(
            st.dictionaries(
                st.text(string.ascii_letters, min_size=1, max_size=12).filter(
                    lambda k: k != "DataTime"
                ),
                st.text(SAFE, max_size=12),
                max_size=4,
            )
        ),
        "pnum": pnum,
        "pno": pno,
    }


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_build_then_decode_round_trips(spec: dict[str, object]) -> None:
    raw = build_frame(**spec)  # type: ignore[arg-type]
    f = decode(raw)
    assert (f.st, f.cn, f.pw, f.mn, f.flag, f.qn) == tuple(
        spec[k] for k in ("st", "cn", "pw", "mn", "flag", "qn")
    )
    assert (f.pnum, f.pno, f.version) == (spec["pnum"], spec["pno"], spec["flag"] >> 2)  # type: ignore[operator]
    dt = spec["data_time"]
    assert f.data_time == (dt.replace(microsecond=0) if isinstance(dt, datetime) else None)
    expected = [
        (it.code, it.kind, None if it.value is None else float(it.value), it.flag or "N")
        for it in spec["items"]  # type: ignore[attr-defined]
    ]
    assert [(it.code, it.kind, it.value, it.flag) for it in f.items] == expected
    assert all(it.valid == DATA_FLAGS[it.flag] for it in f.items)
    assert f.cp == spec["extra"]
    assert build_frame(**spec) == raw  # type: ignore[arg-type]  # deterministic


@settings(max_examples=500)
@given(st.binary(max_size=600))
def test_random_bytes_only_raise_codec_errors(data: bytes) -> None:
    for candidate in (data, b"##" + data, b"##%04d" % len(data) + data):
        with contextlib.suppress(HJ212Error):
            decode(candidate, allow_modbus=True)


@settings(max_examples=800)
@given(st.text(SEGMENT_ALPHABET, max_size=300))
def test_random_segments_with_valid_envelope_only_raise_codec_errors(text: str) -> None:
    for segment in (text, f"ST=39;CN=2011;PW=1;MN=M;CP=&&{text}&&"):
        try:
            f = decode(envelope(segment.encode()))
        except HJ212Error:
            continue
        assert isinstance(f, Frame)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(frames(), st.data())
def test_mutated_frames_only_raise_codec_errors(
    spec: dict[str, object], data: st.DataObject
) -> None:
    raw = bytearray(build_frame(**spec))  # type: ignore[arg-type]
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        op = data.draw(st.sampled_from(["set", "insert", "delete"]))
        byte = data.draw(st.integers(0, 255))
        if op == "set":
            raw[i] = byte
        elif op == "insert":
            raw.insert(i, byte)
        else:
            del raw[i]
    segment = bytes(raw[6:-6])
    for candidate in (bytes(raw), envelope(segment)):  # the second one passes the CRC
        with contextlib.suppress(HJ212Error):
            decode(candidate)


cp_keys = st.one_of(
    st.sampled_from(["DataTime", "BeginTime", "a34002-Rtd", "a34002-Flag", "a34004-Avg", "x-Cou"]),
    st.builds(lambda c, s: f"{c}-{s}", codes, st.sampled_from([*KIND_SUFFIXES, "Flag", "ZsRtd"])),
    st.text("aZ-=", max_size=4),
)
cp_values = st.one_of(
    st.sampled_from(["", "N", "D", "x", "1.5", "-2", "nan", "inf", "20240501100000", "2024133"]),
    st.floats(allow_nan=False).map(repr),
    st.text("0123456789.=eN", max_size=6),
)


@settings(max_examples=600)
@given(
    st.lists(st.tuples(cp_keys, cp_values), max_size=12),
    st.lists(st.sampled_from([";", ","]), min_size=20, max_size=20),
)
def test_cp_fast_path_matches_reference(pairs: list[tuple[str, str]], seps: list[str]) -> None:
    check_cp_paths_agree(pairs, seps)


def check_cp_paths_agree(pairs: list[tuple[str, str]], seps: list[str]) -> None:
    body = "".join(
        f"{sep if i else ''}{k}={v}"
        for i, ((k, v), sep) in enumerate(zip(pairs, seps, strict=False))
    )
    outcomes = []
    for parser in (parse_cp, parse_cp_reference, parse_cp):  # twice: cold and cached plan
        try:
            outcomes.append(("ok", parser(body)))
        except HJ212Error as exc:
            outcomes.append(("error", (type(exc), str(exc))))
    assert outcomes[0] == outcomes[1] == outcomes[2]


@st.composite
def plausible_pairs(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Mostly well-formed CP pairs, so the fast path is taken and compared often."""
    pairs: list[tuple[str, str]] = []
    if draw(st.booleans()):
        pairs.append(("DataTime", draw(st.sampled_from(["20240501100000", "20240230000000"]))))
    for code in draw(st.lists(st.sampled_from(["a34002", "a34004", "LA", "zz9"]), max_size=5)):
        kind = draw(st.sampled_from([*KIND_SUFFIXES, "ZsRtd"]))
        pairs.append(
            (
                f"{code}-{kind}",
                draw(st.one_of(values.map(lambda v: "" if v is None else repr(v)), cp_values)),
            )
        )
        if draw(st.booleans()):
            pairs.append((f"{code}-Flag", draw(st.sampled_from(["N", "D", "n", "Q", "S"]))))
    if draw(st.booleans()):
        pairs.append(("PolId", "a34002"))
    return draw(st.permutations(pairs)) if draw(st.booleans()) else pairs


@settings(max_examples=600)
@given(plausible_pairs(), st.lists(st.sampled_from([";", ","]), min_size=20, max_size=20))
def test_cp_fast_path_matches_reference_on_plausible_input(
    pairs: list[tuple[str, str]], seps: list[str]
) -> None:
    check_cp_paths_agree(pairs, seps)


@settings(max_examples=300)
@given(st.binary(max_size=3000), st.lists(st.integers(1, 400), max_size=20))
def test_splitter_never_raises(data: bytes, cuts: list[int]) -> None:
    s = FrameSplitter(max_buffer=512)
    pos = 0
    results = []
    for size in [*cuts, len(data)]:
        results += s.feed(data[pos : pos + size])
        pos += size
    results += s.flush()
    assert all(isinstance(r, bytes | StreamError) for r in results)
    for r in results:
        if isinstance(r, bytes):
            with contextlib.suppress(HJ212Error):
                decode(r)


garbage = st.binary(max_size=30).map(lambda b: b.replace(b"#", b""))


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(frames(), st.booleans(), garbage), min_size=1, max_size=4),
    st.lists(st.integers(1, 64), max_size=40),
)
def test_any_chunking_yields_the_same_frames(
    parts: list[tuple[dict[str, object], bool, bytes]], cuts: list[int]
) -> None:
    stream = b""
    originals = []
    for spec, keep_crlf, junk in parts:
        raw = build_frame(**spec)  # type: ignore[arg-type]
        originals.append(decode(raw))
        stream += (raw if keep_crlf else raw[:-2]) + junk

    def decoded(chunks: list[bytes]) -> list[Frame]:
        s = FrameSplitter()
        results = [r for c in chunks for r in s.feed(c)] + s.flush()
        out = []
        for r in results:
            if isinstance(r, bytes):
                with contextlib.suppress(HJ212Error):
                    out.append(decode(r))
        return out

    chunks, pos = [], 0
    for size in cuts:
        chunks.append(stream[pos : pos + size])
        pos += size
    chunks.append(stream[pos:])
    assert decoded([stream]) == originals
    assert decoded(chunks) == originals


def test_parse_data_segment_on_arbitrary_text_example() -> None:
    try:
        parse_data_segment("CP=&&=&&")
    except HJ212Error as exc:
        assert "not key=value" in str(exc) or "missing" in str(exc)


header_values = st.text("0123456789aZ=-", max_size=26)


@st.composite
def headers(draw: st.DrawFn) -> str:
    keys = ["QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO"]
    chosen = [k for k in keys if draw(st.integers(0, 9)) > 0]  # mostly all present
    if draw(st.booleans()):
        chosen = draw(st.permutations(chosen))
    pairs = []
    for key in chosen:
        valid = {
            "QN": st.sampled_from(["20240501100002137", "20241301100002137", "2024"]),
            "ST": st.sampled_from(["39", "22", "391234", "3a"]),
            "CN": st.sampled_from(["2011", "12345678"]),
            "PW": st.sampled_from(["123456", "", "a=b"]),
            "MN": st.sampled_from(["M" * 24, "M" * 25, "", "010000A8900016F000169DC0"]),
            "Flag": st.sampled_from(["5", "4", "7", "256", "0005", "x"]),
            "PNUM": st.sampled_from(["3", "0"]),
            "PNO": st.sampled_from(["2", "4"]),
        }[key]
        pairs.append(f"{key}={draw(st.one_of(valid, header_values))}")
    return ";".join(pairs) + draw(st.sampled_from([";", ";;", ""]))


@settings(max_examples=600)
@given(headers())
def test_header_fast_path_matches_reference(head: str) -> None:
    from dustgrid.ingest.hj212.codec import _header, _header_reference

    outcomes = []
    for parser in (_header, _header_reference):
        try:
            outcomes.append(("ok", parser(head)))
        except HJ212Error as exc:
            outcomes.append(("error", (type(exc), str(exc))))
    assert outcomes[0] == outcomes[1]
    segment = f"{head}{'' if head.endswith(';') else ';'}CP=&&&&"
    with contextlib.suppress(HJ212Error):
        parse_data_segment(segment)


def test_standard_frames_take_the_fast_paths(fixture_frames: dict[str, list[bytes]]) -> None:
    from dustgrid.ingest.hj212.codec import _match_standard, _split_segment
    from dustgrid.ingest.hj212.cp import _parse_planned

    for raw in fixture_frames["dust_rtd_st39"] + fixture_frames["ambient_minute_st22"]:
        head, body = _split_segment(raw[6:-6].decode())
        assert _match_standard(head) is not None
        assert _parse_planned(body) == parse_cp_reference(body)
        assert _parse_planned(body) is not None


@st.composite
def standard_headers(draw: st.DrawFn) -> str:
    """Mostly the standard order with valid fields, sometimes not: both paths get work."""
    variants = {
        "QN": ["20240501100002137", "20241301100002137", "2024050110000213", "2024050110000213x"],
        "ST": ["39", "22", "391234", "3a", ""],
        "CN": ["2011", "12345678", ""],
        "PW": ["123456", "", "a=b", "CP=&"],
        "MN": ["M" * 24, "M" * 25, "", "010000A8900016F000169DC0", "a=&b"],
        "Flag": ["5", "4", "7", "255", "256", "0005", "x", ""],
        "PNUM": ["3", "0"],
        "PNO": ["2", "4"],
    }
    # (hypothesis draws 0 often: 0 means present, standard order, the valid value)
    keys = [
        k
        for k in variants
        if draw(st.integers(0, 9)) in ((5, 6) if k in ("PNUM", "PNO") else range(9))
    ]
    if draw(st.integers(0, 4)) == 3:
        keys = draw(st.permutations(keys))
    pairs = []
    for key in keys:
        roll = draw(st.integers(0, 19))  # 85 %: the first (valid) value
        if roll < 17:
            value = variants[key][0]
        elif roll < 19:
            value = draw(st.sampled_from(variants[key]))
        else:
            value = draw(st.text("09aZ=-;", max_size=4))
        pairs.append(f"{key}={value}")
    return ";".join(pairs) + draw(st.sampled_from([";", ";", ";", ";;", "", "; "]))


segment_bodies = st.sampled_from(
    [
        "&&",
        "&&&",
        "&&;",
        "DataTime=20240501100000;a34002-Rtd=1,a34002-Flag=N&&",
        "DataTime=20240230100000;a34002-Rtd=1&&",
        "a34002-Rtd=1&&",
        "DataTime=20240501100000;a34002-Rtd=x&&",
        "DataTime=20240501100000&&CP=&&&&",
        "RtdInterval=30",
    ]
)


STANDARD_HEAD = "QN=20240501100002137;ST=39;CN=2011;PW=123456;MN=M;Flag=5;"


@settings(max_examples=600)
@example(STANDARD_HEAD, "CP=&&", "&&")
@example(STANDARD_HEAD + "PNUM=3;PNO=2;", "CP=&&", "&&")  # PNUM/PNO without the split bit
@example(STANDARD_HEAD.replace("Flag=5", "Flag=7"), "CP=&&", "&&")
@example(STANDARD_HEAD.replace("Flag=5", "Flag=256"), "CP=&&", "&&")
@example(STANDARD_HEAD.replace("PW=123456", "PW=aCP=&&b"), "CP=&&", "&&")
@example(STANDARD_HEAD.replace("MN=M", "MN=CP=&&"), "CP=&&", "&&")
@example(STANDARD_HEAD.replace("QN=20240501100002137", "QN=20241301100002137"), "CP=&&", "&&")
@given(
    st.one_of(headers(), standard_headers()),
    st.sampled_from(["CP=&&", "CP=&&", ";CP=&&", "CP=&", ""]),
    segment_bodies,
)
def test_segment_fast_path_matches_reference(head: str, cp_open: str, body: str) -> None:
    from dustgrid.ingest.hj212.codec import _parse_text, _parse_text_reference

    text = head + cp_open + body
    outcomes = []
    for parser in (_parse_text, _parse_text_reference):
        try:
            outcomes.append(("ok", repr(parser(text, "hj212"))))
        except HJ212Error as exc:
            outcomes.append(("error", (type(exc), str(exc), exc.code)))
    assert outcomes[0] == outcomes[1]
