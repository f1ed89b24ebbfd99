"""The daily detection's stays on a Dask cluster: one task per (day, bucket) partition.

``DaskEngine("tcp://scheduler:8786")`` (or an existing ``distributed.Client``) is an
:class:`~dustgrid.trajectories.daily.Engine`: each task reads one partition's fix files and
returns its stays, so a worker's memory is bounded by one partition, never by the day. The
stays (a few hundred times smaller than the fixes) are gathered and clustered by the caller,
exactly as with the local engine, so both give the same suspects.

The workers must have dustgrid installed and see the data directory at the same path (a
shared file system). ``dask[distributed]`` is an optional extra (``pip install
dustgrid[dask]``); without it, constructing the engine raises :class:`DaskUnavailable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dustgrid.trajectories.daily import Partition, stays_of_partition
from dustgrid.trajectories.policy import TrajectoryPolicy
from dustgrid.trajectories.stays import Stays
from dustgrid.trajectories.store import FixStore

CONNECT_TIMEOUT_S = 30.0  # how long to wait for the scheduler before giving up


class DaskUnavailable(RuntimeError):
    """dask.distributed is not installed, or the scheduler cannot be reached."""


class DaskEngine:
    """Stays of partitions as Dask tasks on the cluster behind ``scheduler``."""

    def __init__(self, scheduler: Any, *, timeout_s: float | None = None) -> None:
        try:
            from distributed import Client  # untyped: held as Any
        except ImportError:  # pragma: no cover - the dev extra installs it
            raise DaskUnavailable(
                "the Dask engine needs dask[distributed]: pip install 'dustgrid[dask]'"
            ) from None
        self.client: Any
        if isinstance(scheduler, Client):
            self.client, self._own = scheduler, False
        else:
            try:
                self.client = Client(str(scheduler), timeout=timeout_s or CONNECT_TIMEOUT_S)  # type: ignore[no-untyped-call]
            except OSError as exc:
                raise DaskUnavailable(f"no Dask scheduler at {scheduler}: {exc}") from None
            self._own = True

    def partition_stays(
        self, store: FixStore, partitions: Sequence[Partition], policy: TrajectoryPolicy
    ) -> list[Stays]:
        if not partitions:
            return []
        futures = self.client.map(
            stays_of_partition,
            [store] * len(partitions),
            [d for d, _ in partitions],
            [b for _, b in partitions],
            [policy] * len(partitions),
            pure=False,
        )
        result: list[Stays] = self.client.gather(futures)
        return result

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client when this engine opened it."""
        if self._own:
            self.client.close()
