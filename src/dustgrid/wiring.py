"""The composition root: loads the domain modules that register with the foundations.

Domains register their outbox handlers (``dustgrid.outbox.handlers.register``), their
periodic work (``dustgrid.periodic``) and the scope reaches and ports they provide to the
domains below them (``identity.reach``, ``sites.gridding``) when imported; ``jobs`` and
``background`` never name a domain. The entry points (``create_app``, the CLI's worker and
``serve``) call :func:`load` so that the registrations have happened. A new domain with
jobs, sweeps, reaches or ports adds its registering modules here.
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
    "dustgrid.inspections.grading.service",  # case hook and chore: regrade sites
    "dustgrid.patrols.tasks",  # sweep: each period's patrol plans (Monday / first working day)
    "dustgrid.assessments.tasks",  # chore: close the previous month's assessment
    "dustgrid.trajectories.tasks",  # sweep: the daily City Brain push; handler: verdict webhook
    "dustgrid.cases.mandatory",  # chore: the mandatory-device check (003 附件6)
    # providers of lower domains' scope reaches and ports (identity.reach, sites.gridding)
    "dustgrid.sites.repository",  # districts holding visible sites
    "dustgrid.grids.repository",  # the site ledger's grid port
    "dustgrid.devices.repository",  # sites of a provider's devices
    "dustgrid.alerts.repository",  # cases raised from a provider's device alerts
)


def load() -> None:
    for name in REGISTERING_MODULES:
        importlib.import_module(name)
