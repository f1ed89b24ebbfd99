"""The composition root: loads the domain modules that register work with the foundations.

Domains register their outbox handlers (``dustgrid.outbox.handlers.register``) and their
periodic work (``dustgrid.periodic``) when imported; the layers below them (``jobs``,
``background``) never name a domain. The entry points (``create_app``, the CLI's worker
and ``serve``) call :func:`load` so that the registrations have happened. A new domain with
jobs or sweeps adds its registering modules here.
"""

from __future__ import annotations

import importlib

REGISTERING_MODULES = (
    "dustgrid.cases.attachments",  # chore: stored files no row refers to
    "dustgrid.cases.escalation",  # sweep: reminders, escalation, review dates
    "dustgrid.cases.feedback",  # handler: status feedback to the source system
    "dustgrid.notifications.delivery",  # handler: webhook channel delivery
    "dustgrid.devices.online",  # in-process sweep: devices gone offline
    "dustgrid.telemetry.tasks",  # thread: roll-ups
    "dustgrid.alerts.tasks",  # thread: the alert evaluator
)


def load() -> None:
    for name in REGISTERING_MODULES:
        importlib.import_module(name)
