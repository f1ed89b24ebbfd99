"""Feedback to the channel a case came from (City Brain, 12319, Open311, video AI).

Every event on a case with an ``external_ref`` queues a ``case.source_feedback`` job.
Intake modules register a sender per source with ``register_source_feedback``; a source
without one has nothing to tell, and its jobs finish at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dustgrid.outbox.handlers import JobContext, register

# The job kind is defined beside its handler: whatever can enqueue it (cases.followups
# imports this module) has the handler registered in the same process.
SOURCE_FEEDBACK_JOB = "case.source_feedback"

FeedbackSender = Callable[[dict[str, Any], JobContext], None]
SENDERS: dict[str, FeedbackSender] = {}


def register_source_feedback(source: str, sender: FeedbackSender) -> None:
    """``sender(payload, ctx)`` raises to have the job retried."""
    SENDERS[source] = sender


@register(SOURCE_FEEDBACK_JOB)
def send_feedback(payload: dict[str, Any], ctx: JobContext) -> None:
    sender = SENDERS.get(str(payload.get("source")))
    if sender is not None:
        sender(payload, ctx)
