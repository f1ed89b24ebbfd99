"""Open311 GeoReport v2, the pure part: services, status mapping, input parsing, formats.

Spec: http://wiki.open311.org/GeoReport_v2 . Services are the case categories
(``cases.categories``), grouped as the checklist's control measures, the violations table
and other problems. A service request is a public complaint filed by a client
(``Complaint`` with ``channel=open311``); its status is ``open`` until the complaint is
dismissed or resolved or its case is closed, then ``closed``. ``status_notes`` say where
the case stands in the loop (reported, dispatched, …) in the reader's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from xml.etree import ElementTree as ET

from dustgrid.cases.categories import CONTROL_MEASURES, OTHER, VIOLATIONS
from dustgrid.cases.states import CaseState

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ("json", "xml")
MAX_DESCRIPTION = 4000
MAX_REQUESTS = 1000  # the spec lets a server cap a listing; 1000 is the spec's example
DEFAULT_DAYS = 90  # the spec's window: the default without dates, and the longest range

GROUPS: tuple[tuple[Mapping[str, tuple[str, str]], tuple[str, str], str], ...] = (
    (CONTROL_MEASURES, ("扬尘防治措施", "Dust control measures"), "hoarding,washing,cover"),
    (VIOLATIONS, ("视频与监测设备", "Video and monitoring devices"), "video,monitor,camera"),
    (OTHER, ("其他问题", "Other problems"), "dust,complaint"),
)

STATE_NOTES: Mapping[str, tuple[str, str]] = {
    "received": ("已受理，待分派", "Received, to be assigned"),
    "dismissed": ("不予受理", "Not accepted"),
    "resolved": ("已解决", "Resolved"),
    CaseState.reported: ("已立案，待交办", "Case opened, to be dispatched"),
    CaseState.dispatched: ("已交办", "Dispatched to the district"),
    CaseState.accepted: ("已接收", "Accepted by the district"),
    CaseState.handling: ("办理中", "Being handled"),
    CaseState.rectifying: ("限期整改中", "Rectification ordered"),
    CaseState.penalizing: ("立案处罚中", "Penalty procedure open"),
    CaseState.verifying: ("核查中", "Being verified"),
    CaseState.closed: ("已办结", "Closed"),
    CaseState.returned: ("退回重新交办", "Returned for re-dispatch"),
    CaseState.suspended: ("挂账", "Suspended"),
}


class SpecError(Exception):
    """An error answered in the spec's format: ``[{"code": 400, "description": "..."}]``."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def english(accept_language: str | None) -> bool:
    """English when the client prefers it (``Accept-Language: en…``); else Chinese."""
    first = (accept_language or "").split(",")[0].strip().lower()
    return first.startswith("en")


def services(en: bool) -> list[dict[str, Any]]:
    out = []
    for table, group, keywords in GROUPS:
        for code, (zh, en_name) in table.items():
            out.append({
                "service_code": code,
                "service_name": en_name if en else zh,
                "description": f"{zh} / {en_name}",
                "metadata": False,
                "type": "realtime",
                "keywords": keywords,
                "group": group[1] if en else group[0],
            })  # fmt: skip
    return out


def service_codes() -> frozenset[str]:
    return frozenset(code for table, _g, _k in GROUPS for code in table)


def definition(code: str) -> dict[str, Any]:
    if code not in service_codes():
        raise SpecError(404, f"service_code not found: {code}")
    return {"service_code": code, "attributes": []}


def status_of(complaint_status: str, resolved: bool, case_state: str | None) -> tuple[str, str]:
    """(open|closed, the note key) from the complaint and its case."""
    if complaint_status == "dismissed":
        return "closed", "dismissed"
    if case_state == CaseState.closed:
        return "closed", CaseState.closed.value
    if resolved:
        return "closed", "resolved"
    if case_state is None:
        return "open", "received"
    return "open", case_state


def note(key: str, en: bool) -> str:
    zh, en_text = STATE_NOTES.get(key, (key, key))
    return en_text if en else zh


# --------------------------------------------------------------------------- input


def parse_float(name: str, value: str | None, low: float, high: float) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        out = float(value)
    except ValueError as exc:
        raise SpecError(400, f"{name} must be a number: {value!r}") from exc
    if not low <= out <= high:
        raise SpecError(400, f"{name} out of range ({low}..{high}): {value}")
    return out


def parse_time(name: str, value: str | None) -> datetime | None:
    """A W3C/ISO 8601 time; without a zone it is UTC (the spec's examples carry one)."""
    if value is None or not value.strip():
        return None
    try:
        out = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise SpecError(400, f"{name} must be a W3C datetime: {value!r}") from exc
    return out if out.tzinfo else out.replace(tzinfo=UTC)


def date_range(start: datetime | None, end: datetime | None, now: datetime
               ) -> tuple[datetime, datetime]:  # fmt: skip
    """The spec's ``start_date``/``end_date`` window: the last 90 days without either, 90
    days after a lone start or before a lone end; a range over 90 days is refused."""
    window = timedelta(days=DEFAULT_DAYS)
    if start is not None and end is not None:
        if end < start:
            raise SpecError(400, "end_date is before start_date")
        if end - start > window:
            raise SpecError(400, f"start_date and end_date may not span more than "
                                 f"{DEFAULT_DAYS} days")  # fmt: skip
        return start, end
    if start is not None:
        return start, start + window
    if end is not None:
        return end - window, end
    return now - window, now


def parse_list(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def check_email(value: str) -> str:
    value = value.strip()
    if value and not re.fullmatch(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,63}", value):
        raise SpecError(400, f"email is not an e-mail address: {value!r}")
    return value


def check_url(value: str) -> str:
    value = value.strip()
    if value and (not re.fullmatch(r"https?://[^\s]{1,500}", value)):
        raise SpecError(400, "media_url must be an http(s) URL of at most 512 characters")
    return value


def w3c(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- output


def to_xml(root: str, item: str | None, rows: Sequence[Mapping[str, Any]]) -> bytes:
    """The spec's XML: ``<root><item><field>value</field>…</item>…</root>``; with ``item``
    None the (single) row's fields sit directly under the root (a service definition)."""
    top = ET.Element(root)
    for row in rows:
        el = ET.SubElement(top, item) if item else top
        for key, value in row.items():
            child = ET.SubElement(el, key)
            if isinstance(value, list):
                for v in value:  # attributes of a service definition
                    ET.SubElement(child, "attribute").text = str(v)
            elif isinstance(value, bool):
                child.text = "true" if value else "false"
            elif value is not None:
                child.text = str(value)
    body = cast(bytes, ET.tostring(top, encoding="utf-8"))
    return b'<?xml version="1.0" encoding="utf-8"?>' + body


XML_SHAPES: Mapping[str, tuple[str, str | None]] = {
    "services": ("services", "service"),
    "definition": ("service_definition", None),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}


def errors(code: int, description: str) -> list[dict[str, Any]]:
    return [{"code": code, "description": description}]
