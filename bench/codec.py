"""Decode throughput of the HJ 212 codec on real-shaped dust-monitor frames.

Run: ``.venv/bin/python bench/codec.py`` (``--help`` for sizes). Every parser measured here
does FULL validation (length, CRC, header fields, DataTime, values, data flags).

Printed: frames/s of ``dustgrid.ingest.hj212.decode`` on a realistic stream (many devices
sharing reporting instants) and on a cold stream (unique timestamps, timestamp cache emptied
before each round), for each implementation present: the C accelerator (``_speedups.c``,
what ``decode`` uses when it is built) and the pure-Python decoder (``decode_python``, the
reference and fallback); of a plain baseline parser with the bitwise Appendix A CRC and of
the same parser with a 256-entry CRC table (the figure the issue quotes); the ratios; and
the machine, including its load average (a shared machine depresses every figure alike).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from dustgrid.ingest.hj212 import DataItem, build_data_frame, codec, decode, make_qn
from dustgrid.ingest.hj212.codec import decode_python
from dustgrid.ingest.hj212.cp import _TS_CACHE  # emptied before each "cold" round

CODES = {  # code -> (typical value, decimals); ~10 pollutants as a dust monitor sends
    "a34001": (180.0, 1),
    "a34002": (85.0, 1),
    "a34004": (42.0, 1),
    "a34005": (25.0, 1),
    "LA": (62.0, 1),
    "a01001": (21.0, 1),
    "a01002": (55.0, 1),
    "a01006": (101.3, 2),
    "a01007": (2.5, 1),
    "a01008": (180.0, 0),
}
RARE_FLAGS = "DMCTB"
VALID = {flag: flag in "NS" for flag in "NSFMDCTB"}  # N normal, S manual: valid


def make_frames(devices: int, reports: int, *, cold: bool, seed: int = 212) -> list[bytes]:
    """``devices`` monitors (80% ST=39, 20% ST=22) each sending ``reports`` CN=2011 frames."""
    rng = random.Random(seed)
    start = datetime.fromisoformat("2024-05-01T10:00:00")
    frames = []
    for k in range(reports):
        for d in range(devices):
            step = timedelta(seconds=30 * k + (d * 7 + k * 13) % 29 if cold else 30 * k)
            data_time = start + step + (timedelta(days=d) if cold else timedelta())
            sent = data_time + timedelta(milliseconds=rng.randrange(100, 3000))
            items = [
                DataItem(
                    code,
                    "rtd",
                    f"{base * rng.uniform(0.7, 1.3):.{dec}f}",
                    rng.choice(RARE_FLAGS) if rng.random() < 0.02 else "N",
                )
                for code, (base, dec) in CODES.items()
            ]
            frames.append(
                build_data_frame(
                    mn=f"3301{d:06d}A0B1C2D3E4F5G6"[:24],
                    pw="123456",
                    st="39" if d % 5 else "22",
                    data_time=data_time,
                    qn=make_qn(sent),
                    items=items,
                )
            )
    rng.shuffle(frames)
    return frames


# --- the plain baseline parser ------------------------------------------------------------


def crc_bitwise(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


TABLE = _table()


def crc_table(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc = TABLE[(crc >> 8) ^ byte]
    return crc


def _stamp(text: str) -> datetime:
    if len(text) < 14 or not text[:14].isdigit():
        raise ValueError(f"bad timestamp {text!r}")
    return datetime.fromisoformat(
        f"{text[0:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:14]}"
    )


def baseline_decode(raw: bytes, crc: Callable[[bytes], int]) -> dict[str, Any]:
    """A straightforward full-validation parser: what one writes without optimising."""
    text = raw.decode("ascii").strip()
    if not text.startswith("##") or not text[2:6].isdigit():
        raise ValueError("bad header")
    length = int(text[2:6])
    data, check = text[6 : 6 + length], text[6 + length : 10 + length]
    if len(data) != length or len(text) != length + 10:
        raise ValueError("length mismatch")
    if check.upper() != f"{crc(data.encode('ascii')):04X}":
        raise ValueError("crc mismatch")
    head, _, cp = data.partition("CP=&&")
    if not cp.endswith("&&"):
        raise ValueError("CP not closed")
    fields = dict(part.split("=", 1) for part in head.split(";") if part)
    for key in ("ST", "CN", "PW", "MN"):
        if key not in fields:
            raise ValueError(f"missing {key}")
    if not fields["ST"].isdigit() or not fields["CN"].isdigit() or len(fields["MN"]) > 24:
        raise ValueError("bad header field")
    if "QN" in fields:
        _stamp(fields["QN"])
    flag = int(fields.get("Flag", "0"))
    if not 0 <= flag <= 255:
        raise ValueError("bad Flag")
    data_time = None
    values: dict[str, dict[str, float | None]] = {}
    flags: dict[str, str] = {}
    for group in cp[:-2].split(";"):
        for pair in group.split(","):
            if not pair:
                continue
            key, value = pair.split("=", 1)
            if key == "DataTime":
                data_time = _stamp(value)
                continue
            code, _, suffix = key.rpartition("-")
            if suffix == "Flag":
                flags[code] = value
            elif suffix in ("Rtd", "Avg", "Min", "Max", "Cou"):
                values.setdefault(code, {})[suffix.lower()] = float(value) if value else None
    items = [
        (code, kind, value, flags.get(code, "N"), VALID.get(flags.get(code, "N"), False))
        for code, kinds in values.items()
        for kind, value in kinds.items()
    ]
    return {"fields": fields, "flag": flag, "data_time": data_time, "items": items}


# --- measuring -------------------------------------------------------------------------------


class Case(NamedTuple):
    name: str
    fn: Callable[[bytes], object]
    frames: Sequence[bytes]
    before_round: Callable[[], object] = lambda: None


def throughput(cases: Sequence[Case], rounds: int) -> dict[str, float]:
    """Best-of-``rounds`` frames/s of each case (best, because the machine may be shared).

    The cases take turns within every round, so a burst of load from other processes hits
    all of them alike and the ratios stay meaningful on a busy machine.
    """
    best = dict.fromkeys((case.name for case in cases), float("inf"))
    for _ in range(rounds):
        for case in cases:
            case.before_round()
            fn = case.fn
            t0 = time.perf_counter()
            for raw in case.frames:
                fn(raw)
            best[case.name] = min(best[case.name], time.perf_counter() - t0)
    return {case.name: len(case.frames) / best[case.name] for case in cases}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(ln.split(":", 1)[1].strip() for ln in info if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = "n/a"
    if hasattr(os, "getloadavg"):
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{platform.platform()} | CPU {cpu} x{os.cpu_count()} | load {load} | "
        f"Python {sys.version.split()[0]} ({platform.python_implementation()})"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--reports", type=int, default=20, help="frames per device")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline-frames", type=int, default=300)
    args = parser.parse_args(argv)

    stream = make_frames(args.devices, args.reports, cold=False)
    cold = make_frames(args.devices, args.reports, cold=True, seed=7)
    few = stream[: args.baseline_frames]
    size = sum(map(len, stream)) / len(stream)
    for raw in few:  # same verdicts before timing anything
        frame = decode(raw)
        assert repr(decode_python(raw)) == repr(frame)
        base = baseline_decode(raw, crc_bitwise)
        assert [(i.code, i.value, i.flag, i.valid) for i in frame.items] == [
            (c, v, f, ok) for c, _, v, f, ok in base["items"]
        ]
        assert baseline_decode(raw, crc_table) == base

    implementations: list[tuple[str, Callable[[bytes], object]]] = []
    if codec.ACCELERATED:
        implementations.append(("C accelerator", decode))
    implementations.append(("pure Python", decode_python))
    print(f"machine: {machine()}")
    print(f"frames: {len(stream)} x {size:.0f} bytes avg (ST=39/22, CN=2011, 10 x Rtd+Flag)")
    print(
        "decode() uses: "
        + ("the C accelerator" if codec.ACCELERATED else "pure Python (C accelerator not built)")
    )
    cases = []
    for label, fn in implementations:
        cases += [
            Case(f"dustgrid decode ({label}), realistic stream", fn, stream),
            Case(f"dustgrid decode ({label}), cold timestamps", fn, cold, _TS_CACHE.clear),
        ]
    table, bitwise = (
        "baseline plain parser, 256-entry table CRC",
        "baseline plain parser, bitwise CRC",
    )
    cases += [
        Case(table, lambda raw: baseline_decode(raw, crc_table), stream),
        Case(bitwise, lambda raw: baseline_decode(raw, crc_bitwise), few),
    ]
    rates = throughput(cases, args.rounds)
    for name, rate in rates.items():
        print(f"{name:55s} {rate:12,.0f} frames/s")
    for label, _ in implementations:
        rate = rates[f"dustgrid decode ({label}), realistic stream"]
        rate_cold = rates[f"dustgrid decode ({label}), cold timestamps"]
        for base_label, base_rate in (("bitwise", rates[bitwise]), ("table", rates[table])):
            print(
                f"ratio dustgrid ({label}) / {base_label} baseline: {rate / base_rate:6.1f}x "
                f"(cold {rate_cold / base_rate:.1f}x)"
            )
    if hasattr(os, "getloadavg"):
        print(f"load average after the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
