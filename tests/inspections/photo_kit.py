"""JPEGs built with Pillow for the inspection tests, with or without EXIF time and GPS."""

from __future__ import annotations

import io
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from PIL import Image

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
CITY = ZoneInfo("Asia/Shanghai")


def _dms(value: float) -> tuple[Fraction, Fraction, Fraction]:
    value = abs(value)
    deg = int(value)
    minutes_full = (value - deg) * 60
    minutes = int(minutes_full)
    seconds = Fraction(round((minutes_full - minutes) * 60 * 10000), 10000)
    return Fraction(deg), Fraction(minutes), seconds


def jpeg(
    *,
    taken: datetime | None = None,
    lat: float | None = None,
    lon: float | None = None,
    size: tuple[int, int] = (640, 480),
    color: tuple[int, int, int] = (120, 140, 90),
) -> bytes:
    """A JPEG photo; ``taken`` (aware) is written as the city's local wall-clock time with
    no offset, as cameras do."""
    img = Image.new("RGB", size, color)
    exif = Image.Exif()
    if taken is not None:
        local = taken.astimezone(CITY).strftime("%Y:%m:%d %H:%M:%S")
        exif[306] = local
        exif.get_ifd(EXIF_IFD)[36867] = local
    if lat is not None and lon is not None:
        gps = exif.get_ifd(GPS_IFD)
        gps[1] = "N" if lat >= 0 else "S"
        gps[2] = _dms(lat)
        gps[3] = "E" if lon >= 0 else "W"
        gps[4] = _dms(lon)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes() if len(exif) else b"", quality=80)
    return buf.getvalue()
