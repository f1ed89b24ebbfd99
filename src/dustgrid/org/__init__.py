"""The organisation: districts and the L1–L3 unit tree."""
