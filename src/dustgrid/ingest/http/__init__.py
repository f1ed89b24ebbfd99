"""HTTP ingest for integrators: ``POST /api/v1/telemetry`` with a per-device API key."""
