"""Visit photos on disk for the archive tests: real JPEGs where the inspection photo route
and the PDF look for them."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from io import BytesIO

from PIL import Image
from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.inspections.models import InspectionPhoto
from dustgrid.inspections.service import photo_path

RED = (200, 30, 30)
BLUE = (30, 60, 200)


def jpeg(color: tuple[int, int, int], size: tuple[int, int] = (640, 480)) -> bytes:
    buf = BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def add_photo(
    db: Session,
    settings: Settings,
    visit_id: int,
    *,
    color: tuple[int, int, int],
    item_code: str = "",
    taken: datetime | None = None,
    on_disk: bool = True,
) -> InspectionPhoto:
    content = jpeg(color)
    sha = hashlib.sha256(content + uuid.uuid4().bytes).hexdigest()  # a file of its own
    relative = f"{sha[:2]}/{sha}.jpg"
    if on_disk:
        path = photo_path(settings, relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    row = InspectionPhoto(
        inspection_id=visit_id, item_code=item_code, original_path=relative,
        stamped_path=relative, content_type="image/jpeg", sha256=sha, exif_taken_at=taken,
    )  # fmt: skip
    db.add(row)
    db.flush()
    return row
