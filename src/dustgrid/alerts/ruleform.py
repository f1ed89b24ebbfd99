"""The alert rule editor as a form: which fields a rule shows, and one validation for both
the form and the JSON ("advanced") path. Pure: no database, no web.

A city's setting of a rule is a *tuning*: the fields it changed from the published profile
(``rulesets.save_setting``). The form shows every tunable field of the chosen rule with its
value in force; :func:`tuning_from_form` turns the posted strings back into a tuning holding
only the fields that differ from the published profile, so a value set back to the standard's
is no longer a local change. :func:`check_tuning` says what is wrong with a tuning, field by
field, as message keys (said next to the field in the reader's language); the JSON path and
the API go through it too, so both paths accept and refuse the same rules.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any, Final

from dustgrid.alerts.engine.profiles import Profile
from dustgrid.alerts.engine.windows import MINUTES_PER_DAY
from dustgrid.i18n import Msg

#: Windows the form offers (minutes; each divides a day, as every window must).
WINDOW_CHOICES: Final = (5, 10, 15, 30, 60, 120, 240, 480, 1440)
#: Lowest value of each count (``Profile.__post_init__`` refuses less).
COUNT_MINIMUM: Final = {
    "min_valid_count": 1,
    "raise_after": 1,
    "clear_after": 1,
    "day_max_exceedances": 0,
}
#: Prefix of the form fields of a limit table (``limits.built-up``, ``limits.day``).
LIMITS_PREFIX: Final = "limits."


@dataclass(frozen=True, slots=True)
class RuleField:
    """One input of the rule form: ``name`` is the tuning key (or ``limits.<zone>``)."""

    name: str
    kind: str  # number, count, window, time
    required: bool = True
    minimum: float = 0

    @property
    def label_key(self) -> str:
        if self.name.startswith(LIMITS_PREFIX):
            return "alerts.rule.field.zone_limit"
        return f"alerts.rule.field.{self.name}"

    @property
    def zone(self) -> str:
        return self.name.removeprefix(LIMITS_PREFIX) if self.name.startswith(LIMITS_PREFIX) else ""


def rule_fields(profile: Profile) -> list[RuleField]:
    """The form's fields for ``profile``, in form order: limits, window, counts, then what
    only its kind or basis has (reference cap and episode hold; the day period)."""
    fields: list[RuleField] = []
    if profile.limit_basis == "fixed":
        fields.append(RuleField("limit", "number"))
    else:  # a blank zone limit means "not evaluated" there (a completed site, say)
        fields += [
            RuleField(f"{LIMITS_PREFIX}{zone}", "number", required=False)
            for zone in profile.limit_table
        ]
    fields.append(RuleField("window_minutes", "window"))
    fields += [RuleField(n, "count", minimum=m) for n, m in COUNT_MINIMUM.items()]
    if profile.kind == "difference":
        fields += [
            RuleField("reference_cap", "number", required=False),
            RuleField("episode_hold_aqi_above", "number", required=False),
        ]
    if profile.limit_basis == "day_night":
        fields += [RuleField("day_period_start", "time"), RuleField("day_period_end", "time")]
    return fields


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, time):
        return value.isoformat(timespec="minutes")
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def form_values(profile: Profile) -> dict[str, str]:
    """The strings the form shows for a rule as it is in force."""
    table = profile.limit_table
    return {
        f.name: _text(table.get(f.zone) if f.zone else getattr(profile, f.name))
        for f in rule_fields(profile)
    }


def _parse(f: RuleField, raw: str) -> tuple[Any, Msg | None]:
    raw = raw.strip()
    if not raw:
        return None, (Msg("validation.missing") if f.required else None)
    if f.kind == "time":
        try:
            return time.fromisoformat(raw), None
        except ValueError:
            return None, Msg("alerts.rule.error.time")
    try:
        number = float(raw)
    except ValueError:
        return None, Msg("validation.float_parsing")
    if f.kind in ("count", "window"):
        if number != int(number):
            return None, Msg("validation.int_parsing")
        return int(number), None
    return number, None


def _same(value: Any, published: Any) -> bool:
    """Whether a form value is the published one (numbers compared as the form shows them)."""
    if isinstance(value, float) and isinstance(published, float):
        return math.isclose(value, published, rel_tol=1e-9, abs_tol=1e-9)
    return bool(value == published)


def tuning_from_form(
    base: Profile, values: Mapping[str, str]
) -> tuple[dict[str, Any], dict[str, list[Msg]]]:
    """Posted strings → ``(tuning, errors by field)``. The tuning holds the fields whose value
    differs from the published profile ``base`` (JSON-ready: times as ``HH:MM``)."""
    errors: dict[str, list[Msg]] = {}
    tuning: dict[str, Any] = {}
    limits: dict[str, float | None] = {}
    published = base.limit_table
    for f in rule_fields(base):
        value, wrong = _parse(f, values.get(f.name, ""))
        if wrong is not None:
            errors[f.name] = [wrong]
            continue
        if f.zone:
            if not _same(value, published.get(f.zone)):
                limits[f.zone] = value
        elif not _same(value, getattr(base, f.name)):
            tuning[f.name] = _text(value) if isinstance(value, time) else value
    if limits:
        tuning["limits"] = limits
    for name, problems in check_tuning(base, tuning).items():
        errors.setdefault(name, []).extend(problems)
    return tuning, errors


def _number(raw: Any, *, whole: bool) -> tuple[float | None, Msg | None]:
    if isinstance(raw, bool):
        return None, Msg("validation.int_parsing" if whole else "validation.float_parsing")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return None, Msg("validation.int_parsing" if whole else "validation.float_parsing")
    if whole and number != int(number):
        return None, Msg("validation.int_parsing")
    return number, None


def _check_one(base: Profile, name: str, raw: Any) -> list[Msg]:
    """What is wrong with one tuned value (nothing when it is fine)."""
    if name in COUNT_MINIMUM or name == "window_minutes":
        number, wrong = _number(raw, whole=True)
        if wrong is not None or number is None:
            return [wrong or Msg("validation.int_parsing")]
        if name == "window_minutes":
            if number <= 0 or MINUTES_PER_DAY % int(number):
                return [Msg("alerts.rule.error.window")]
            return []
        least = COUNT_MINIMUM[name]
        return [Msg("validation.greater_than_equal", {"ge": least})] if number < least else []
    if name in ("limit", "reference_cap", "episode_hold_aqi_above"):
        if raw is None or raw == "":
            return [Msg("validation.missing")] if name == "limit" else []
        number, wrong = _number(raw, whole=False)
        if wrong is not None or number is None:
            return [wrong or Msg("validation.float_parsing")]
        return [Msg("validation.greater_than_equal", {"ge": 0})] if number < 0 else []
    if name in ("day_period_start", "day_period_end"):
        try:
            time.fromisoformat(str(raw))
        except ValueError:
            return [Msg("alerts.rule.error.time")]
        return []
    return [Msg("alerts.rule.error.not_tunable", {"name": name})]


def check_tuning(base: Profile, tuning: Mapping[str, Any]) -> dict[str, list[Msg]]:
    """Every problem of ``tuning`` for rule ``base``, by form field (``limits.<zone>`` for a
    zone's limit); empty when the tuning may be saved."""
    errors: dict[str, list[Msg]] = {}
    for name, raw in tuning.items():
        if name != "limits":
            found = _check_one(base, name, raw)
            if found:
                errors[name] = found
            continue
        if base.limit_basis == "fixed" or not isinstance(raw, Mapping):
            errors["limits"] = [Msg("alerts.rule.error.not_tunable", {"name": name})]
            continue
        for zone, value in raw.items():
            key = f"{LIMITS_PREFIX}{zone}"
            if zone not in base.limit_table:
                errors[key] = [Msg("alerts.rule.error.unknown_zone", {"zone": zone})]
            elif value is not None:
                found = _check_one(base, "reference_cap", value)  # a number, not below zero
                if found:
                    errors[key] = found
    return errors
