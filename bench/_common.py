"""Shared helpers for the bench/ scripts: the machine, percentiles, a timing loop, a port.

Team rule: performance is measured in ``bench/`` scripts that print their figures, the machine
they ran on, and ratios against a baseline measured in the same run. Import from a script run
as ``python bench/NAME.py`` (the script's folder is on ``sys.path``)::

    from _common import machine_lines, measure, ratio
"""

from __future__ import annotations

import gc
import math
import os
import platform
import socket
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith(("model name", "Model", "Hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def load_average() -> str:
    if hasattr(os, "getloadavg"):
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    return "n/a"


def machine_lines(extra: Iterable[tuple[str, str]] = ()) -> list[str]:
    """``label: value`` lines describing the machine and runtime, plus ``extra`` pairs."""
    pairs = [
        ("platform", platform.platform()),
        ("cpu", f"{cpu_model()} ({os.cpu_count()} logical cores)"),
        ("load average", load_average()),
        ("python", f"{sys.version.split()[0]} ({platform.python_implementation()})"),
        *extra,
    ]
    width = max(len(k) for k, _ in pairs)
    return [f"{k:<{width}} : {v}" for k, v in pairs]


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0-100) with linear interpolation between closest ranks.

    Same definition as ``numpy.percentile``'s default and ``statistics.quantiles(...,
    method="inclusive")``: p50 of [1, 2, 3, 4] is 2.5, p100 is the maximum.
    """
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, got {p}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Timing:
    """Wall-clock samples of one measured operation, in milliseconds."""

    name: str
    samples_ms: list[float] = field(default_factory=list)
    result: Any = None  # what the last call returned (for row counts, sizes, …)

    @property
    def n(self) -> int:
        return len(self.samples_ms)

    def p(self, q: float) -> float:
        return percentile(self.samples_ms, q)

    @property
    def p50(self) -> float:
        return self.p(50)

    @property
    def p95(self) -> float:
        return self.p(95)

    @property
    def p99(self) -> float:
        return self.p(99)

    @property
    def mean(self) -> float:
        return sum(self.samples_ms) / len(self.samples_ms)


def measure(name: str, fn: Callable[[], Any], *, n: int, warmup: int = 0) -> Timing:
    """Call ``fn`` ``warmup`` times unmeasured, then ``n`` times, timing each call.

    Each call is timed on its own with ``time.perf_counter`` (wall clock, so I/O waits count).
    A garbage collection runs before the measured calls so earlier work's garbage is not
    charged to them; the collector stays enabled while measuring, as in production.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    for _ in range(warmup):
        fn()
    gc.collect()
    timing = Timing(name)
    clock = time.perf_counter
    for _ in range(n):
        t0 = clock()
        timing.result = fn()
        timing.samples_ms.append((clock() - t0) * 1000.0)
    return timing


def ratio(value: float, baseline: float) -> str:
    """``value / baseline`` as ``"3.2x"`` (``"n/a"`` when the baseline is zero)."""
    if baseline <= 0:
        return "n/a"
    return f"{value / baseline:.1f}x"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the usual bind-to-0 trick)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])
