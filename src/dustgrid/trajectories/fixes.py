"""Reading GPS fixes (CSV or Parquet) and known places (CSV), with every bad row named.

Fixes: columns ``terminal_id,time,lat,lon`` (``speed``/``heading`` and others are ignored);
``time`` is ISO 8601 with an offset (``2026-05-04T08:30:00+08:00``, ``…Z``) or epoch seconds;
coordinates are WGS-84 unless the source declares GCJ-02 (converted with
:func:`dustgrid.geo.coords.gcj02_to_wgs84_arrays`). Parsing is column-wise with pyarrow
(no Python per row); a bad row is skipped and reported with its CSV line number (the header
is line 1) or its Parquet row number, never dropped silently.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from dustgrid.geo.coords import gcj02_to_wgs84_arrays
from dustgrid.trajectories.clusters import KnownPlace
from dustgrid.trajectories.stays import Fixes

REQUIRED_COLUMNS = ("terminal_id", "time", "lat", "lon")
KNOWN_COLUMNS = ("name", "kind", "lat", "lon", "radius_m")
CRS_CHOICES = ("wgs84", "gcj02")
_NUMBER = r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$"
_ISO_WITH_OFFSET = (
    r"^\s*\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)\s*$"
)
_PARQUET_MAGIC = b"PAR1"


class UnreadableInput(Exception):
    """The input cannot be used at all (missing file or column, not CSV or Parquet)."""


@dataclass(frozen=True, slots=True)
class BadRow:
    """A skipped row: ``where`` is ``line N`` (CSV) or ``row N`` (Parquet)."""

    file: str
    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ReadResult:
    fixes: Fixes
    bad: list[BadRow]
    rows: int  # data rows read, good and bad


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    with path.open("rb") as f:
        return f.read(4) == _PARQUET_MAGIC


def _read_table(path: Path) -> tuple[pa.Table, npt.NDArray[np.int64], str, list[BadRow]]:
    """(table, the line or row number of each table row, 'line'/'row', broken lines)."""
    if not path.is_file():
        raise UnreadableInput(f"{path}: no such file")
    try:
        if _is_parquet(path):
            table = pq.read_table(path)
            return table, np.arange(1, table.num_rows + 1, dtype=np.int64), "row", []
        broken: list[BadRow] = []

        def invalid(row: Any) -> str:
            where = f"line {row.number}" if row.number is not None else "line ?"
            broken.append(
                BadRow(
                    str(path),
                    where,
                    f"{row.actual_columns} fields, expected {row.expected_columns}",
                )
            )
            return "skip"

        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in REQUIRED_COLUMNS}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise UnreadableInput(f"{path}: not a readable CSV or Parquet file ({exc})") from None
    skipped = np.array(
        sorted(int(b.where.split()[1]) for b in broken if b.where != "line ?"), dtype=np.int64
    )
    lines = np.arange(2, table.num_rows + len(skipped) + 2, dtype=np.int64)
    lines = np.setdiff1d(lines, skipped, assume_unique=True)[: table.num_rows]
    return table, lines, "line", broken


def _column(table: pa.Table, name: str, path: Path) -> pa.Array:
    if name not in table.column_names:
        raise UnreadableInput(
            f"{path}: missing column {name!r} (needs {', '.join(REQUIRED_COLUMNS)})"
        )
    return table.column(name).combine_chunks()


def _floats(col: pa.Array) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """(values, parsed) of a numeric or text column; unparsable values are NaN."""
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        values = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    else:
        text = col.cast(pa.string())
        ok = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
        clean = pc.if_else(ok, pc.utf8_trim_whitespace(text), pa.scalar("nan"))
        values = clean.cast(pa.float64()).to_numpy(zero_copy_only=False)
    values = np.array(values, dtype=np.float64)  # a writable copy
    return values, np.isfinite(values)


def _iso_seconds(text: pa.Array) -> npt.NDArray[np.float64]:
    """Epoch seconds of ISO 8601 strings with an offset (NaN where unparsable)."""
    norm = pc.replace_substring_regex(pc.utf8_trim_whitespace(text), r"\s*([zZ])$", "+00:00")
    norm = pc.replace_substring_regex(norm, r"^(\S{10}) ", r"\1T")
    try:
        stamps = norm.cast(pa.timestamp("us", tz="UTC"))
        us = stamps.cast(pa.int64()).to_numpy(zero_copy_only=False)
        return np.asarray(us, dtype=np.float64) / 1e6
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    out = np.full(len(norm), np.nan)  # rare: a well-formed but impossible date somewhere
    for i, value in enumerate(norm.to_pylist()):
        try:
            out[i] = datetime.fromisoformat(value).timestamp()
        except (ValueError, TypeError):
            continue
    return out


def _times(col: pa.Array) -> npt.NDArray[np.float64]:
    """Epoch seconds of each row (NaN where unparsable or without an offset)."""
    if pa.types.is_timestamp(col.type):
        if col.type.tz is None:
            return np.full(len(col), np.nan)
        us = col.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
        return np.asarray(us.to_numpy(zero_copy_only=False), dtype=np.float64) / 1e6
    seconds, numeric = _floats(col)
    if numeric.all() or (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        return seconds
    text = col.cast(pa.string())
    iso = np.asarray(
        pc.fill_null(pc.match_substring_regex(text, _ISO_WITH_OFFSET), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.bool_,
    )
    if iso.any():
        seconds[iso] = _iso_seconds(pc.filter(text, pa.array(iso)))
    return seconds


def _reasons(
    terminal_ok: npt.NDArray[np.bool_],
    t: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    lon: npt.NDArray[np.float64],
) -> list[tuple[npt.NDArray[np.bool_], str]]:
    with np.errstate(invalid="ignore"):
        return [
            (~terminal_ok, "terminal_id is empty"),
            (~np.isfinite(t), "time is not ISO 8601 with an offset nor epoch seconds"),
            (~(np.abs(lat) <= 90.0), "lat is not a number in [-90, 90]"),
            (~(np.abs(lon) <= 180.0), "lon is not a number in [-180, 180]"),
        ]


def _encode(ids: pa.Array) -> tuple[tuple[str, ...], npt.NDArray[np.int64]]:
    """(sorted distinct terminal ids, the code of each row): pyarrow's dictionary encoding
    (no Python string per row), the dictionary then sorted."""
    encoded = pc.dictionary_encode(ids)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    names = encoded.dictionary.to_pylist()
    order = np.argsort(np.asarray(names, dtype=object)) if names else np.empty(0, np.int64)
    remap = np.empty(len(names), np.int64)
    remap[order] = np.arange(len(names))
    raw = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return tuple(str(names[i]) for i in order), remap[raw] if len(raw) else raw


def read_fixes(path: Path, crs: str = "wgs84") -> ReadResult:
    """Every good fix of one file (converted to WGS-84) and every bad row, with its number."""
    if crs not in CRS_CHOICES:
        raise UnreadableInput(
            f"unknown coordinate system {crs!r} (one of {', '.join(CRS_CHOICES)})"
        )
    table, numbers, unit, bad = _read_table(path)
    cols = {name: _column(table, name, path) for name in REQUIRED_COLUMNS}
    terminal = pc.utf8_trim_whitespace(cols["terminal_id"].cast(pa.string()))
    terminal_ok = np.asarray(
        pc.fill_null(pc.greater(pc.utf8_length(terminal), 0), False).to_numpy(zero_copy_only=False),
        dtype=np.bool_,
    )
    t = _times(cols["time"])
    lat, _ = _floats(cols["lat"])
    lon, _ = _floats(cols["lon"])
    good = np.ones(table.num_rows, dtype=np.bool_)
    for mask, reason in _reasons(terminal_ok, t, lat, lon):
        for i in np.flatnonzero(mask & good):  # one step per bad row only
            bad.append(BadRow(str(path), f"{unit} {numbers[i]}", reason))
        good &= ~mask
    bad.sort(key=lambda b: int(b.where.split()[1]) if b.where.split()[1].isdigit() else 0)
    glat, glon = lat[good], lon[good]
    if crs == "gcj02":
        glat, glon = gcj02_to_wgs84_arrays(glat, glon)
    names, codes = _encode(pc.filter(terminal, pa.array(good)))
    fixes = Fixes(names, codes, np.floor(t[good]).astype(np.int64), glat, glon)
    return ReadResult(fixes, bad, table.num_rows + sum(1 for b in bad if "fields" in b.reason))


def read_known_places(path: Path) -> tuple[list[KnownPlace], list[BadRow]]:
    """Known places from CSV ``name,kind,lat,lon,radius_m`` (WGS-84); bad rows named."""
    if not path.is_file():
        raise UnreadableInput(f"{path}: no such file")
    places: list[KnownPlace] = []
    bad: list[BadRow] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in KNOWN_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise UnreadableInput(f"{path}: missing column(s) {', '.join(missing)}")
            for row in reader:
                place = _known_place(row)
                if isinstance(place, str):
                    bad.append(BadRow(str(path), f"line {reader.line_num}", place))
                else:
                    places.append(place)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UnreadableInput(f"{path}: not a readable CSV file ({exc})") from None
    return places, bad


def _known_place(row: dict[str, str | None]) -> KnownPlace | str:
    """The place, or why the row is bad."""
    try:
        lat, lon = float(row["lat"] or ""), float(row["lon"] or "")
        radius = float(row["radius_m"] or "")
    except ValueError:
        return "lat, lon and radius_m must be numbers"
    if not (abs(lat) <= 90.0 and abs(lon) <= 180.0):
        return "lat/lon out of range"
    if not radius >= 0.0:
        return "radius_m must be a number ≥ 0"
    return KnownPlace(
        name=(row["name"] or "").strip(), kind=(row["kind"] or "").strip(), lat=lat, lon=lon,
        radius_m=radius,
    )  # fmt: skip
