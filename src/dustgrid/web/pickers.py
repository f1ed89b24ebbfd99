"""What the form pickers need: the coordinate map of the site form and the site search.

The coordinate map draws what the ledger map draws (the demo city's roads and rivers when no
tile server is set, the district boundaries in scope) in the base map's datum; the form's
inputs stay WGS-84, and ``static/js/site_map.js`` converts between the two.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from dustgrid.config import Settings
from dustgrid.identity.principal import Principal
from dustgrid.org import service as org
from dustgrid.web.mapdata import to_datum, vector_basemap


def coordinate_map(session: Session, principal: Principal, settings: Settings) -> dict[str, Any]:
    """The site form's map picker configuration (JSON for ``site_map.js``)."""
    crs = settings.map_crs()
    return {
        "crs": crs,
        "tileUrl": settings.tile_url,
        "tileAttribution": settings.tile_attribution,
        "basemap": vector_basemap(settings),
        "districts": [
            {"id": d.id, "boundary": to_datum(d.boundary, crs)}
            for d in org.list_districts(session, principal)
            if d.boundary
        ],
    }
