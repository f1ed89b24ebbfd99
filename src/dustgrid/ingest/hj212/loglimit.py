"""Rate-limited logging of the HJ 212 listener: one line per peer host and reason per interval."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Final

LOG_LIMIT_KEYS: Final = 100_000  # (peer, reason) pairs remembered before starting afresh


class LogLimiter:
    """At most one log line per (peer host, reason) every ``every_s`` seconds.

    A device that sends nothing but bad frames (a wrong CRC variant, a fuzzer, a broken
    firmware) would otherwise write a line per frame: 600,000 bad frames were 19 MB of log.
    Lines held back are counted in ``stats["log_suppressed"]`` (the per-reason counters are
    counted anyway); the next line for the same key says how many it stands for. The peer
    is the host without its port: a device reconnecting gets a new port, not a new quota.
    ``every_s`` 0 logs every line."""

    def __init__(
        self, every_s: float, stats: Counter[str], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.every_s = every_s
        self.stats = stats
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def allow(self, peer: str, reason: str) -> int | None:
        """None: do not log (counted); else the number of lines held back before this one."""
        if self.every_s <= 0:
            return 0
        key = (peer.rpartition(":")[0] or peer, reason)
        now = self._clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.every_s:
            self._seen[key] = (last[0], last[1] + 1)
            self.stats["log_suppressed"] += 1
            return None
        if len(self._seen) >= LOG_LIMIT_KEYS:
            self._seen.clear()
        self._seen[key] = (now, 0)
        return 0 if last is None else last[1]
