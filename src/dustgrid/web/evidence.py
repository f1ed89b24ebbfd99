"""Evidence as people read it: a sensor alert's windows as a table (metric, value with its
unit, limit, window, local time) and the series for a small chart; other evidence as a list
of labelled facts. Never the stored JSON itself.

The evidence is what the alert engine stored (``alert.evidence``, and a ``case.evidence``
event's text, which is the same dict as JSON); this module only reads it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Final

from dustgrid.alerts.engine.profiles import get_profile
from dustgrid.i18n import catalogue, translate
from dustgrid.telemetry.metrics import METRICS, UnitError, normalize_unit
from dustgrid.workcal.calendar import people_time

__all__ = [
    "Evidence",
    "EvidenceRow",
    "metric_name",
    "parse_evidence",
    "present",
    "rule_name",
    "unit_text",
]

#: Keys that are bookkeeping of the engine, not facts a reader weighs.
_HIDDEN: Final = frozenset(
    {"rule", "windows", "flags", "rule_version", "policy_version", "setting_version",
     "detector_version", "alert_id", "emergency"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    when: str
    metric: str
    value: str
    reference: str
    limit: str
    window: str


@dataclass(frozen=True, slots=True)
class Evidence:
    rule: str | None
    rows: tuple[EvidenceRow, ...]
    facts: tuple[tuple[str, str], ...]
    chart: dict[str, Any] | None = field(default=None)
    alert_id: int | None = None


def unit_text(unit: str | None) -> str:
    """A unit as typeset (``ug/m3`` → ``µg/m³``)."""
    if not unit:
        return ""
    try:
        return normalize_unit(unit)
    except UnitError:
        return unit


def metric_name(key: str | None, locale: str) -> str:
    """A metric by its name (PM2.5, 风速, …), never its key."""
    if not key:
        return ""
    for msg in (f"telemetry.metric.{key}", f"metric.{key}"):
        if msg in catalogue(locale):
            return catalogue(locale)[msg]
    known = METRICS.get(key)
    if known is not None:
        return known.name_en if locale == "en" else known.name_zh
    return translate("metric.other", locale)


def _when(text: Any, tz: tzinfo) -> str:
    """A stored ISO moment in the city's clock, as every page writes a time
    (``workcal.calendar.people_time``: ``2026-12-07 12:05``); other text as it is."""
    if not isinstance(text, str):
        return "" if text is None else str(text)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return text
    return people_time(at, tz) if at.tzinfo else text[:16]


def _num(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float):
        return f"{value:g} {unit}".strip()
    return str(value)


def _window_text(minutes: Any, locale: str) -> str:
    if not isinstance(minutes, int):
        return ""
    key = "evidence.window.hours" if minutes % 60 == 0 else "evidence.window.minutes"
    return translate(key, locale).format(n=minutes // 60 if minutes % 60 == 0 else minutes)


def _rule_name(rule: Mapping[str, Any], locale: str) -> str | None:
    name = rule.get("title_en" if locale == "en" else "title_zh")
    return str(name) if name else None


def _windows(
    data: Mapping[str, Any], locale: str, tz: tzinfo
) -> tuple[list[EvidenceRow], dict[str, Any] | None]:
    rule = data.get("rule") if isinstance(data.get("rule"), Mapping) else {}
    assert isinstance(rule, Mapping)
    unit = unit_text(str(rule.get("unit") or ""))
    metric = metric_name(str(rule.get("metric") or ""), locale)
    window = _window_text(rule.get("window_minutes"), locale)
    rows, labels, values, limits = [], [], [], []
    for w in data.get("windows") or []:
        if not isinstance(w, Mapping):
            continue
        when = _when(w.get("start"), tz)
        rows.append(EvidenceRow(when, metric, _num(w.get("value"), unit),
                                _num(w.get("reference"), unit),
                                _num(w.get("limit"), unit), window))  # fmt: skip
        labels.append(when[5:])
        values.append(w.get("value"))
        limits.append(w.get("limit"))
    chart = None
    if len(rows) > 1:
        chart = {"labels": labels, "values": values, "limits": limits, "unit": unit,
                 "name": metric, "limit_name": translate("alerts.chart.limit", locale)}  # fmt: skip
    return rows, chart


def _flags(data: Mapping[str, Any], locale: str, tz: tzinfo) -> list[EvidenceRow]:
    out = []
    for f in data.get("flags") or []:
        if isinstance(f, Mapping):
            when = f"{_when(f.get('start'), tz)} – {_when(f.get('end'), tz)[11:]}"
            out.append(EvidenceRow(when, metric_name(str(f.get("metric") or ""), locale),
                                   "—", "—", "—", ""))  # fmt: skip
    return out


def _fact_value(key: str, value: Any, locale: str, tz: tzinfo) -> str:
    if isinstance(value, bool):
        return translate("history.value.yes" if value else "history.value.no", locale)
    if key == "metric":
        return metric_name(str(value), locale)
    if key.endswith("minutes") and isinstance(value, int):
        return translate("evidence.window.minutes", locale).format(n=value)
    if isinstance(value, float):
        return f"{value:.0%}" if key == "coverage" and value <= 1 else f"{value:g}"
    return _when(value, tz)


def _facts(data: Mapping[str, Any], locale: str, tz: tzinfo) -> list[tuple[str, str]]:
    out = []
    for key, value in data.items():
        if key in _HIDDEN or isinstance(value, Mapping | list) or value is None:
            continue
        label = catalogue(locale).get(f"evidence.field.{key}")
        if label is not None:  # an unknown key is internal: it is not shown
            out.append((label, _fact_value(key, value, locale, tz)))
    return out


def present(data: Mapping[str, Any], locale: str, tz: tzinfo) -> Evidence:
    """The evidence of an alert or a case event, ready for ``_evidence.html``; times in the
    city's time zone ``tz`` (the ``timezone`` setting)."""
    rule = data.get("rule")
    rows, chart = _windows(data, locale, tz) if data.get("windows") else ([], None)
    rows += _flags(data, locale, tz)
    alert_id = data.get("alert_id")
    return Evidence(
        rule=_rule_name(rule, locale) if isinstance(rule, Mapping) else None,
        rows=tuple(rows),
        facts=tuple(_facts(data, locale, tz)),
        chart=chart,
        alert_id=alert_id if isinstance(alert_id, int) else None,
    )


def parse_evidence(text: str) -> dict[str, Any] | None:
    """The dict a ``case.evidence`` event holds as text, or None when it is a sentence."""
    if not text.startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def rule_name(rule_key: str, locale: str, evidence: Mapping[str, Any] | None = None) -> str:
    """An alert rule by its name (the profile's title, or the kind of a device alert)."""
    rule = (evidence or {}).get("rule")
    if isinstance(rule, Mapping) and _rule_name(rule, locale):
        return str(_rule_name(rule, locale))
    head, _, rest = rule_key.partition(":")
    if head in ("offline", "quality"):
        return translate(f"alerts.kind.{head}", locale)
    if head == "stale":
        metric = rest.rpartition(":")[2]
        return f"{translate('alerts.kind.stale_key', locale)} · {metric_name(metric, locale)}"
    try:
        profile = get_profile(rule_key)
    except KeyError:
        return translate("alerts.rule.other", locale)
    return profile.title_en if locale == "en" else profile.title_zh
