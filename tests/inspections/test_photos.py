"""Photo EXIF (time, GPS), the checks against the visit, and the watermarked copy."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from dustgrid.inspections import photos
from dustgrid.inspections.policy import DEFAULT_PHOTO_CHECK_POLICY
from tests.inspections.photo_kit import jpeg

TZ = ZoneInfo("Asia/Shanghai")
SITE = (41.791, 123.401)
VISIT = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)  # 10:00 in Shenyang


def local(*parts: int) -> datetime:
    """A wall-clock time in the city (what the camera writes into EXIF)."""
    return datetime(*parts, tzinfo=TZ)  # type: ignore[misc]


def _flags(content: bytes) -> list[str]:
    facts = photos.read_exif(content, TZ)
    return photos.check_flags(facts, site=SITE, visit_at=VISIT, policy=DEFAULT_PHOTO_CHECK_POLICY)


def test_exif_time_and_gps_are_read() -> None:
    content = jpeg(taken=local(2026, 5, 6, 10, 5), lat=41.7912, lon=123.4013)
    facts = photos.read_exif(content, TZ)
    assert facts.taken_at == datetime(2026, 5, 6, 2, 5, tzinfo=UTC)  # local time read in +08:00
    assert facts.lat == pytest.approx(41.7912, abs=1e-5)
    assert facts.lon == pytest.approx(123.4013, abs=1e-5)
    assert _flags(content) == []


def test_a_photo_without_exif_is_flagged() -> None:
    content = jpeg()
    assert photos.read_exif(content, TZ) == photos.ExifFacts(None, None, None)
    assert _flags(content) == [photos.EXIF_MISSING]


def test_far_and_late_photos_are_flagged() -> None:
    far = jpeg(taken=local(2026, 5, 6, 10, 0), lat=41.80, lon=123.46)  # ~5 km away
    assert _flags(far) == [photos.FAR]
    late = jpeg(taken=local(2026, 5, 5, 10, 0), lat=41.7912, lon=123.4013)  # a day early
    assert _flags(late) == [photos.TIME_OFF]
    no_gps = jpeg(taken=local(2026, 5, 6, 10, 0))
    assert _flags(no_gps) == [photos.NO_GPS]


def test_unreadable_bytes_are_refused() -> None:
    with pytest.raises(photos.PhotoUnreadable):
        photos.read_exif(b"\xff\xd8\xff\xe0 not really a jpeg", TZ)


def _stamp() -> photos.Stamp:
    return photos.stamp_for(
        taken=VISIT + timedelta(minutes=3),
        tz=TZ,
        site_name="和平区中山路住宅项目",
        site_code="HP-001",
        lat=41.7912,
        lon=123.4013,
        inspector="张三",
        inspector_login="insp_hp1",
    )


def test_the_stamp_says_local_time_place_and_inspector() -> None:
    s = _stamp()
    assert s.lines[0] == "2026-05-06 10:03:00 +0800"
    assert "和平区中山路住宅项目" in s.lines[1]
    assert s.lines[2] == "41.791200, 123.401300"
    assert s.lines[3] == "张三"
    when = "2026-05-06 10:03:00 +0800"
    assert s.ascii_lines == (when, "HP-001", "41.791200, 123.401300", "insp_hp1")


def _bottom_band_is_dark(content: bytes) -> bool:
    img = Image.open(io.BytesIO(content)).convert("L")
    return img.getpixel((2, img.height - 2)) < 100  # the band darkens the bottom edge


def test_the_watermarked_copy_is_a_new_jpeg_and_the_original_is_untouched() -> None:
    original = jpeg(
        taken=local(2026, 5, 6, 10, 5), lat=41.7912, lon=123.4013, color=(200, 200, 200)
    )
    kept = bytes(original)
    stamped = photos.watermark(original, _stamp())
    assert original == kept
    assert stamped[:3] == b"\xff\xd8\xff" and stamped != original
    img = Image.open(io.BytesIO(stamped))
    assert img.size == (640, 480)
    assert _bottom_band_is_dark(stamped)
    top = Image.open(io.BytesIO(stamped)).convert("L").getpixel((320, 10))
    assert top > 150  # the picture itself is left as it was above the band


def test_the_watermark_works_without_any_cjk_font(monkeypatch: pytest.MonkeyPatch) -> None:
    photos.find_font.cache_clear()
    monkeypatch.setattr(photos, "CJK_FONTS", ())
    monkeypatch.setattr(photos, "LATIN_FONTS", ())
    try:
        assert photos.find_font() == (None, False)
        stamped = photos.watermark(jpeg(color=(200, 200, 200)), _stamp())
        assert _bottom_band_is_dark(stamped)
    finally:
        photos.find_font.cache_clear()


def test_large_photos_are_scaled_down_for_the_copy() -> None:
    big = jpeg(size=(4000, 3000))
    img = Image.open(io.BytesIO(photos.watermark(big, _stamp())))
    assert max(img.size) == photos.MAX_STAMPED_SIDE
