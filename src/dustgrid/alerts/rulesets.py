"""The city's rule settings: which standards profiles are in force, tuned how, since when.

A setting is a standards profile id plus the numbers the city changed (``tuning``, applied
with :func:`dustgrid.alerts.engine.profiles.tune`, which records what was changed). Each save is a
new version; the previous one stays for the alerts it judged. The effective profile's
``version`` reads ``<standard version>+city.v<N>`` so an alert names both the published
standard and the city's version of it. Never commits.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any, Final

from sqlalchemy.orm import Session

from dustgrid.alerts import ruleform
from dustgrid.alerts.engine.profiles import BUILTIN_PROFILES, Profile, get_profile, tune
from dustgrid.alerts.models import AlertProfileSetting
from dustgrid.alerts.policy import DEFAULT_ALERT_POLICY, AlertPolicy
from dustgrid.alerts.repository import settings as settings_repo
from dustgrid.audit import service as audit
from dustgrid.errors import Forbidden, Invalid
from dustgrid.i18n import Msg, is_key
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm

INT_FIELDS: Final = frozenset(
    {"min_valid_count", "day_max_exceedances", "raise_after", "clear_after", "window_minutes"}
)
FLOAT_FIELDS: Final = frozenset({"limit", "reference_cap", "episode_hold_aqi_above"})
TIME_FIELDS: Final = frozenset({"day_period_start", "day_period_end"})
#: What a city may tune through the editor (the metric, kind and basis define the standard).
TUNABLE: Final = INT_FIELDS | FLOAT_FIELDS | TIME_FIELDS | {"limits"}


@dataclass(frozen=True, slots=True)
class ActiveRule:
    """A profile in force: ``key`` is the stable rule id alerts are grouped by."""

    key: str
    profile: Profile
    setting_id: int | None
    setting_version: int | None


def _bad(message: str | Msg) -> Invalid:
    return Invalid("alerts.error.invalid_rule_tuning", detail=message)


def _coerce(base: Profile, name: str, raw: Any) -> Any:
    if name not in TUNABLE:
        raise _bad(
            Msg("alerts.tuning.not_tunable", {"name": name, "known": ", ".join(sorted(TUNABLE))})
        )
    try:
        if name in INT_FIELDS:
            if isinstance(raw, bool) or int(raw) != float(raw):
                raise ValueError(f"{name} must be a whole number")
            return int(raw)
        if name in FLOAT_FIELDS:
            return None if raw is None or raw == "" else float(raw)
        if name in TIME_FIELDS:
            return time.fromisoformat(str(raw))
    except (TypeError, ValueError) as exc:
        raise _bad(f"{name}: {exc}") from None
    if not isinstance(raw, Mapping):
        raise _bad(Msg("alerts.tuning.limits_object"))
    table = base.limit_table
    unknown = set(raw) - set(table)
    if unknown:
        raise _bad(
            Msg("alerts.tuning.unknown_limits",
                {"unknown": ", ".join(sorted(unknown)), "known": ", ".join(sorted(table))})
        )  # fmt: skip
    merged = {**table, **{k: None if v is None else float(v) for k, v in raw.items()}}
    return tuple((k, merged[k]) for k in table)


def effective_profile(
    profile_id: str, tuning: Mapping[str, Any], setting_version: int | None
) -> Profile:
    """The base profile with the city's tuning applied; raises ``Invalid`` on bad input."""
    try:
        base = get_profile(profile_id)
    except KeyError:
        raise Invalid("alerts.error.unknown_profile", profile_id=profile_id) from None
    changes = {name: _coerce(base, name, raw) for name, raw in tuning.items()}
    try:
        profile = tune(base, **changes) if changes else base
    except (ValueError, TypeError) as exc:
        raise _bad(str(exc)) from None
    if setting_version is not None:
        profile = dataclasses.replace(profile, version=f"{base.version}+city.v{setting_version}")
    return profile


