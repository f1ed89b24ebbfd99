"""Pure HJ 212-2017 codec: envelope, CRC, data segment, builders, stream splitting.

No I/O anywhere in this package (the CLI in ``cli.py`` only reads stdin/files). HJ 212
times are naive device-local datetimes: attach the site's city timezone yourself.
"""

from .build import (
    DataItem,
    build_data_frame,
    build_data_reply,
    build_execution_result,
    build_frame,
    build_history_request,
    build_request_reply,
    build_time_get,
    build_time_set,
    encode,
    format_timestamp,
    format_value,
    make_qn,
)
from .codec import Frame, decode, parse_data_segment, peek, qn_datetime
from .codes import POLLUTANT_CODES, PollutantCode, metric_for
from .cp import Item, parse_timestamp
from .crc import hj212_crc, modbus_crc
from .envelope import CRC_BAD, CRC_HJ212, CRC_MODBUS, crc_variant, unwrap, wrap
from .errors import (
    BuildError,
    CRCError,
    FieldError,
    FrameError,
    HJ212Error,
    SplitPacketError,
    StreamError,
)
from .stream import FrameSplitter, SplitReassembler

__all__ = [
    "CRC_BAD",
    "CRC_HJ212",
    "CRC_MODBUS",
    "POLLUTANT_CODES",
    "BuildError",
    "CRCError",
    "DataItem",
    "FieldError",
    "Frame",
    "FrameError",
    "FrameSplitter",
    "HJ212Error",
    "Item",
    "PollutantCode",
    "SplitPacketError",
    "SplitReassembler",
    "StreamError",
    "build_data_frame",
    "build_data_reply",
    "build_execution_result",
    "build_frame",
    "build_history_request",
    "build_request_reply",
    "build_time_get",
    "build_time_set",
    "crc_variant",
    "decode",
    "encode",
    "format_timestamp",
    "format_value",
    "hj212_crc",
    "make_qn",
    "metric_for",
    "modbus_crc",
    "parse_data_segment",
    "parse_timestamp",
    "peek",
    "qn_datetime",
    "unwrap",
    "wrap",
]
