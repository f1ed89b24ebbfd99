"""The case inbox's filter bar: read the query string leniently (a bad value is dropped and
named), and give the template what the bar offers (districts in scope, categories, lights)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from urllib.parse import urlencode

from dustgrid.cases.categories import CONTROL_MEASURES, DEFECTS, OTHER, VIOLATIONS
from dustgrid.cases.filters import LIGHTS, CaseFilters

FIELDS = ("district_id", "category", "opened_from", "opened_to", "light")
CATEGORY_GROUPS = (
    ("cases.category.measures", CONTROL_MEASURES),
    ("cases.category.defects", DEFECTS),
    ("cases.category.violations", VIOLATIONS),
    ("cases.category.other", OTHER),
)
#: The label of each filter, to name a refused value.
LABELS = {
    "district_id": "cases.filter.district",
    "category": "cases.col.category",
    "opened_from": "cases.filter.opened_from",
    "opened_to": "cases.filter.opened_to",
    "light": "cases.col.light",
}
KNOWN_CATEGORIES = frozenset(k for _g, table in CATEGORY_GROUPS for k in table)


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() and 0 < int(value) < 2**31 else None


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def read(params: Mapping[str, str]) -> tuple[CaseFilters, dict[str, str], list[str]]:
    """(filters, the values to keep in links, the label keys of the filters refused)."""
    raw = {k: (params.get(k) or "").strip() for k in FIELDS}
    parsed = {
        "district_id": _int(raw["district_id"]),
        "category": raw["category"] if raw["category"] in KNOWN_CATEGORIES else None,
        "opened_from": _day(raw["opened_from"]),
        "opened_to": _day(raw["opened_to"]),
        "light": raw["light"] if raw["light"] in LIGHTS else None,
    }
    bad = [k for k in FIELDS if raw[k] and parsed[k] is None]
    f = CaseFilters(**parsed)  # type: ignore[arg-type]
    if f.range_reversed:
        bad += ["opened_from", "opened_to"]
        f = CaseFilters(**{**parsed, "opened_from": None, "opened_to": None})  # type: ignore[arg-type]
    kept = {k: raw[k] for k in FIELDS if raw[k] and k not in bad}
    return f, kept, [LABELS[k] for k in bad]


def query(kept: Mapping[str, str], **extra: str) -> str:
    return urlencode({**kept, **{k: v for k, v in extra.items() if v}})


#: A Chinese term glossed in an English label ("Frontage duties (门前三包) neglected"): an
#: option cannot mark it as Chinese, so the English filter bar leaves it out.
GLOSS = re.compile(r"\s*[(（][\u3400-\u9fff]+[)）]")


def categories(locale: str) -> list[tuple[str, list[tuple[str, str]]]]:
    en = locale == "en"
    return [
        (group, [(k, GLOSS.sub("", v[1]) if en else v[0]) for k, v in table.items()])
        for group, table in CATEGORY_GROUPS
    ]