def tuning_json(tuning: Mapping[str, Any]) -> dict[str, Any]:
    """Tuning as stored: times as HH:MM, limit tables as objects."""
    out: dict[str, Any] = {}
    for k, v in tuning.items():
        out[k] = v.isoformat(timespec="minutes") if isinstance(v, time) else v
    return out


def rule_profile(profile_id: str) -> Profile:
    """The published profile ``profile_id``; ``Invalid`` (a message key) when unknown."""
    try:
        return get_profile(profile_id)
    except KeyError:
        raise Invalid("alerts.rule.error.unknown_rule", details={"field": "profile_id"}) from None


def check_rule_tuning(profile_id: str, tuning: Mapping[str, Any]) -> None:
    """Refuse a tuning the rule form would refuse (the one check of the form, the JSON view
    and the API): ``Invalid`` naming the first wrong field, every problem in ``details``."""
    problems = ruleform.check_tuning(rule_profile(profile_id), tuning)
    if not problems:
        return
    name, first = next(iter(problems.items()))
    field = ruleform.RuleField(name, "number")
    label = Msg(field.label_key, {"zone": Msg(f"alerts.rule.zone.{field.zone}")})
    said = first[0]  # a field the rule does not have is named by the message itself
    raise Invalid(
        Msg("alerts.rule.error.field", {"field": label, "what": said})
        if is_key(field.label_key)
        else said,
        details={
            "field": name,
            "errors": {k: [m.as_json() for m in v] for k, v in problems.items()},
        },
    )


def current_settings(session: Session) -> list[AlertProfileSetting]:
    return settings_repo.current_settings(session)


def active_rules(session: Session, policy: AlertPolicy = DEFAULT_ALERT_POLICY) -> list[ActiveRule]:
    """Enabled profiles in force; the policy's defaults while the city has saved none."""
    rows = current_settings(session)
    if not rows:
        return [ActiveRule(p, get_profile(p), None, None) for p in policy.default_profiles]
    return [
        ActiveRule(
            r.profile_id, effective_profile(r.profile_id, r.tuning, r.version), r.id, r.version
        )
        for r in rows
        if r.enabled
    ]


def history(session: Session, profile_id: str | None = None) -> list[AlertProfileSetting]:
    return settings_repo.setting_history(session, profile_id)


def save_setting(
    session: Session,
    principal: Principal,
    *,
    profile_id: str,
    tuning: Mapping[str, Any],
    enabled: bool = True,
    note: str = "",
) -> AlertProfileSetting:
    """Save a new version of the city's setting of ``profile_id`` (city admin only)."""
    if not principal.can(Perm.alert_profile):
        raise Forbidden("alerts.error.role_may_not_change_alert_rules")
    check_rule_tuning(profile_id, tuning)
    effective_profile(profile_id, tuning, 1)  # validate before writing anything
    clean = tuning_json({k: _coerce(get_profile(profile_id), k, v) for k, v in tuning.items()})
    if "limits" in clean:
        clean["limits"] = dict(clean["limits"])
    previous = settings_repo.setting_in_force(session, profile_id)
    last = settings_repo.last_version(session, profile_id)
    if previous is not None:
        previous.active_key = None
        session.flush()  # the unique active_key moves to the new row
    row = AlertProfileSetting(
        profile_id=profile_id,
        version=(last or 0) + 1,
        enabled=enabled,
        tuning=clean,
        note=note.strip()[:2000],
        active_key=profile_id,
        created_by_id=principal.user_id,
    )
    session.add(row)
    session.flush()
    before = {"tuning": previous.tuning, "enabled": previous.enabled} if previous else {}
    audit.record(
        session,
        actor=principal,
        action="alert.profile_saved",
        entity_type="alert_profile_setting",
        entity_id=row.id,
        changes=audit.diff(before, {"tuning": clean, "enabled": enabled})
        | {"version": [previous.version if previous else None, row.version]},
        summary=Msg("alerts.audit.rule_saved", {"profile": profile_id, "version": row.version}),
    )
    return row


def builtin_ids() -> list[str]:
    return list(BUILTIN_PROFILES)
