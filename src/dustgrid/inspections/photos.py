"""Inspection photos (pure, Pillow): EXIF time and position, the checks against the visit,
and the watermarked copy (time, place, inspector) burnt into the picture.

No database and no web library here; the service stores what these functions return.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from dustgrid.geo.coords import haversine_m
from dustgrid.inspections.policy import PhotoCheckPolicy

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
DATETIME_ORIGINAL = 36867
OFFSET_TIME_ORIGINAL = 36881
DATETIME = 306
# Flags a photo may carry (stored space-separated on the photo row).
EXIF_MISSING = "exif_missing"  # no EXIF time and no EXIF position
NO_GPS = "exif_no_gps"  # a time but no position
FAR = "exif_far"  # taken farther from the site than the policy allows
TIME_OFF = "exif_time_off"  # taken long before or after the visit
FLAGS = (EXIF_MISSING, NO_GPS, FAR, TIME_OFF)
# Fonts with CJK glyphs, first found wins (Debian: fonts-noto-cjk, fonts-wqy-microhei).
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
)
LATIN_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)
MAX_STAMPED_SIDE = 2560


class PhotoUnreadable(ValueError):
    """The bytes are an image type we accept but Pillow cannot decode them."""


@dataclass(frozen=True, slots=True)
class ExifFacts:
    taken_at: datetime | None  # aware (UTC); local EXIF time read in the city's time zone
    lat: float | None
    lon: float | None


@dataclass(frozen=True, slots=True)
class Stamp:
    """What the watermark says; ``ascii_lines`` is used when no CJK font is installed."""

    lines: tuple[str, ...]
    ascii_lines: tuple[str, ...]


def _open(content: bytes) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(content))
        img.load()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise PhotoUnreadable(str(exc)) from exc
    return img


def _ratio(v: Any) -> float:
    if isinstance(v, tuple) and len(v) == 2:
        return float(v[0]) / float(v[1]) if v[1] else 0.0
    return float(v)


def _dms(values: Sequence[Any], ref: str) -> float:
    deg, minutes, seconds = (_ratio(v) for v in values)
    value = deg + minutes / 60 + seconds / 3600
    return -value if ref.upper() in ("S", "W") else value


def _gps(exif: Image.Exif) -> tuple[float | None, float | None]:
    gps = exif.get_ifd(GPS_IFD)
    try:
        lat = _dms(gps[2], str(gps.get(1, "N")))
        lon = _dms(gps[4], str(gps.get(3, "E")))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None, None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None, None
    return lat, lon


def _taken_at(exif: Image.Exif, tz: ZoneInfo) -> datetime | None:
    sub = exif.get_ifd(EXIF_IFD)
    raw = sub.get(DATETIME_ORIGINAL) or exif.get(DATETIME)
    if not raw:
        return None
    try:
        # EXIF local time has no offset of its own: it is read in the city's zone below.
        local = datetime.strptime(str(raw).strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007
    except ValueError:
        return None
    offset = str(sub.get(OFFSET_TIME_ORIGINAL) or "").strip("\x00 ")
    if offset:
        try:
            return datetime.strptime(f"{local:%Y-%m-%d %H:%M:%S}{offset}", "%Y-%m-%d %H:%M:%S%z")
        except ValueError:
            pass
    return local.replace(tzinfo=tz)


def read_exif(content: bytes, tz: ZoneInfo) -> ExifFacts:
    """The photo's EXIF time (EXIF local time, read in ``tz`` unless it names its offset)
    and GPS position; None where the photo does not say."""
    img = _open(content)
    exif = img.getexif()
    lat, lon = _gps(exif)
    return ExifFacts(_taken_at(exif, tz), lat, lon)


def check_flags(
    facts: ExifFacts,
    *,
    site: tuple[float, float],
    visit_at: datetime,
    policy: PhotoCheckPolicy,
) -> list[str]:
    """What the EXIF check found about a photo (``FLAGS``); empty when it fits the visit."""
    if facts.taken_at is None and facts.lat is None:
        return [EXIF_MISSING]
    flags = []
    if facts.lat is None or facts.lon is None:
        flags.append(NO_GPS)
    elif haversine_m(facts.lat, facts.lon, site[0], site[1]) > policy.max_distance_m:
        flags.append(FAR)
    if facts.taken_at is not None and abs(facts.taken_at - visit_at) > policy.max_time_off:
        flags.append(TIME_OFF)
    return flags


@lru_cache(maxsize=1)
def find_font() -> tuple[str | None, bool]:
    """(path, has CJK glyphs) of the font the watermark uses; (None, False) for Pillow's own."""
    for path in CJK_FONTS:
        if Path(path).is_file():
            return path, True
    for path in LATIN_FONTS:
        if Path(path).is_file():
            return path, False
    return None, False


def _font(size: int) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    path, cjk = find_font()
    if path is not None:
        try:
            return ImageFont.truetype(path, size), cjk
        except OSError:
            pass
    return ImageFont.load_default(), False


def _ascii(line: str) -> str:
    return "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in line)


def watermark(content: bytes, stamp: Stamp) -> bytes:
    """A JPEG copy of the photo, turned upright, at most ``MAX_STAMPED_SIDE`` pixels, with the
    stamp's lines on a dark band at the bottom. The original is not changed."""
    img = ImageOps.exif_transpose(_open(content)).convert("RGB")
    img.thumbnail((MAX_STAMPED_SIDE, MAX_STAMPED_SIDE))
    size = max(14, img.width // 40)
    font, cjk = _font(size)
    lines = stamp.lines if cjk else tuple(_ascii(s) for s in stamp.ascii_lines)
    line_h = int(size * 1.35)
    band_h = line_h * len(lines) + size
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    top = img.height - band_h
    draw.rectangle((0, top, img.width, img.height), fill=(0, 0, 0, 140))
    for n, line in enumerate(lines):
        draw.text((size // 2, top + size // 2 + n * line_h), line, font=font, fill="white")
    out = Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def stamp_for(
    *,
    taken: datetime,
    tz: ZoneInfo,
    site_name: str,
    site_code: str,
    lat: float,
    lon: float,
    inspector: str,
    inspector_login: str,
) -> Stamp:
    """The watermark's text: local time (with its offset), the site and its coordinates,
    the inspector. The ASCII form names the site by its project code and the inspector by
    their login."""
    when = taken.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %z")
    where = f"{lat:.6f}, {lon:.6f}"
    return Stamp(
        lines=(when, f"{site_name} ({site_code})", where, inspector),
        ascii_lines=(when, site_code, where, inspector_login),
    )
