"""Protocol constants and the declarative pollutant-code table of HJ 212-2017.

Every numeric rule of the codec (flag bits, size caps, data-flag validity) lives here as a
named constant so the codec logic carries no bare literals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

# the registry's MN and PW limits, re-exported for the codec
from dustgrid.devices.protocol import HEADER_TEXT_CLASS as HEADER_TEXT_CLASS
from dustgrid.devices.protocol import HEADER_TEXT_FORBIDDEN as HEADER_TEXT_FORBIDDEN
from dustgrid.devices.protocol import MAX_MN_LEN as MAX_MN_LEN
from dustgrid.devices.protocol import MAX_PW_LEN as MAX_PW_LEN
from dustgrid.telemetry.metrics import METRICS

# --- envelope -------------------------------------------------------------------------
FRAME_START: Final = "##"
FRAME_END: Final = "\r\n"
LENGTH_DIGITS: Final = 4
CRC_DIGITS: Final = 4
START_LEN: Final = len(FRAME_START)
HEADER_LEN: Final = START_LEN + LENGTH_DIGITS  # "##" + 4-digit length
MAX_DATA_LEN: Final = 9999  # a 4-digit decimal length field cannot say more
MAX_FRAME_LEN: Final = HEADER_LEN + MAX_DATA_LEN + CRC_DIGITS + len(FRAME_END)

# --- data-segment header fields -------------------------------------------------------
QN_LEN: Final = 17  # yyyyMMddHHmmssZZZ
DATETIME_LEN: Final = 14  # yyyyMMddHHmmss (DataTime, BeginTime, EndTime, SystemTime)
MAX_ST_LEN: Final = 5
MAX_CN_LEN: Final = 7
# MAX_PW_LEN, MAX_MN_LEN, HEADER_TEXT_FORBIDDEN, HEADER_TEXT_CLASS: devices.protocol
MAX_FLAG: Final = 255  # Flag is one byte: V5..V0 D A
MAX_FLAG_DIGITS: Final = len(str(MAX_FLAG))
MAX_PACKET_DIGITS: Final = 9  # PNUM/PNO (lenient; also keeps int() away from huge strings)

FLAG_ACK: Final = 0b01  # bit 0 (A): the sender wants a reply
FLAG_SPLIT: Final = 0b10  # bit 1 (D): split packet, PNUM/PNO present
VERSION_SHIFT: Final = 2  # bits 2..7 hold the protocol version
VERSION_2005: Final = 0  # HJ/T 212-2005
VERSION_2017: Final = 1  # HJ 212-2017
REPLY_FLAG: Final = VERSION_2017 << VERSION_SHIFT  # 4: version 1, no ack, not split
REQUEST_FLAG: Final = REPLY_FLAG | FLAG_ACK  # 5: version 1, ack wanted

# --- system types (ST) ----------------------------------------------------------------
ST_AMBIENT_AIR: Final = "22"
ST_AIR_POLLUTION_SOURCE: Final = "31"
ST_SURFACE_WATER_SOURCE: Final = "32"
ST_DUST: Final = "39"  # construction-site dust (扬尘)
ST_SYSTEM: Final = "91"  # system interaction (replies)

# --- commands (CN) --------------------------------------------------------------------
CN_TIME_GET: Final = "1011"
CN_TIME_SET: Final = "1012"
CN_RTD_DATA: Final = "2011"
CN_DAY_DATA: Final = "2031"
CN_MINUTE_DATA: Final = "2051"
CN_HOUR_DATA: Final = "2061"
CN_RUNNING_STATUS: Final = "2021"  # device running status (SBx-RS)
CN_RUNNING_TIME_DAY: Final = "2041"  # device running time, day history (SBx-RT)
CN_RESTART_TIME: Final = "2081"  # data logger switched on (RestartTime)
CN_SITE_INFO: Final = "3020"  # on-site unit information (logs, state, parameters)
CN_REQUEST_REPLY: Final = "9011"  # QnRtn
CN_EXECUTION_RESULT: Final = "9012"  # ExeRtn
CN_NOTIFY_REPLY: Final = "9013"
CN_DATA_REPLY: Final = "9014"
DATA_CNS: Final = frozenset({CN_RTD_DATA, CN_MINUTE_DATA, CN_HOUR_DATA, CN_DAY_DATA})
HISTORY_CNS: Final = frozenset({CN_MINUTE_DATA, CN_HOUR_DATA, CN_DAY_DATA})
#: Uploads a dust monitor sends that carry no pollutant readings: answered with a 9014
#: (when Flag asks), counted, not stored (docs/devices.md).
STATUS_UPLOAD_CNS: Final = frozenset(
    {CN_RUNNING_STATUS, CN_RUNNING_TIME_DAY, CN_RESTART_TIME, CN_SITE_INFO}
)

QN_RTN_READY: Final = 1  # 9011 QnRtn: request accepted, will execute
EXE_RTN_SUCCESS: Final = 1  # 9012 ExeRtn: executed successfully

# --- CP items ------------------------------------------------------------------------
KIND_RTD: Final = "rtd"
KIND_AVG: Final = "avg"
KIND_MIN: Final = "min"
KIND_MAX: Final = "max"
KIND_COU: Final = "cou"
#: CP key suffix -> item kind ("a34002-Rtd" -> "rtd").
KIND_SUFFIXES: Final[Mapping[str, str]] = MappingProxyType(
    {"Rtd": KIND_RTD, "Avg": KIND_AVG, "Min": KIND_MIN, "Max": KIND_MAX, "Cou": KIND_COU}
)
SUFFIX_OF_KIND: Final[Mapping[str, str]] = MappingProxyType(
    {kind: suffix for suffix, kind in KIND_SUFFIXES.items()}
)
FLAG_SUFFIX: Final = "Flag"

# --- data flags -----------------------------------------------------------------------
FLAG_NORMAL: Final = "N"
#: Data flag -> valid? Only valid values enter averages and alert rules.
DATA_FLAGS: Final[Mapping[str, bool]] = MappingProxyType(
    {
        "N": True,  # normal
        "S": True,  # manual input / set value
        "F": False,  # instrument stopped
        "M": False,  # maintenance
        "D": False,  # fault
        "C": False,  # calibration
        "T": False,  # over measuring range
        "B": False,  # communication failure
    }
)
VALID_FLAGS: Final = frozenset(f for f, ok in DATA_FLAGS.items() if ok)
INVALID_FLAGS: Final = frozenset(f for f, ok in DATA_FLAGS.items() if not ok)


@dataclass(frozen=True, slots=True)
class PollutantCode:
    """An HJ 212 pollutant code and the platform metric it feeds."""

    code: str
    metric: str
    name_zh: str
    name_en: str

    @property
    def unit(self) -> str:
        """Canonical unit of the metric (values are converted to it on ingest)."""
        return METRICS[self.metric].unit


_CODE_LIST: Final = (
    PollutantCode("a34001", "tsp", "总悬浮颗粒物", "Total suspended particulates (TSP)"),
    PollutantCode("a34002", "pm10", "可吸入颗粒物 PM10", "PM10"),
    PollutantCode("a34004", "pm25", "细颗粒物 PM2.5", "PM2.5"),
    PollutantCode("a34005", "pm1", "颗粒物 PM1.0", "PM1.0"),
    PollutantCode("LA", "noise", "A 声级", "A-weighted sound level"),
    PollutantCode("Leq", "noise", "等效声级", "Equivalent continuous sound level"),
    PollutantCode("a01001", "temperature", "温度", "Temperature"),
    PollutantCode("a01002", "humidity", "湿度", "Relative humidity"),
    PollutantCode("a01006", "pressure", "气压", "Atmospheric pressure"),
    PollutantCode("a01007", "wind_speed", "风速", "Wind speed"),
    PollutantCode("a01008", "wind_direction", "风向", "Wind direction"),
)

#: pollutant code -> :class:`PollutantCode`; codes not listed decode with ``metric=None``.
POLLUTANT_CODES: Final[Mapping[str, PollutantCode]] = MappingProxyType(
    {c.code: c for c in _CODE_LIST}
)
#: pollutant code -> metric key (the hot-path view of :data:`POLLUTANT_CODES`).
CODE_TO_METRIC: Final[Mapping[str, str]] = MappingProxyType({c.code: c.metric for c in _CODE_LIST})


def metric_for(code: str) -> str | None:
    """Platform metric key of an HJ 212 pollutant code, or None when we do not map it."""
    return CODE_TO_METRIC.get(code)
