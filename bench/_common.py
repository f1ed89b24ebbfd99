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
import threading
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
        ("load average", f"{load_average()} (1, 5, 15 min; now)"),
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
    # CPU time of this whole process during each call (all threads: with an in-process server
    # that is client + server work); unlike wall time it barely grows on a busy machine
    cpu_ms: list[float] = field(default_factory=list)
    result: Any = None  # what the last call returned (for row counts, sizes, …)
    gc_full: int = 0  # full (generation 2) garbage collections during the calls
    gc_ms: float = 0.0  # time spent in garbage collections (any generation) during the calls

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
    def cpu_p50(self) -> float:
        return percentile(self.cpu_ms, 50)

    @property
    def mean(self) -> float:
        return sum(self.samples_ms) / len(self.samples_ms)


def measure(name: str, fn: Callable[[], Any], *, n: int, warmup: int = 0) -> Timing:
    """Call ``fn`` ``warmup`` times unmeasured, then ``n`` times, timing each call.

    Each call is timed on its own with ``time.perf_counter`` (wall clock, so I/O waits count)
    and ``time.process_time`` (CPU of the whole process). A garbage collection runs before the
    measured calls so earlier work's garbage is not charged to them; the collector stays
    enabled while measuring, as in production, and the collections that happen during a call
    are counted on its :class:`Timing` (``gc_full``, ``gc_ms``).
    """
    return measure_interleaved({name: fn}, n=n, warmup=warmup)[name]


def measure_interleaved(
    fns: dict[str, Callable[[], Any]], *, n: int, warmup: int = 0
) -> dict[str, Timing]:
    """Like :func:`measure` for several callables, taking turns call by call.

    Round ``i`` calls every function once (in the given order), so a change in machine load
    during the run hits all of them alike: the ratios stay meaningful on a shared machine.
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    gc.collect()
    timings = {name: Timing(name) for name in fns}
    clock, cpu = time.perf_counter, time.process_time
    with _GcWatch() as watch:
        for _ in range(n):
            for name, fn in fns.items():
                timing = timings[name]
                watch.current = timing
                c0, t0 = cpu(), clock()
                timing.result = fn()
                t1, c1 = clock(), cpu()
                watch.current = None
                timing.samples_ms.append((t1 - t0) * 1000.0)
                timing.cpu_ms.append((c1 - c0) * 1000.0)
    return timings


class _GcWatch:
    """Charges garbage collections (any thread) to the :class:`Timing` being measured."""

    def __init__(self) -> None:
        self.current: Timing | None = None
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        timing = self.current
        if timing is not None:
            timing.gc_ms += (time.perf_counter() - self._started) * 1000.0
            timing.gc_full += info.get("generation") == 2

    def __enter__(self) -> _GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_exc: object) -> None:
        gc.callbacks.remove(self._callback)


class LoadSampler:
    """Samples the 1-minute load average in a background thread while a benchmark runs."""

    def __init__(self, every_s: float = 2.0) -> None:
        self.every_s = every_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="load-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if hasattr(os, "getloadavg"):
                self.samples.append(os.getloadavg()[0])
            self._stop.wait(self.every_s)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> float | None:
        return max(self.samples) if self.samples else None


def busy_warning(load_1min: float | None, *, own_load: float = 1.0) -> str | None:
    """A warning when others kept the machine busy, else None.

    ``load_1min`` is a 1-minute load average seen while measuring; ``own_load`` is what the
    benchmark itself adds (1.0 for a sequential client and server in one process). Busy means
    the rest exceeds half the cores.
    """
    if load_1min is None:
        return None
    cores = os.cpu_count() or 1
    if load_1min - own_load <= cores / 2:
        return None
    return (
        f"WARNING: the machine was busy while measuring (1-min load up to {load_1min:.2f} on "
        f"{cores} cores, about {own_load:g} of it this benchmark): absolute figures are "
        "inflated; the ratios against the interleaved baseline much less so"
    )


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
