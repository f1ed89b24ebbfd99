"""Server-rendered pages (Jinja2 + HTMX, Leaflet, ECharts) over the same service layer."""
