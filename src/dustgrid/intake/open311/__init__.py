"""Open311 GeoReport v2: the public endpoint, its spec formats and API keys (docs/intake.md)."""
