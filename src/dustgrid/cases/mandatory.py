"""The daily mandatory-device check (003 附件6): one case per new violation.

For every active site in a waste-producing stage, the pure check
(``devices.mandatory.check_site``) lists the 附件6 violations; each opens a case in the
case workflow (source ``sensor``: the platform's device data found it), deduplicated by
``mandatory:<site>:<violation>`` while a case with that key is not closed. Runs as a chore
(at most every ``CHORE_INTERVAL_S``); a second run the same day opens nothing new.

Offline-device violations (video not connected, video unviewable, monitor not networked)
are the provider's: the case carries a ``case.provider_order`` event (rectification order
and interview for the provider, 003) and is kept off the contractor's penalty ladder and
bad-behaviour record (``followups.run`` checks ``devices.mandatory.is_provider_case``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid.cases import events, reporting
from dustgrid.cases import repository as repo
from dustgrid.cases.categories import VIOLATIONS
from dustgrid.cases.models import Case
from dustgrid.cases.states import CaseSource
from dustgrid.config import Settings
from dustgrid.devices import compliance
from dustgrid.devices.mandatory import (
    DEFAULT_MANDATORY_DEVICE_POLICY,
    MandatoryDevicePolicy,
    Violation,
    check_site,
    dedup_key,
)
from dustgrid.devices.models import Device
from dustgrid.i18n import Msg, localize
from dustgrid.models import utcnow
from dustgrid.periodic import chore

SOURCE = CaseSource.sensor


@dataclass(frozen=True, slots=True)
class RunReport:
    sites: int
    violations: int
    opened: int


def _describe(v: Violation) -> Msg:
    zh, en = VIOLATIONS[v.key]
    ids = ", ".join(str(i) for i in v.device_ids)
    devices = Msg("devices.mandatory.case_devices", {"ids": ids}) if ids else ""
    return Msg("devices.mandatory.case", {"violation": {"zh-CN": zh, "en": en}, "devices": devices})


def _provider_order(session: Session, case: Case, v: Violation, now: datetime) -> None:
    providers = sorted(
        {
            d.provider_id
            for d in (session.get(Device, i) for i in v.device_ids)
            if d is not None and d.provider_id is not None
        }
    )
    session.add(
        events.new_event(
            case.id,
            "case.provider_order",
            actor=None,
            now=now,
            policy_version=v.policy_version,
            data={
                "provider_ids": providers,
                "device_ids": list(v.device_ids),
                "measures": ["rectification_order", "interview"],
                "violation": v.key,
            },
            to_state=case.state.value,
        )
    )


def run(
    session: Session,
    now: datetime | None = None,
    *,
    settings: Settings | None = None,
    policy: MandatoryDevicePolicy = DEFAULT_MANDATORY_DEVICE_POLICY,
) -> RunReport:
    now = now or utcnow()
    sites = compliance.waste_sites(session, policy)
    facts = compliance.site_facts(session, sites)
    found = opened = 0
    for f in facts:
        for v in check_site(f, now, policy):
            found += 1
            key = dedup_key(f.site_id, v.key)
            if repo.open_duplicate(session, key, since=None) is not None:
                continue
            msg = _describe(v)
            case, created = reporting.open_case(
                session,
                actor=None,
                source=SOURCE,
                site_id=f.site_id,
                location=None,
                category=v.key,
                description=localize(msg),
                description_msg=msg,
                severity=v.measure.severity,
                dedup_key=key,
                now=now,
                settings=settings,
            )
            if created:
                opened += 1
                if v.key in policy.provider_violations():
                    _provider_order(session, case, v, now)
    session.flush()
    return RunReport(len(sites), found, opened)


@chore("mandatory_devices")
def mandatory_devices_chore(session: Session, settings: Settings) -> int:
    """The daily check of the chores: the number of cases it opened."""
    return run(session, settings=settings).opened
