"""JSON readings from integrators (HTTP API and MQTT): check each item, store the good ones.

One item: ``{"device": "<MN>", "metric": "pm10" | "a34002", "time": ISO 8601, "value": 85.3,
"flag": "N", "kind": "rtd"}``. ``device`` may be left out (it is the key's or the topic's
device); ``flag`` defaults to ``N`` and ``kind`` to ``rtd``. A time without an offset is
city-local (Asia/Shanghai), like HJ 212 times. A bad item is reported by its index and
reason and never stops the good ones; resending items stores nothing twice.

What an item must be (docs/devices.md explains it to integrators):

* ``value`` a JSON number or ``null`` - ``true``, ``"85.3"`` are refused (code ``invalid``);
* ``flag`` one of the HJ 212 data flags (``N S F M D C T B``, ``hj212.cp.flag_info``);
  anything else is refused (``unknown_flag``);
* ``time`` inside the reading time window (``telemetry.timewindow``, the same for every
  channel): an item dated too far ahead, too far back or at a time that has no UTC
  instant (``0001-01-01T00:00:00`` city time) is refused with the window's verdict as its
  code (``time_ahead``, ``time_behind``, ``time_invalid``) and counted in
  ``out_of_window``. Refused, not stored: such a row would carry a data time nobody can
  use, so it can neither count as valid data nor move the device's last-seen time;
* a value outside its metric's plausible range (``telemetry.plausibility``) is stored with
  ``valid = False`` and flag ``X`` and reported in ``flagged``: it never counts as valid.

Never commits: the request dependency (HTTP) or the subscriber (MQTT) does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from math import isfinite
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError
from sqlalchemy.orm import Session

from dustgrid.devices.models import Device
from dustgrid.devices.online import mark_seen
from dustgrid.errors import validation_summary
from dustgrid.i18n import Msg, localize
from dustgrid.ingest.hj212.codes import CODE_TO_METRIC, DATA_FLAGS, KIND_SUFFIXES
from dustgrid.ingest.hj212.cp import flag_info
from dustgrid.telemetry.metrics import METRICS
from dustgrid.telemetry.plausibility import (
    DEFAULT_PLAUSIBLE_RANGES,
    IMPLAUSIBLE,
    IMPLAUSIBLE_FLAG,
    PlausibleRanges,
)
from dustgrid.telemetry.store import ReadingRow, write_readings
from dustgrid.telemetry.timewindow import (
    TOO_FAR_AHEAD,
    TOO_FAR_BACK,
    UNREPRESENTABLE,
    ReadingTimeWindow,
)
from dustgrid.telemetry.units import to_canonical

BASE_KINDS: Final = frozenset(KIND_SUFFIXES.values())  # rtd avg min max cou
#: Accepted kinds: the HJ 212 ones, and hour/day statistics as the TCP server stores them.
KINDS: Final = BASE_KINDS | {p + k for p in ("h", "d") for k in BASE_KINDS - {"rtd"}}
SEEN_KINDS: Final = frozenset({"rtd", "avg"})  # their last valid value is the device's latest
MAX_FLAG_LEN: Final = 2

# Machine-readable error codes of an item (``ItemError.code``).
E_INVALID: Final = "invalid"
E_METRIC: Final = "unknown_metric"
E_KIND: Final = "unknown_kind"
E_DEVICE: Final = "forbidden_device"
E_FLAG: Final = "unknown_flag"
E_UNIT: Final = "unit"
E_IMPLAUSIBLE: Final = IMPLAUSIBLE  # not an error: stored as invalid, listed in ``flagged``
#: The time window's verdicts are item error codes as they are.
WINDOW_CODES: Final = frozenset({TOO_FAR_AHEAD, TOO_FAR_BACK, UNREPRESENTABLE})
_WINDOW_REASONS: Final = {
    TOO_FAR_AHEAD: "ingest.reason.time_ahead",
    TOO_FAR_BACK: "ingest.reason.time_behind",
    UNREPRESENTABLE: "ingest.reason.time_invalid",
}
#: A JSON number (int or float) or null; booleans and numeric strings are refused.
StrictNumber = Annotated[float | None, Strict()]


class ReadingItem(BaseModel):
    """One reading as an integrator sends it (unknown fields are ignored)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    device: str | None = Field(default=None, max_length=24, description="Device MN")
    metric: str = Field(min_length=1, max_length=24, description="pm10, pm25, tsp, noise…")
    time: datetime = Field(description="Data time; without an offset it is city-local")
    value: StrictNumber = Field(description="A JSON number (or null), in the device's unit")
    flag: str = Field(default="N", min_length=1, max_length=MAX_FLAG_LEN)
    kind: str = Field(default="rtd", max_length=16, description="rtd, avg, min, max, cou…")


class ItemError(BaseModel):
    index: int
    code: str
    reason: str = Field(description="What is wrong, in the caller's language (zh-CN by default)")
    msg: dict[str, Any] | None = Field(
        default=None, description="The reason as a message key and its parameters"
    )

    @classmethod
    def of(cls, index: int, code: str, reason: Msg) -> ItemError:
        return cls(index=index, code=code, reason=str(reason), msg=reason.as_json())

    def in_language(self, locale: str) -> ItemError:
        """The same error with ``reason`` said in ``locale``."""
        return self.model_copy(update={"reason": localize(self.msg or self.reason, locale)})


class IntakeResult(BaseModel):
    stored: int = Field(default=0, description="New readings stored (valid or flagged)")
    duplicates: int = Field(default=0, description="Readings already stored (a resend)")
    out_of_window: int = Field(
        default=0, description="Items refused because their time is outside the time window"
    )
    errors: list[ItemError] = Field(default_factory=list, description="Refused items")
    flagged: list[ItemError] = Field(
        default_factory=list,
        description="Items stored as invalid (implausible value, flag X): not valid data",
    )


