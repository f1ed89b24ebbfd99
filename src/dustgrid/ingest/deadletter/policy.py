"""How much of what cannot be stored is kept, as a named, versioned setting.

Why bounded: a device stuck on a broken payload sends it again and again, every few seconds,
for days. One row per message would let a single device fill the database, so repeats of the
same refusal (same channel, device or topic, and status) within ``merge_window`` count on
the row already there, and rows not seen for ``retention`` are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from dustgrid.config import Settings


@dataclass(frozen=True, slots=True)
class DeadLetterPolicy:
    """``max_bytes`` of payload kept per row; repeats merged within ``merge_window``; rows
    deleted ``retention`` after they were last seen (checked at most every ``purge_every``)."""

    version: str = "2026.1"
    max_bytes: int = 16384
    merge_window: timedelta = timedelta(minutes=10)
    retention: timedelta = timedelta(days=30)
    purge_every: timedelta = timedelta(hours=1)


DEFAULT_DEAD_LETTER_POLICY: Final = DeadLetterPolicy()


def dead_letter_policy_from_settings(settings: Settings) -> DeadLetterPolicy:
    """The default, or a ``+city`` version with the numbers a city configured."""
    wanted = DeadLetterPolicy(
        max_bytes=settings.ingest_dead_letter_max_bytes,
        merge_window=timedelta(seconds=settings.ingest_dead_letter_merge_s),
        retention=timedelta(days=settings.ingest_dead_letter_retention_days),
    )
    if wanted == DEFAULT_DEAD_LETTER_POLICY:
        return DEFAULT_DEAD_LETTER_POLICY
    return DeadLetterPolicy(
        version=f"{DEFAULT_DEAD_LETTER_POLICY.version}+city",
        max_bytes=wanted.max_bytes,
        merge_window=wanted.merge_window,
        retention=wanted.retention,
    )
