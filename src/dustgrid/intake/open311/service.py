"""Open311 with the database: client keys, filing a request, listing requests. Never commits.

Keys: a client (a city app, a civic-reporting vendor) gets one key from an L1 admin
(``POST /api/v1/open311/keys``); only its SHA-256 is stored, found by its first characters.

A posted request becomes a ``Complaint`` (``channel=open311``) in the 12319 desk's queue,
not a case: the public describes places loosely and may report things that are not a
site's problem, so the desk links it to a site (opening or merging a case, whose source is
``open311``) like a call.

Where a request is (the spec takes ``lat``/``long`` or ``address_string`` or
``address_id``), see ``place``: a point must lie in the city (inside a district's drawn
boundary, or within ``IntakePolicy.open311_city_edge_m`` of one); ``address_id`` is a
site's project code in the ledger; an ``address_string`` that names exactly one active
site (its address or name) is placed at that site, one that names exactly one district
goes to that district; otherwise the text is kept for the desk to place.
Only complaints filed through Open311 are listed publicly; phone complaints may carry
personal details in their text and stay inside the platform.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.config import Settings
from dustgrid.errors import NotFound
from dustgrid.identity.principal import Principal
from dustgrid.intake import hotline
from dustgrid.intake import repository as repo
from dustgrid.intake.models import Complaint, Open311Key
from dustgrid.intake.open311 import spec as spec
from dustgrid.intake.policy import IntakePolicy, intake_policy
from dustgrid.intake.schemas import Open311RequestIn

KEY_SCHEME = "o311_"
PREFIX_CHARS = 12


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def issue_key(session: Session, principal: Principal, name: str, *, now: datetime
              ) -> tuple[Open311Key, str]:  # fmt: skip
    key = KEY_SCHEME + secrets.token_urlsafe(32)
    row = Open311Key(name=name.strip(), prefix=key[:PREFIX_CHARS], key_hash=_hash(key),
                     created_at=now, created_by_id=principal.user_id)  # fmt: skip
    session.add(row)
    session.flush()
    audit.record(session, actor=principal, action="open311.key_issue", entity_type="open311_key",
                 entity_id=row.id, changes={"prefix": [None, row.prefix]},
                 summary=f"签发 Open311 密钥 {row.prefix}…（{row.name}）")  # fmt: skip
    return row, key


def revoke_key(session: Session, principal: Principal, key_id: int, *, now: datetime
               ) -> Open311Key:  # fmt: skip
    row = session.get(Open311Key, key_id)
    if row is None:
        raise NotFound("intake.error.key_not_found", key_id=key_id)
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, actor=principal, action="open311.key_revoke",
                     entity_type="open311_key", entity_id=row.id,
                     changes={"revoked_at": [None, now.isoformat()]},
                     summary=f"吊销 Open311 密钥 {row.prefix}…")  # fmt: skip
    return row


def list_keys(session: Session) -> list[Open311Key]:
    return repo.open311_keys(session)


def verify_key(session: Session, key: str | None, *, now: datetime) -> Open311Key:
    """The live key row, or ``SpecError(403)`` (the spec's answer to a bad api_key)."""
    key = (key or "").strip()
    if key.startswith(KEY_SCHEME) and len(key) >= PREFIX_CHARS + 16:
        digest = _hash(key)
        for row in repo.open311_live_keys(session, key[:PREFIX_CHARS]):
            if secrets.compare_digest(row.key_hash, digest):
                row.last_used_at = now
                return row
    raise spec.SpecError(403, "api_key is missing or invalid")


@dataclass(frozen=True, slots=True)
class Placed:
    """Where a request was placed and how (``how`` is told to the client and the desk)."""

    lat: float | None
    lon: float | None
    district_id: int | None
    place_text: str
    how: str  # point | address_id | site | district | desk


def _plain(text: str) -> str:
    """Letters and digits only, lower case: "沈阳市 和平区·南京街1号" → "沈阳市和平区南京街1号"."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _match_site(rows: list[Any], text: str, min_chars: int) -> Any | None:
    """The one active site whose address or name the text contains (or that contains the
    text); None when none or several match (then the desk decides)."""
    plain = _plain(text)
    found = {}
    for r in rows:
        for label in (_plain(r.address or ""), _plain(r.name or "")):
            if not label:
                continue
            if (len(label) >= min_chars and label in plain) or (
                len(plain) >= min_chars and plain in label
            ):
                found[r.id] = r
    return next(iter(found.values())) if len(found) == 1 else None


def place(session: Session, *, lat: float | None, lon: float | None, address: str,
          address_id: str, policy: IntakePolicy) -> Placed:  # fmt: skip
    """Locate a request from what the client gave (see the module docstring)."""
    if lat is not None and lon is not None:
        district, outside = repo.district_near(session, lat, lon, edge_m=policy.open311_city_edge_m)
        if district is None and outside is not None:
            raise spec.SpecError(
                400,
                f"lat/long ({lat}, {lon}) is outside the city: {outside / 1000:.1f} km from the "
                f"nearest district boundary (位置不在本市范围内)",
            )
        return Placed(lat, lon, district, address, "point")
    if address_id:
        site = repo.site_by_code(session, address_id)
        if site is None:
            raise spec.SpecError(
                400, f"address_id not found: {address_id!r} (address_id is the project code "
                     "of an active site in the construction-site ledger)")  # fmt: skip
        text = address or f"{site.address or site.name}（{site.project_code}）"
        return Placed(site.lat, site.lon, site.district_id, text[:255], "address_id")
    site = _match_site(repo.active_sites_for_address(session), address,
                       policy.open311_address_min_chars)  # fmt: skip
    if site is not None:
        return Placed(site.lat, site.lon, site.district_id, address, "site")
    plain = _plain(address)
    named = [d.id for d in repo.districts(session)
             if any(n and n in plain for n in (_plain(d.name), _plain(d.name_en)))]  # fmt: skip
    if len(named) == 1:
        return Placed(None, None, named[0], address, "district")
    return Placed(None, None, None, address, "desk")


def create_request(
    session: Session,
    *,
    api_key: str | None,
    form: dict[str, str | None],
    now: datetime,
    settings: Settings,
) -> tuple[Complaint, Placed]:
    """File a request (the spec's POST); ``SpecError`` 400/403/404 on bad input."""
    key = verify_key(session, api_key, now=now)
    code = (form.get("service_code") or "").strip()
    if not code:
        raise spec.SpecError(400, "service_code is required")
    if code not in spec.service_codes():
        raise spec.SpecError(404, f"service_code not found: {code}")
    lat = spec.parse_float("lat", form.get("lat"), -90, 90)
    lon = spec.parse_float("long", form.get("long"), -180, 180)
    if (lat is None) != (lon is None):
        raise spec.SpecError(400, "lat and long must be given together")
    address = (form.get("address_string") or "").strip()[:255]
    address_id = (form.get("address_id") or "").strip()
    if lat is None and not address and not address_id:
        raise spec.SpecError(
            400, "a location is required: lat and long, or address_string, or address_id"
        )
    description = (form.get("description") or "").strip()  # optional in the spec
    if len(description) > spec.MAX_DESCRIPTION:
        raise spec.SpecError(400, f"description is longer than {spec.MAX_DESCRIPTION}")
    name = " ".join(
        p for p in ((form.get("last_name") or "").strip(), (form.get("first_name") or "").strip())
        if p
    )[:64]  # fmt: skip
    phone = "".join(ch for ch in (form.get("phone") or "") if ch.isdigit() or ch in "+-() ")
    email = spec.check_email(form.get("email") or "")[:128]
    media_url = spec.check_url(form.get("media_url") or "")
    at = place(session, lat=lat, lon=lon, address=address, address_id=address_id,
               policy=intake_policy(settings))  # fmt: skip
    data = Open311RequestIn(caller_name=name, caller_phone=phone[:32], place_text=at.place_text,
                            lat=at.lat, lon=at.lon, content=description,
                            category=code)  # fmt: skip
    c = hotline.create(
        session, None, data, now=now, settings=settings, open311_key_id=key.id,
        caller_email=email, media_url=media_url, district_id=at.district_id,
    )  # fmt: skip
    return c, at


def request_rows(
    session: Session,
    *,
    ids: list[str],
    codes: list[str],
    start: datetime | None,
    end: datetime | None,
    statuses: list[str],
    now: datetime,
    en: bool,
) -> list[dict[str, Any]]:
    """The spec's GET requests (and GET one request when ``ids`` has one element)."""
    bad = [s for s in statuses if s not in ("open", "closed")]
    if bad:
        raise spec.SpecError(400, f"status must be open or closed: {','.join(bad)}")
    numbers = [int(i) for i in ids if i.isdigit()] if ids else None
    if numbers is None:
        start, end = spec.date_range(start, end, now)
    rows = repo.open311_requests(
        session, ids=numbers, codes=codes, start=start, end=end, limit=spec.MAX_REQUESTS
    )
    names = {code: s["service_name"] for s in spec.services(en) for code in [s["service_code"]]}
    out = []
    for c, state, deadline, case_updated, unit in rows:
        status, key = spec.status_of(
            c.status.value, c.resolved_at is not None, getattr(state, "value", state)
        )
        if statuses and status not in statuses:
            continue
        updated = max(filter(None, (c.updated_at, case_updated)))
        out.append({
            "service_request_id": str(c.id),
            "status": status,
            "status_notes": spec.note(key, en),
            "service_name": names.get(c.category, c.category),
            "service_code": c.category,
            "description": c.content,
            "agency_responsible": unit or ("12319 Hotline" if en else "12319 城建服务热线"),
            "service_notice": "",
            "requested_datetime": spec.w3c(c.received_at),
            "updated_datetime": spec.w3c(updated),
            "expected_datetime": spec.w3c(deadline),
            "address": c.place_text,
            "address_id": None,
            "zipcode": None,
            "lat": c.lat,
            "long": c.lon,
            "media_url": c.media_url or None,
        })  # fmt: skip
    return out


NOTICES = {
    "site": ("已按地址匹配到台账工地。", "Located at the ledger site matching the address. "),
    "district": ("已按地址确定所在区。", "Placed in the district named in the address. "),
    "desk": ("地址未能自动定位，将由 12319 热线人工定位。",
             "The address could not be matched; the 12319 desk will place it. "),
}  # fmt: skip


def notice(en: bool, how: str = "point") -> str:
    """The ``service_notice`` of a filed request; says how an address was placed."""
    zh_extra, en_extra = NOTICES.get(how, ("", ""))
    if en:
        return (f"{en_extra}Received by the 12319 desk; it will be assigned to the "
                "responsible district.")  # fmt: skip
    return f"{zh_extra}已受理，12319 热线将分派至责任单位处理。"
