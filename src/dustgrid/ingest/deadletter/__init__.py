"""Dead letters: ingest messages and items that could not be stored, kept for admins."""
