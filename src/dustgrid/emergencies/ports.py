"""What the emergencies domain reads from domains above it, through ports they provide.

The compliance table of an episode counts the alerts raised at each site under order;
alerts sit above emergencies (they read the declared episodes), so ``alerts.repository``
provides :data:`ALERTS_DURING` when it is imported. An unprovided port fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session


class AlertTally(NamedTuple):
    """Alerts of one site that overlap a period: how many, and how many are not cleared."""

    raised: int
    still_open: int


AlertCounter = Callable[[Session, Sequence[int], datetime, datetime], dict[int, AlertTally]]


class AlertsDuring:
    """Per site, the exceedance alerts that overlap ``[start, end)``."""

    def __init__(self) -> None:
        self._fn: AlertCounter | None = None

    def provide(self, fn: AlertCounter) -> AlertCounter:
        self._fn = fn
        return fn

    def __call__(
        self, session: Session, site_ids: Sequence[int], start: datetime, end: datetime
    ) -> dict[int, AlertTally]:
        if self._fn is None:
            raise RuntimeError("alerts during an emergency: import dustgrid.alerts.repository")
        return self._fn(session, site_ids, start, end)


ALERTS_DURING = AlertsDuring()
