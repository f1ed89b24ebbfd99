"""GPS fixes on disk: Parquet partitioned by local day and terminal hash (issue 14).

A city-day is 20–150 million fixes: they are files, not relational rows. Layout under a root
(by default ``<var_dir>/trajectories/fixes``)::

    day=2026-05-04/bucket=07/part-<batch id>.parquet

- ``bucket`` is CRC-32 of the terminal id modulo ``TrajectoryPolicy.storage_buckets``, so
  every fix of one terminal on one day is in one bucket: stays can be found bucket by
  bucket, and memory is bounded by a bucket, not by the day.
- Writing is idempotent per batch id: a batch's fixes go to files named after it, written
  to a temporary name and renamed, so sending the same batch again replaces its files with
  the same content and never duplicates fixes.
- Days are local days (``utc_offset_hours``), like truck-days.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY, TrajectoryPolicy
from dustgrid.trajectories.stays import SECONDS_PER_DAY, Fixes, Stays, detect_stays

BATCH_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_EPOCH = date(1970, 1, 1)


class BadBatchId(ValueError):
    """A batch id that cannot name a file."""


def _day_name(day: date) -> str:
    return f"day={day.isoformat()}"


def _bucket_name(bucket: int) -> str:
    return f"bucket={bucket:02d}"


def terminal_buckets(terminals: tuple[str, ...], buckets: int) -> np.ndarray:
    """The bucket of each distinct terminal (one CRC per terminal, not per fix)."""
    return np.array([zlib.crc32(t.encode("utf-8")) % buckets for t in terminals], dtype=np.int64)


class FixStore:
    """Fixes under ``root``, partitioned by day and terminal bucket."""

    def __init__(self, root: Path, policy: TrajectoryPolicy = DEFAULT_TRAJECTORY_POLICY):
        self.root, self.policy = root, policy

    def write(self, fixes: Fixes, batch_id: str) -> int:
        """Store one batch; returns the number of partition files written."""
        if not BATCH_ID.match(batch_id) or batch_id.strip(".") == "":
            raise BadBatchId(f"batch id {batch_id!r}: 1–64 letters, digits, '_', '-', '.'")
        if len(fixes) == 0:
            return 0
        day = (fixes.t + self.policy.utc_offset_seconds) // SECONDS_PER_DAY
        bucket = terminal_buckets(fixes.terminals, self.policy.storage_buckets)[fixes.terminal]
        key = day * self.policy.storage_buckets + bucket
        order = np.argsort(key, kind="stable")
        keys, starts = np.unique(key[order], return_index=True)
        ends = np.append(starts[1:], len(order))
        names = pa.array(fixes.terminals, pa.string())
        for k, lo, hi in zip(keys, starts, ends, strict=True):  # one step per partition
            rows = order[lo:hi]
            d, b = divmod(int(k), self.policy.storage_buckets)
            folder = self.root / _day_name(_EPOCH + timedelta(days=d)) / _bucket_name(b)
            folder.mkdir(parents=True, exist_ok=True)
            table = pa.table({
                "terminal_id": names.take(pa.array(fixes.terminal[rows])),  # no str per fix
                "time": pa.array(fixes.t[rows], pa.int64()),
                "lat": pa.array(fixes.lat[rows], pa.float64()),
                "lon": pa.array(fixes.lon[rows], pa.float64()),
            })  # fmt: skip
            final = folder / f"part-{batch_id}.parquet"
            temporary = folder / f".part-{batch_id}.parquet.tmp"
            pq.write_table(table, temporary)
            os.replace(temporary, final)
        return len(keys)

    def buckets_of(self, terminals: list[str]) -> list[int]:
        """The bucket of each terminal id."""
        return [int(b) for b in terminal_buckets(tuple(terminals), self.policy.storage_buckets)]

    def buckets(self, day: date) -> list[int]:
        """The buckets holding fixes of ``day``."""
        folder = self.root / _day_name(day)
        if not folder.is_dir():
            return []
        return sorted(int(p.name.split("=")[1]) for p in folder.glob("bucket=*") if p.is_dir())

    def partition_folder(self, day: date, bucket: int) -> Path:
        """The folder of one (day, bucket) partition (one file per batch inside)."""
        return self.root / _day_name(day) / _bucket_name(bucket)

    def read(self, day: date, bucket: int) -> Fixes:
        """The fixes of one day and bucket (every batch), in no particular order."""
        parts = sorted(self.partition_folder(day, bucket).glob("part-*.parquet"))
        if not parts:
            return Fixes((), *(np.empty(0, np.int64),) * 2, *(np.empty(0),) * 2)
        # terminal ids read as dictionaries: no string per fix, one per terminal and file
        table = pa.concat_tables(
            [pq.ParquetFile(p, read_dictionary=["terminal_id"]).read() for p in parts]
        )
        chunks = table.column("terminal_id").chunks
        dictionaries = [c.dictionary.to_numpy(zero_copy_only=False) for c in chunks]
        names, inverse = np.unique(np.concatenate(dictionaries).astype(object),
                                   return_inverse=True)  # fmt: skip
        offsets = np.cumsum([0] + [len(d) for d in dictionaries])
        codes = np.concatenate([
            inverse[offsets[k] + c.indices.to_numpy(zero_copy_only=False).astype(np.int64)]
            for k, c in enumerate(chunks)
        ]) if chunks else np.empty(0, np.int64)  # fmt: skip
        return Fixes(
            terminals=tuple(str(n) for n in names),
            terminal=codes.astype(np.int64),
            t=table.column("time").to_numpy().astype(np.int64),
            lat=table.column("lat").to_numpy().astype(np.float64),
            lon=table.column("lon").to_numpy().astype(np.float64),
        )

    def iter_day(self, day: date) -> Iterator[Fixes]:
        """The day's fixes bucket by bucket (memory bounded by one bucket)."""
        for bucket in self.buckets(day):
            yield self.read(day, bucket)

    def stays_of_day(self, day: date) -> Stays:
        """Stay points of every truck-day of ``day``, computed bucket by bucket."""
        parts = [detect_stays(fixes, self.policy) for fixes in self.iter_day(day)]
        return concat_stays(parts)


def empty_stays() -> Stays:
    """No stays."""
    return concat_stays([])


def concat_stays(parts: list[Stays]) -> Stays:
    """One set of stays from several (terminal codes re-mapped to one sorted list)."""
    names = sorted(set().union(*(p.terminals for p in parts))) if parts else []
    lookup = np.asarray(names, dtype=object)
    codes = [
        np.searchsorted(lookup, np.asarray(p.terminals, dtype=object))[p.terminal]
        if len(p.terminals)
        else p.terminal
        for p in parts
    ]
    empty_i, empty_f = np.empty(0, np.int64), np.empty(0)
    return Stays(
        terminals=tuple(names),
        terminal=np.concatenate(codes or [empty_i]).astype(np.int64),
        day=np.concatenate([p.day for p in parts] or [empty_i]),
        start=np.concatenate([p.start for p in parts] or [empty_i]),
        end=np.concatenate([p.end for p in parts] or [empty_i]),
        lat=np.concatenate([p.lat for p in parts] or [empty_f]),
        lon=np.concatenate([p.lon for p in parts] or [empty_f]),
        n_fixes=np.concatenate([p.n_fixes for p in parts] or [empty_i]),
    )
