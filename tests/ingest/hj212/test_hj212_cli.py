"""The `dustgrid hj212` typer app, driven through CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dustgrid.ingest.hj212 import decode, hj212_crc
from dustgrid.ingest.hj212.cli import app

runner = CliRunner()
STANDARD = (
    "##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
    "Flag=5;CP=&&RtdInterval=30&&1C80"
)
EXAMPLE = {
    "st": "39",
    "cn": "2011",
    "pw": "123456",
    "mn": "399100A0130001SITE0001",
    "flag": 5,
    "data_time": "2024-05-01T10:00:00",
    "items": [{"code": "a34002", "kind": "rtd", "value": 85.3, "flag": "N"}],
}


def lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_decode_fixture_file(fixture_dir: Path) -> None:
    result = runner.invoke(app, ["decode", str(fixture_dir / "dust_rtd_st39.txt")])
    assert result.exit_code == 0, result.output
    out = lines(result.output)
    assert len(out) == 12 and all(o["ok"] and o["crc"] == "hj212" for o in out)
    first = out[0]
    assert {"qn", "st", "cn", "pw", "mn", "flag", "version", "ack_wanted", "split"} <= set(first)
    assert first["data_time"] == "2024-05-01T10:00:00"
    items = first["items"]
    assert isinstance(items, list)
    assert items[1] == {
        "code": "a34002",
        "metric": "pm10",
        "kind": "rtd",
        "value": 85.3,
        "flag": "N",
        "valid": True,
    }


def test_decode_stdin_with_a_bad_frame_exits_1() -> None:
    bad_crc = STANDARD[:-4] + "4F2A"
    bad_len = STANDARD.replace("##0101", "##0123")
    result = runner.invoke(app, ["decode"], input=f"{STANDARD}\n\n{bad_crc}\r\n{bad_len}\nxx\n")
    assert result.exit_code == 1
    good, crc, length, garbage = lines(result.output)
    assert good["ok"] is True and good["cp"] == {"RtdInterval": "30"}
    assert crc["ok"] is False and crc["crc"] == "bad"
    assert "CRC mismatch: frame says 4F2A, computed 1C80" in str(crc["error"])
    assert crc["mn"] == "010000A8900016F000169DC0" and crc["cp"] == {"RtdInterval": "30"}
    assert length["error"] == "length field says 0123 but data segment has 101 bytes"
    assert length["mn"] == "010000A8900016F000169DC0" and length["flag"] == 5
    assert length["version"] == 1 and length["ack_wanted"] is True
    assert garbage["ok"] is False and "no '##'" in str(garbage["error"])


def test_decode_field_error_keeps_crc_verdict() -> None:
    from dustgrid.ingest.hj212 import wrap

    frame = wrap("QN=20240501100000000;ST=39;CN=2011;PW=1;MN=M;Flag=5;CP=&&DataTime=2024133&&")
    result = runner.invoke(app, ["decode"], input=frame.decode())
    (out,) = lines(result.output)
    assert result.exit_code == 1
    assert out["ok"] is False and out["crc"] == "hj212" and out["mn"] == "M"
    assert "bad DataTime '2024133'" in str(out["error"])


def test_decode_huge_flag_is_reported_not_crashed() -> None:
    from dustgrid.ingest.hj212 import wrap

    frame = wrap("ST=39;CN=2011;PW=1;MN=M;Flag=" + "9" * 5000 + ";CP=&&&&").decode()
    for line in (frame, frame[:-6] + "0000"):
        result = runner.invoke(app, ["decode"], input=line)
        (out,) = lines(result.output)
        assert result.exit_code == 1 and out["ok"] is False


def test_decode_survives_invalid_utf8(tmp_path: Path) -> None:
    src = tmp_path / "frames.txt"
    junk = b"\xff\xfe\xfd"
    src.write_bytes(STANDARD.encode() + b"\n##0003" + junk + b"%04X\n" % hj212_crc(junk))
    for args, data in ((["decode", str(src)], None), (["decode"], src.read_bytes())):
        result = runner.invoke(app, args, input=data)
        good, bad = lines(result.output)
        assert result.exit_code == 1 and good["ok"] is True
        assert "non-ASCII" in str(bad["error"])


def test_decode_accepts_modbus_as_ok(fixture_dir: Path) -> None:
    result = runner.invoke(app, ["decode", str(fixture_dir / "modbus_crc.txt")])
    assert result.exit_code == 0
    assert [o["crc"] for o in lines(result.output)] == ["modbus", "modbus"]


def test_encode_then_decode() -> None:
    result = runner.invoke(app, ["encode"], input=json.dumps(EXAMPLE))
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.endswith("\n") and not text.endswith("\r\n")
    f = decode(text.strip())
    assert f.qn == "20240501100000000" and f.values() == {"pm10": 85.3}
    again = runner.invoke(app, ["decode"], input=text)
    assert again.exit_code == 0 and lines(again.output)[0]["ok"] is True


def test_encode_crlf_and_list_and_file(tmp_path: Path) -> None:
    src = tmp_path / "frames.json"
    src.write_text(json.dumps([EXAMPLE, {**EXAMPLE, "qn": "20240501100001000"}]))
    result = runner.invoke(app, ["encode", "--crlf", str(src)])
    assert result.exit_code == 0
    frames = result.stdout_bytes.split(b"\r\n")
    assert len(frames) == 3 and frames[2] == b""
    assert decode(frames[1]).qn == "20240501100001000"


def test_encode_errors_exit_1() -> None:
    for payload in ("{", json.dumps({"pw": "1"}), json.dumps({**EXAMPLE, "mn": "x" * 30})):
        result = runner.invoke(app, ["encode"], input=payload)
        assert result.exit_code == 1
    no_time = {k: v for k, v in EXAMPLE.items() if k not in ("data_time", "items")}
    result = runner.invoke(app, ["encode"], input=json.dumps(no_time))
    assert result.exit_code == 1 and "'qn' is required" in result.output


def test_help_mentions_modbus() -> None:
    result = runner.invoke(app, ["decode", "--help"])
    assert result.exit_code == 0 and "MODBUS" in result.output
