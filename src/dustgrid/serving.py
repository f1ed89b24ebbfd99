"""`dustgrid serve`: web processes behind one port, and the once-per-deployment services.

A deployment has three roles:

- **web** — pages and the API. Any number of processes on any number of machines: every
  piece of state a request needs (sessions, tokens, login throttling, caches the pages
  trust) lives in the database, so a second process or machine misses nothing.
- **hj212** — the HJ 212 TCP listener. Exactly one per port (devices connect to it).
- **jobs** — the background loops (roll-ups, the worker's sweeps and outbox, the alert
  evaluator, the MQTT subscriber). Exactly one per deployment: the MQTT subscriber keeps a
  persistent broker session under a fixed client id, and the sweeps must not race.

``serve(workers=1)`` runs every role in one process (the embedded default, as before).
``serve(workers=N)`` starts one *services* process for hj212 and jobs (restarted if it
dies) and lets uvicorn's supervisor run N web processes on one socket. Extra machines
behind a load balancer run ``dustgrid serve --no-hj212 --no-jobs``: web only.
"""

from __future__ import annotations

import gc
import logging
import math
import multiprocessing
import threading
from dataclasses import dataclass
from multiprocessing.process import BaseProcess

from fastapi import FastAPI

from dustgrid.config import Settings, get_settings

log = logging.getLogger(__name__)

#: How often the supervisor checks that the services process is alive.
SERVICES_CHECK_S = 2.0
#: A services process that dies sooner than this after its start is not restarted in a
#: tight loop: the supervisor waits this long before the next try.
SERVICES_RESTART_BACKOFF_S = 5.0


@dataclass(frozen=True)
class Roles:
    """What this `dustgrid serve` runs besides its web processes."""

    hj212: bool
    jobs: bool

    @property
    def services(self) -> bool:
        return self.hj212 or self.jobs


def roles_for(settings: Settings, hj212: bool | None, jobs: bool | None) -> Roles:
    """The command's flags, or the settings where a flag is not given."""
    return Roles(
        hj212=settings.hj212_enabled if hj212 is None else hj212,
        jobs=True if jobs is None else jobs,
    )


def served_app() -> FastAPI:
    """The app of one web process (uvicorn calls this factory in each worker)."""
    from dustgrid.app import create_app

    app = create_app()
    # Long-lived objects (routes, models, templates) leave the GC's generations: full
    # collections then stay short, which keeps the 10,000-marker map under its p95 budget.
    gc.freeze()
    return app


def serve(host: str, port: int, workers: int, roles: Roles) -> None:
    """Run until SIGINT/SIGTERM; in-flight requests get ``shutdown_grace_s`` to finish."""
    settings = get_settings()
    if workers <= 1:
        _serve_one_process(host, port, roles)
        return
    import uvicorn

    supervisor = _ServicesSupervisor(roles) if roles.services else None
    if supervisor is not None:
        supervisor.start()
    try:
        uvicorn.run(
            "dustgrid.serving:served_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            proxy_headers=True,
            timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
            # A worker that is still importing the app cannot answer the supervisor's ping;
            # uvicorn's 5 s default kills and restarts it in a loop on a busy machine.
            timeout_worker_healthcheck=math.ceil(settings.web_worker_healthcheck_s),
        )
    finally:
        if supervisor is not None:
            supervisor.stop(settings.shutdown_grace_s + 5)


def _serve_one_process(host: str, port: int, roles: Roles) -> None:
    """Web, HJ 212 and jobs in one process (`--workers 1`, the embedded default)."""
    import uvicorn

    from dustgrid import wiring
    from dustgrid.background import Background, start_background

    settings = get_settings()
    wiring.load()  # the worker thread runs the domains' registered work
    background = start_background(settings) if roles.jobs else Background()
    try:
        if not roles.hj212:
            uvicorn.run(
                served_app(),
                host=host,
                port=port,
                proxy_headers=True,
                timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
            )
            return
        import asyncio

        asyncio.run(serve_web_and_hj212(host, port))
    finally:
        background.close()


async def serve_web_and_hj212(host: str, port: int) -> None:
    """uvicorn's ``Server.serve()`` and the HJ 212 listener in one event loop.

    The signal handlers are ours (uvicorn's own would re-raise the signal after its
    shutdown and cut the listener's flush short): SIGINT/SIGTERM stop the web server, then
    the listener stops accepting, sends the acks it owes and flushes its writer.
    """
    import asyncio
    import contextlib
    from collections.abc import Iterator

    import uvicorn

    from dustgrid.ingest.hj212.server import Hj212Server, install_stop_signals

    class _WebServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    import logging

    if not logging.getLogger().handlers:  # uvicorn configures only its own loggers
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    config = uvicorn.Config(
        served_app(),
        host=host,
        port=port,
        proxy_headers=True,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s),
    )
    web = _WebServer(config)
    listener = Hj212Server(settings)
    await listener.start()
    stop = asyncio.Event()
    install_stop_signals(stop)

    async def _stop_web() -> None:
        await stop.wait()
        web.should_exit = True

    stopper = asyncio.create_task(_stop_web())
    try:
        await web.serve()
    finally:
        stopper.cancel()
        await listener.close()


def run_services(hj212: bool, jobs: bool) -> None:
    """The services process: the HJ 212 listener and/or the background loops, until
    SIGINT/SIGTERM (the listener flushes what it acknowledged before it exits)."""
    import asyncio

    import dustgrid.model_registry  # noqa: F401 - every table mapped (foreign keys resolve)
    from dustgrid import wiring
    from dustgrid.background import Background, start_background

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    wiring.load()
    background = start_background(settings) if jobs else Background()
    try:
        if hj212:
            from dustgrid.ingest.hj212.server import run_listener

            asyncio.run(run_listener(settings))
        else:
            asyncio.run(_until_stopped())
    finally:
        background.close()


async def _until_stopped() -> None:
    import asyncio

    from dustgrid.ingest.hj212.server import install_stop_signals

    stop = asyncio.Event()
    install_stop_signals(stop)
    await stop.wait()


class _ServicesSupervisor:
    """Starts the services process, restarts it if it dies, stops it at shutdown."""

    def __init__(self, roles: Roles) -> None:
        self.roles = roles
        self.context = multiprocessing.get_context("spawn")
        self.process: BaseProcess | None = None
        self.stopping = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="services", daemon=True)

    def _spawn(self) -> None:
        self.process = self.context.Process(
            target=run_services,
            args=(self.roles.hj212, self.roles.jobs),
            name="dustgrid-services",
            daemon=False,
        )
        self.process.start()
        log.info("services process %s started (hj212=%s, jobs=%s)",
                 self.process.pid, self.roles.hj212, self.roles.jobs)  # fmt: skip

    def start(self) -> None:
        self._spawn()
        self.watcher.start()

    def _watch(self) -> None:
        while not self.stopping.wait(SERVICES_CHECK_S):
            process = self.process
            if process is not None and not process.is_alive() and not self.stopping.is_set():
                log.error("services process exited (%s); restarting", process.exitcode)
                if self.stopping.wait(SERVICES_RESTART_BACKOFF_S):
                    return
                self._spawn()

    def stop(self, timeout_s: float) -> None:
        self.stopping.set()
        process = self.process
        if process is None:
            return
        if process.is_alive():
            process.terminate()  # SIGTERM: the listener flushes, the loops end
        process.join(timeout_s)
        if process.is_alive():
            log.error("services process did not stop in %.0f s; killing it", timeout_s)
            process.kill()
            process.join(5)
