"""Type stub of the optional C accelerator (``_speedups.c``); see ``codec._load_speedups``."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

def configure(
    frame_type: type,
    item_type: type,
    ts_cache: dict[str, datetime],
    parse_timestamp: Callable[[str], datetime],
    check_qn: Callable[[str], None],
    classify_key: Callable[[str], tuple[str, str | None, str | None] | None],
    flag_info: Callable[[str], tuple[str, bool]],
    flag_infos: dict[str, tuple[str, bool]],
    error_type: type[BaseException],
    crc_name: str,
) -> None: ...
def decode(raw: object) -> Any: ...
def crc(data: bytes | bytearray | memoryview) -> int: ...
