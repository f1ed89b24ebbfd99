"""The site form: which fields it shows and how posted strings become a payload."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import Field
from sqlalchemy.orm import Session

from dustgrid.bounds import Id
from dustgrid.sites.models import Enterprise, PermitStatus, Site, SiteKind, Stage
from dustgrid.sites.schemas import SiteCreate, SiteUpdate
from dustgrid.text import PlainText


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    label_key: str
    kind: str = "text"  # text, number, date, select:<group>, bool, district, grid:<kind>
    required: bool = False


FORM_FIELDS: tuple[FormField, ...] = (
    FormField("project_code", "site.project_code", required=True),
    FormField("name", "site.name", required=True),
    FormField("kind", "site.kind", "select:kind", required=True),
    FormField("district_id", "site.district", "district", required=True),
    FormField("address", "site.address"),
    FormField("lat", "site.lat", "number", required=True),
    FormField("lon", "site.lon", "number", required=True),
    FormField("stage", "site.stage", "select:stage", required=True),
    FormField("permit_no", "site.permit_no"),
    # The ledger has no "unknown" permit status, area or investment (the columns are not
    # nullable): the form asks for them instead of saving a guess.
    FormField("permit_status", "site.permit_status", "select:permit", required=True),
    FormField("area_m2", "site.area_m2", "number", required=True),
    FormField("investment_yuan", "site.investment_yuan", "number", required=True),
    FormField("built_up_area", "site.built_up_area", "bool"),
    FormField("planned_start_date", "site.planned_start_date", "date"),
    FormField("planned_end_date", "site.planned_end_date", "date"),
    FormField("actual_start_date", "site.actual_start_date", "date"),
    FormField("actual_end_date", "site.actual_end_date", "date"),
    FormField("builder_name", "site.builder"),
    FormField("builder_uscc", "enterprise.uscc"),
    FormField("contractor_name", "site.contractor"),
    FormField("contractor_uscc", "enterprise.uscc"),
    FormField("supervisor_name", "site.supervisor"),
    FormField("supervisor_uscc", "enterprise.uscc"),
    FormField("contact_name", "site.contact_name"),
    FormField("contact_phone", "site.contact_phone"),
    FormField("enforcement_grid_id", "site.enforcement_grid", "grid:enforcement"),
    FormField("inspector_grid_id", "site.inspector_grid", "grid:inspector"),
)

_ENTERPRISES = ("builder", "contractor", "supervisor")
_SKIP = {"csrf_token"} | {f"{e}_{p}" for e in _ENTERPRISES for p in ("name", "uscc")}
#: Form field name → label key, in form order (for errors said next to their fields).
FORM_LABELS: dict[str, str] = {f.name: f.label_key for f in FORM_FIELDS}


class SiteFormCreate(SiteCreate):
    """A new site from the form: what the ledger cannot leave unknown must be given."""

    permit_status: PermitStatus
    area_m2: float = Field(ge=0)
    investment_yuan: Decimal = Field(ge=0)


class SiteFormUpdate(SiteUpdate):
    """A changed site from the form: the form posts every field, so a blank required field
    is refused as missing (never kept or defaulted silently)."""

    name: PlainText = Field(min_length=1, max_length=200)
    kind: SiteKind
    district_id: Id
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    stage: Stage
    permit_status: PermitStatus
    area_m2: float = Field(ge=0)
    investment_yuan: Decimal = Field(ge=0)


def _blank(f: FormField, *, create: bool) -> tuple[bool, Any]:
    """What a blank field sends: ``(False, _)`` nothing (a required field is then refused
    as missing), else ``(True, value)``: on edit an optional text is emptied and an optional
    date or grid is cleared (``None``; a cleared grid is assigned again by proximity)."""
    if create or f.required:
        return False, None
    return True, ("" if f.kind == "text" else None)


def form_to_payload(values: dict[str, str], *, create: bool) -> dict[str, Any]:
    """Posted strings to a dict for ``SiteFormCreate``/``SiteFormUpdate``.

    Clearing an optional field on edit clears it (explicit empty value or ``null``); a
    blank required field is left out so that validation names it. Enterprises are named by
    credit code; clearing both name and code of one on edit removes it from the site."""
    out: dict[str, Any] = {}
    for f in FORM_FIELDS:
        if f.name in _SKIP:
            continue
        raw = values.get(f.name, "").strip()
        if f.kind == "bool":
            out[f.name] = raw in ("on", "true", "1", "yes")
        elif raw:
            out[f.name] = raw
        else:
            send, value = _blank(f, create=create)
            if send:
                out[f.name] = value
    if not create:
        out.pop("project_code", None)
    for ent in _ENTERPRISES:
        name = values.get(f"{ent}_name", "").strip()
        code = values.get(f"{ent}_uscc", "").strip()
        if name or code:
            out[ent] = {"name": name, "uscc": code}
        elif not create:
            out[ent] = None
    return out


def site_to_form(session: Session, site: Site) -> dict[str, str]:
    """Current values as the strings the form shows."""
    values: dict[str, str] = {}
    for f in FORM_FIELDS:
        if f.name in _SKIP:
            continue
        value = getattr(site, f.name, None)
        if f.kind == "bool":
            values[f.name] = "on" if value else ""
        else:
            values[f.name] = "" if value is None else str(getattr(value, "value", value))
    for ent in _ENTERPRISES:
        eid = getattr(site, f"{ent}_id")
        e = session.get(Enterprise, eid) if eid else None
        values[f"{ent}_name"] = e.name if e else ""
        values[f"{ent}_uscc"] = e.uscc if e else ""
    return values
