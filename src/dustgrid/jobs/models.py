"""The outbox table lives in the foundation package ``dustgrid.outbox`` (domains enqueue
into it); re-exported here for the worker's readers."""

from __future__ import annotations

from dustgrid.outbox.models import JobStatus, OutboxJob

__all__ = ["JobStatus", "OutboxJob"]
