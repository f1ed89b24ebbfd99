"""A file download: the bytes with their media type, saved under a given name.

One helper for every export route (the notices' PDF and Excel, the ledgers' workbooks), so
that each answers the same headers; a foundation, below the domains and the pages.
"""

from __future__ import annotations

from typing import Final, Literal

from starlette.responses import Response

MEDIA_TYPES: Final = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
Ext = Literal["pdf", "xlsx"]


def file_response(name: str, ext: str, content: bytes) -> Response:
    """A download: the file's media type (from ``ext``), saved under ``name``."""
    return Response(content, media_type=MEDIA_TYPES[ext],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
