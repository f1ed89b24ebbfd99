"""Frames into rows: what the HJ 212 listener stores of a data frame, encoded once.

A device sends the same items every time, so a frame's *shape* (metric and kind per item)
is planned once (:class:`RowPlan`, cached) and every later frame of that shape is encoded
with it: on PostgreSQL as binary ``COPY`` rows (``telemetry.pgcopy``), on SQLite as
:class:`~dustgrid.telemetry.store.ReadingRow` s. :func:`encode_job` turns one frame into
the batch :data:`Job` the writer commits; :func:`merge_seen` folds a batch's jobs into what
``mark_seen_many`` takes. Pure: no database here.
"""

from __future__ import annotations

import functools
import operator
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from dustgrid.telemetry import pgcopy, store
from dustgrid.telemetry.metrics import METRICS, normalize_unit
from dustgrid.telemetry.timewindow import DEFAULT_TIME_WINDOW
from dustgrid.telemetry.units import PARTICULATES

from .codec import Frame
from .codes import CN_DAY_DATA, CN_HOUR_DATA
from .devicecache import DeviceInfo
from .envelope import CRC_MODBUS

SeenMetrics = dict[str, tuple[datetime, float | None]]
SOURCE_HJ212: Final = "hj212"
SOURCE_HJ212_MODBUS: Final = "hj212mb"  # Reading.source of frames that came with Modbus CRC
#: Reading.kind of an item per data command: hour and day statistics get their own kinds,
#: or a 2061 hour average would collide with (and be dropped as a duplicate of) the 2051
#: minute average stamped with the same DataTime.
KIND_PREFIX: Final = {CN_HOUR_DATA: "h", CN_DAY_DATA: "d"}
#: Kinds whose last valid value goes to the device's metric state.
SEEN_KINDS: Final = frozenset({"rtd", "avg"})


_UTC_OF: dict[tuple[datetime, ZoneInfo], datetime] = {}
_UTC_CACHE_MAX: Final = 4096


def utc_of(local: datetime, tz: ZoneInfo) -> datetime:
    """Device-local naive time -> aware UTC, cached: devices report at shared instants.
    Raises ``OverflowError`` for a time that has no UTC (year 1 or 9999 at the calendar's
    ends): the listener judges every data time first (:meth:`BatchWriter.time_verdict`)."""
    key = (local, tz)
    found = _UTC_OF.get(key)
    if found is None:
        converted = DEFAULT_TIME_WINDOW.to_utc(local, tz)
        if converted is None:
            raise OverflowError(f"data time {local} has no UTC equivalent")
        if len(_UTC_OF) >= _UTC_CACHE_MAX:
            _UTC_OF.clear()
        found = _UTC_OF[key] = converted
    return found


@functools.lru_cache(maxsize=64)
def _canonical_particulate_unit(unit: str | None) -> bool:
    """True when particulates of a device set to ``unit`` need no conversion (then
    ``to_canonical`` would return them unchanged); False also for a unit it would refuse."""
    if not unit:
        return True
    try:
        return all(normalize_unit(unit) == METRICS[m].unit for m in PARTICULATES)
    except ValueError:
        return False


_METRIC_KIND: Final = operator.itemgetter(1, 2)  # Item -> (metric, kind): a frame's shape
_VALUE: Final = operator.itemgetter(3)
_FLAG: Final = operator.itemgetter(4)
_VALID: Final = operator.itemgetter(5)
_NO_PROBLEMS: Final[list[str]] = []  # shared, never appended to