@dataclass(slots=True)
class Parsed:
    rows: list[ReadingRow] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    flagged: list[ItemError] = field(default_factory=list)
    #: latest valid rtd/avg value per metric, for the device's online state
    seen: dict[str, tuple[datetime, float | None]] = field(default_factory=dict)


def resolve_metric(name: str) -> str | None:
    """Platform metric key of ``pm10``/``PM10`` or of an HJ 212 code (``a34002``)."""
    if name in METRICS:
        return name
    if name in CODE_TO_METRIC:
        return CODE_TO_METRIC[name]
    lowered = name.lower()
    return lowered if lowered in METRICS else None


def _validation_reason(exc: ValidationError) -> Msg:
    return Msg(
        "ingest.reason.invalid", {"detail": validation_summary(exc.errors(), unnamed="item")}
    )


def parse_items(  # noqa: C901 - hot loop, one function on purpose, see docs/performance.md
    items: Sequence[Any],
    *,
    device: Device,
    source: str,
    tz: tzinfo,
    now: datetime,
    window: ReadingTimeWindow,
    ranges: PlausibleRanges = DEFAULT_PLAUSIBLE_RANGES,
) -> Parsed:
    """Rows for the good items of ``device``; an :class:`ItemError` for each bad one.

    Never raises for anything in ``items``: whatever an integrator sends is a row or an error.
    """
    out = Parsed()
    for index, raw in enumerate(items):

        def bad(code: str, reason: Msg, index: int = index) -> None:
            out.errors.append(ItemError.of(index, code, reason))

        if not isinstance(raw, dict):
            bad(E_INVALID, Msg("ingest.reason.not_object"))
            continue
        try:
            item = ReadingItem.model_validate(raw)
        except ValidationError as exc:
            bad(E_INVALID, _validation_reason(exc))
            continue
        if item.device is not None and item.device != device.mn:
            mn = item.device
            bad(E_DEVICE, Msg("ingest.reason.forbidden_device", {"mn": mn}))
            continue
        metric = resolve_metric(item.metric)
        if metric is None:
            bad(E_METRIC, Msg("ingest.reason.unknown_metric", {"metric": item.metric}))
            continue
        if item.kind not in KINDS:
            bad(
                E_KIND,
                Msg(
                    "ingest.reason.unknown_kind",
                    {"kind": item.kind, "known": ", ".join(sorted(KINDS))},
                ),
            )
            continue
        flag, flag_ok = flag_info(item.flag)
        if flag not in DATA_FLAGS:
            known = "".join(DATA_FLAGS)
            bad(E_FLAG, Msg("ingest.reason.unknown_flag", {"flag": item.flag, "known": known}))
            continue
        data_time = window.to_utc(item.time, tz)
        verdict = UNREPRESENTABLE if data_time is None else window.judge(data_time, now)
        if data_time is None or verdict is not None:
            code = verdict or UNREPRESENTABLE
            bad(code, Msg(_WINDOW_REASONS[code], {"when": item.time.isoformat()}))
            continue
        value = item.value
        implausible: str | None = None
        if value is not None:
            if not isfinite(value):
                bad(E_INVALID, Msg("ingest.reason.not_finite"))
                continue
            try:
                value = to_canonical(value, metric, device.particulate_unit)
            except ValueError as exc:
                bad(E_UNIT, Msg("ingest.reason.unit", {"detail": str(exc)}))
                continue
            implausible = ranges.check(metric, item.kind, value)
            if implausible is not None:
                flag, flag_ok = IMPLAUSIBLE_FLAG, False
                if not isfinite(value):  # a huge value times a unit factor
                    value = None
                out.flagged.append(
                    ItemError.of(
                        index,
                        E_IMPLAUSIBLE,
                        Msg(
                            "ingest.reason.implausible",
                            {
                                "metric": {
                                    "zh-CN": METRICS[metric].name_zh,
                                    "en": METRICS[metric].name_en,
                                },
                                "detail": implausible,
                            },
                        ),
                    )
                )
        valid = flag_ok and value is not None
        out.rows.append(
            ReadingRow(
                device_id=device.id,
                metric=metric,
                kind=item.kind,
                data_time=data_time,
                value=value,
                flag=flag[:MAX_FLAG_LEN],
                valid=valid,
                source=source,
                received_at=now,
            )
        )
        if valid and item.kind in SEEN_KINDS:
            old = out.seen.get(metric)
            if old is None or data_time >= old[0]:
                out.seen[metric] = (data_time, value)
    return out


def store_items(
    session: Session,
    items: Sequence[Any],
    *,
    device: Device,
    source: str,
    tz: tzinfo,
    now: datetime,
    window: ReadingTimeWindow,
    ranges: PlausibleRanges = DEFAULT_PLAUSIBLE_RANGES,
) -> IntakeResult:
    """Parse, store and mark the device seen; the caller commits.

    Only items inside the time window are stored, so items outside it never move the
    device's last-seen time (nothing is marked when no item was stored).
    """
    parsed = parse_items(
        items, device=device, source=source, tz=tz, now=now, window=window, ranges=ranges
    )
    stored = write_readings(session.connection(), parsed.rows) if parsed.rows else 0
    if parsed.rows:
        mark_seen(session, device_id=device.id, at=now, metrics=parsed.seen)
    return IntakeResult(
        stored=stored,
        duplicates=len(parsed.rows) - stored,
        out_of_window=sum(1 for e in parsed.errors if e.code in WINDOW_CODES),
        errors=parsed.errors,
        flagged=parsed.flagged,
    )
