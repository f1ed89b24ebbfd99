"""The page Content-Security-Policy, built once from the settings.

Scripts come only from our own origin (no ``'unsafe-inline'``: every page script is a file
under ``web/static``; data for a script travels in ``<script type="application/json">``,
which is not executed). Images come from our origin, ``data:`` URLs (Leaflet and ECharts
draw some icons that way), ``blob:`` URLs (the inspection page previews the photos taken on
the phone, kept as blobs until they are sent) and the configured tile server
(``DUSTGRID_TILE_URL``'s origin), nothing else. Workers (the field pages' service worker,
``/sw.js``) come from our origin through ``default-src``. Styles keep ``'unsafe-inline'``
because Leaflet and ECharts position their elements with inline ``style`` attributes; a
style cannot run script.
"""

from __future__ import annotations

import re
from html import escape
from urllib.parse import urlsplit

from dustgrid.config import Settings

# Leaflet fills "{s}" from its subdomains list (a, b, c by default): any subdomain is allowed.
_SUBDOMAIN = "{s}."


def tile_origin(tile_url: str) -> str | None:
    """``scheme://host[:port]`` of a Leaflet tile URL template, or None when unset/unusable."""
    url = tile_url.strip()
    if not url:
        return None
    parts = urlsplit(url.replace(_SUBDOMAIN, "sub."))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc
    if url.split("//", 1)[-1].startswith(_SUBDOMAIN):
        host = "*." + host.removeprefix("sub.")
    if "{" in host or "}" in host or " " in host or ";" in host:
        return None
    return f"{parts.scheme}://{host}"


def content_security_policy(settings: Settings) -> str:
    images = ["'self'", "data:", "blob:"]
    origin = tile_origin(settings.tile_url)
    if origin:
        images.append(origin)
    return (
        "default-src 'self'; "
        f"img-src {' '.join(images)}; "
        "style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; "
        "object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


_INLINE_SCRIPT = re.compile(r"<script>.*?</script>", re.S)


def without_inline_scripts(html: str, openapi_url: str) -> str:
    """FastAPI's Swagger UI page with its inline start-up script replaced by
    ``static/js/swagger_init.js`` (``script-src 'self'`` would block the inline one)."""
    tag = (
        f'<script src="/static/js/swagger_init.js" '
        f'data-openapi-url="{escape(openapi_url, quote=True)}"></script>'
    )
    return _INLINE_SCRIPT.sub(lambda _m: tag, html)
