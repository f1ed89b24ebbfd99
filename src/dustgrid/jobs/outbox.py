"""Re-export: the queue is the foundation module ``dustgrid.outbox.queue``."""

from __future__ import annotations

from dustgrid.outbox.queue import enqueue

__all__ = ["enqueue"]