class RowPlan:
    """What to do with each item of a frame of one shape (a device sends the same items
    every time, so this is worked out once per shape and cached).

    ``steps``: ``(index, metric, kind, convert?, seen?)`` of the items to store - unmapped
    codes and repeated (metric, kind) left out. When the shape is *simple* (every item
    stored, in order, no unit conversion) a frame whose values are all present with flag
    ``N`` - nearly every frame - takes the fast path: its binary COPY rows in one
    ``struct`` call (:class:`~dustgrid.telemetry.pgcopy.CopyTemplate`), its metric states
    from ``seen_names`` and ``seen_values(values)``.
    """

    __slots__ = (
        "_heads",
        "_pick",
        "_templates",
        "count",
        "flags_n",
        "seen_names",
        "simple",
        "steps",
        "unmapped",
    )

    def __init__(self, prefix: str, convert_pm: bool, shape: tuple[tuple[str | None, str], ...]):
        steps: list[tuple[int, str, str, bool, bool]] = []
        taken: set[tuple[str, str]] = set()
        unmapped = 0
        for index, (metric, item_kind) in enumerate(shape):
            if metric is None:
                unmapped += 1
                continue
            kind = prefix + item_kind
            if (metric, kind) in taken:  # e.g. LA and Leq both feed "noise"
                continue
            taken.add((metric, kind))
            # particulates follow the device's unit; an unknown metric must raise
            convert = (convert_pm and metric in PARTICULATES) or metric not in METRICS
            steps.append((index, metric, kind, convert, kind in SEEN_KINDS))
        self.steps = tuple(steps)
        self.unmapped = unmapped
        self.count = len(steps)
        self.simple = len(steps) == len(shape) and not any(s[3] for s in steps)
        self.flags_n = [FLAG_N] * len(shape)
        seen = [(s[0], s[1]) for s in steps if s[4]]
        self.seen_names = tuple(metric for _, metric in seen)
        self._pick: Callable[[list[float]], Any] | None = None
        if self.simple and len(seen) != len(shape):
            indexes = [index for index, _ in seen]
            self._pick = (lambda _v: ()) if not indexes else _picker(indexes)
        self._heads = [pgcopy.copy_row_head(s[1], s[2], FLAG_N, True) for s in steps]
        self._templates: dict[int, pgcopy.CopyTemplate] = {}

    def pack(self, values: list[float], suffix: bytes) -> bytes:
        """Binary COPY rows of a simple-shape frame whose values are all present, flag N."""
        template = self._templates.get(len(suffix))
        if template is None:
            template = self._templates[len(suffix)] = pgcopy.CopyTemplate(self._heads, len(suffix))
        return template.pack(values, suffix)

    def seen_values(self, values: list[float]) -> Sequence[float]:
        """The values of ``seen_names`` (fast path: every value valid)."""
        return values if self._pick is None else self._pick(values)


def _picker(indexes: list[int]) -> Callable[[list[float]], Sequence[float]]:
    get = operator.itemgetter(*indexes)
    if len(indexes) == 1:
        return lambda values: (get(values),)
    return get


FLAG_N: Final = "N"
_ROW_PLANS: dict[tuple[str, bool, tuple[tuple[str | None, str], ...]], RowPlan] = {}
_ROW_PLANS_MAX: Final = 4096


def row_plan(prefix: str, convert_pm: bool, shape: tuple[tuple[str | None, str], ...]) -> RowPlan:
    """The cached :class:`RowPlan` of a frame shape (``(metric, kind)`` per item)."""
    plan = _ROW_PLANS.get((prefix, convert_pm, shape))
    if plan is None:
        if len(_ROW_PLANS) >= _ROW_PLANS_MAX:
            _ROW_PLANS.clear()
        plan = _ROW_PLANS[(prefix, convert_pm, shape)] = RowPlan(prefix, convert_pm, shape)
    return plan


#: One frame in a batch: (device id, received at, data time (UTC) or None, rows (bytes of
#: binary COPY rows on PostgreSQL, a list of ReadingRow on SQLite), row count, the names
#: and values of the metrics whose latest valid value the device's metric state keeps).
Job = tuple[int, datetime, datetime | None, Any, int, Sequence[str], Sequence[float | None]]
_HEAD_CACHE: dict[tuple[str, str, str, bool], bytes] = {}


def _row_head(metric: str, kind: str, flag: str, valid: bool) -> bytes:
    key = (metric, kind, flag, valid)
    head = _HEAD_CACHE.get(key)
    if head is None:
        if len(_HEAD_CACHE) >= _ROW_PLANS_MAX:
            _HEAD_CACHE.clear()
        head = _HEAD_CACHE[key] = pgcopy.copy_row_head(metric, kind, flag, valid)
    return head


def frame_items(
    frame: Frame, device: DeviceInfo, plan: RowPlan, stats: Counter[str]
) -> tuple[
    list[tuple[str, str, float | None, str, bool]], list[str], list[float | None], list[str]
]:
    """The general path, item by item: ``(metric, kind, value, flag, valid)`` per reading
    (canonical units), the seen metrics' names and values, and the problems worth logging
    (a unit error skips only its item)."""
    items = frame.items
    unit = device.particulate_unit
    out: list[tuple[str, str, float | None, str, bool]] = []
    names: list[str] = []
    values: list[float | None] = []
    problems: list[str] = []
    invalid = 0
    for index, metric, kind, convert, seen in plan.steps:
        item = items[index]
        value = item.value
        if convert and value is not None:
            try:
                value = store.to_canonical(value, metric, unit)
            except ValueError as exc:
                stats["unit_errors"] += 1
                problems.append(f"MN {device.mn} {item.code}: {exc}")
                continue
        valid = item.valid and value is not None
        out.append((metric, kind, value, item.flag[:2], valid))
        if not valid:
            invalid += 1
        elif seen:
            names.append(metric)
            values.append(value)
    if invalid:
        stats["readings_invalid"] += invalid
    return out, names, values, problems


