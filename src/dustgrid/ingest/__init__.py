"""Ingest of field-device data (HJ 212 over TCP and friends)."""