def frame_rows(
    frame: Frame, device: DeviceInfo, *, tz: ZoneInfo, now: datetime, stats: Counter[str]
) -> tuple[list[store.ReadingRow], SeenMetrics, list[str]]:
    """A data frame as :class:`ReadingRow` s (canonical units, UTC data time), the device's
    latest valid values, and the problems worth logging (unit errors skip only their item).
    The listener itself encodes frames in :meth:`BatchWriter.add_frame`."""
    if frame.data_time is None or not frame.items:
        return [], {}, []
    data_time = utc_of(frame.data_time, tz)
    plan = row_plan(
        KIND_PREFIX.get(frame.cn, ""),
        not _canonical_particulate_unit(device.particulate_unit),
        tuple(map(_METRIC_KIND, frame.items)),
    )
    if plan.unmapped:
        stats["items_unmapped"] += plan.unmapped
    source = SOURCE_HJ212_MODBUS if frame.crc == CRC_MODBUS else SOURCE_HJ212
    out, names, values, problems = frame_items(frame, device, plan, stats)
    rows = [
        store.ReadingRow(device.id, m, k, data_time, v, f, ok, source, now)
        for m, k, v, f, ok in out
    ]
    return rows, {n: (data_time, v) for n, v in zip(names, values, strict=True)}, problems


def encode_job(
    frame: Frame, device: DeviceInfo, now: datetime, tz: ZoneInfo, pg: bool, stats: Counter[str]
) -> tuple[Job, list[str]]:
    """A data frame as a batch :data:`Job` (binary COPY rows on PostgreSQL when ``pg``, else
    :class:`~dustgrid.telemetry.store.ReadingRow` s) and the problems worth logging. The
    usual frame (simple shape, every value present with flag ``N``) is encoded in one
    ``struct`` call (:meth:`RowPlan.pack`)."""
    items = frame.items
    problems = _NO_PROBLEMS
    if frame.data_time is None or not items:
        job: Job = (device.id, now, None, None, 0, (), ())
    else:
        data_time = utc_of(frame.data_time, tz)
        plan = row_plan(
            KIND_PREFIX.get(frame.cn, ""),
            not _canonical_particulate_unit(device.particulate_unit),
            tuple(map(_METRIC_KIND, items)),
        )
        if plan.unmapped:
            stats["items_unmapped"] += plan.unmapped
        source = SOURCE_HJ212_MODBUS if frame.crc == CRC_MODBUS else SOURCE_HJ212
        values: list[Any] = list(map(_VALUE, items)) if plan.simple else []
        if (
            pg
            and plan.simple
            and None not in values
            and list(map(_FLAG, items)) == plan.flags_n
            and False not in map(_VALID, items)
        ):  # the usual frame: one struct call
            suffix = pgcopy.copy_suffix(device.id, data_time, source, now)
            job = (
                device.id, now, data_time, plan.pack(values, suffix), plan.count,
                plan.seen_names, plan.seen_values(values),
            )  # fmt: skip
        else:
            out, names, seen_values, problems = frame_items(frame, device, plan, stats)
            if pg:
                suffix = pgcopy.copy_suffix(device.id, data_time, source, now)
                rows: Any = b"".join(
                    [
                        b"%s%s%s" % (_row_head(m, k, f, ok), pgcopy.copy_value(v), suffix)
                        for m, k, v, f, ok in out
                    ]
                )
            else:
                rows = [
                    store.ReadingRow(device.id, m, k, data_time, v, f, ok, source, now)
                    for m, k, v, f, ok in out
                ]
            job = (device.id, now, data_time, rows, len(out), names, seen_values)
    return job, problems


def _data_time_key(job: Job) -> datetime:
    assert job[2] is not None
    return job[2]


def merge_seen(jobs: Sequence[Job]) -> dict[int, tuple[datetime, SeenMetrics]]:
    """Per device: the latest receive time, and per metric the valid value with the latest
    data time (of equal data times, the frame that came last) - what ``mark_seen_many``
    takes. Frames of one shape share their ``names`` tuple: once the newest of them is
    applied, the older ones cannot change anything and are skipped."""
    by_device: dict[int, list[Job]] = {}
    for job in jobs:
        found = by_device.get(job[0])
        if found is None:
            by_device[job[0]] = [job]
        else:
            found.append(job)
    out: dict[int, tuple[datetime, SeenMetrics]] = {}
    for device_id, group in by_device.items():
        at = max([job[1] for job in group])
        with_values = [job for job in group if job[5]]
        metrics: dict[str, tuple[datetime, float | None]] = {}
        if len(with_values) == 1:
            job = with_values[0]
            assert job[2] is not None
            data_time = job[2]
            metrics = {n: (data_time, v) for n, v in zip(job[5], job[6], strict=True)}
        elif with_values:
            applied: list[Sequence[str]] = []
            # newest data time first; of equal ones the later frame first (stable sort)
            for job in sorted(reversed(with_values), key=_data_time_key, reverse=True):
                names = job[5]
                if any(names is done for done in applied):
                    continue
                assert job[2] is not None
                for name, value in zip(names, job[6], strict=True):
                    if name not in metrics:
                        metrics[name] = (job[2], value)
                applied.append(names)
        out[device_id] = (at, metrics)
    return out
