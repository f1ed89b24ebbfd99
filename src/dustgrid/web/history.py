"""Change history as people read it: field labels, value names, local time, people's names.

The audit log keeps what changed in the form the code wrote it (``district_id: [3, 6]``,
``grade: ["ungraded", "basic"]``, UTC times, usernames): exact, and stable across
translations. This presenter turns an entry into what an official reads on a page: the
field's label, the names behind ids and internal values, the time in the city's zone and
the person's name with their unit, all in the reader's language.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.audit.models import AuditEntry
from dustgrid.auth import service as auth
from dustgrid.grids.models import Grid
from dustgrid.i18n import catalogue, localize, translate
from dustgrid.identity.models import User
from dustgrid.models import Base
from dustgrid.org.models import District, OrgUnit
from dustgrid.sites.models import Enterprise, Site
from dustgrid.workcal.calendar import people_time

__all__ = ["HistoryChange", "HistoryEntry", "people", "readable_history"]

#: Columns that hold another row's id, and the table whose name stands for it.
_REFERENCES: Final[Mapping[str, type[Base]]] = {
    "district_id": District,
    "l2_unit_id": OrgUnit,
    "org_unit_id": OrgUnit,
    "unit_id": OrgUnit,
    "parent_id": OrgUnit,
    "enforcement_grid_id": Grid,
    "inspector_grid_id": Grid,
    "grid_id": Grid,
    "builder_id": Enterprise,
    "contractor_id": Enterprise,
    "supervisor_id": Enterprise,
    "enterprise_id": Enterprise,
    "provider_id": Enterprise,
    "site_id": Site,
    "user_id": User,
    "responsible_user_id": User,
}
#: Columns whose values are internal names, and the message group that names them
#: (``(entity, field)`` first, then the field alone).
_VALUE_GROUPS: Final[Mapping[tuple[str, str] | str, str]] = {
    ("device", "kind"): "device_kind",
    ("onboarding_application", "status"): "app_status",
    "request_kind": "request_kind",
    "request_status": "request_status",
    "crc_variant": "crc",
    "particulate_unit": "history.unit",
    "kind": "kind",
    "stage": "stage",
    "permit_status": "permit",
    "grade": "grade",
    "lifecycle": "lifecycle",
    "role": "role",
}
#: Values too large or too technical to print (a drawn boundary): "changed" is said instead.
_SHOWN_AS_CHANGED: Final = frozenset({"boundary", "control_measures", "password", "key_hash"})


@dataclass(frozen=True, slots=True)
class HistoryChange:
    label: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: str
    who: str
    what: str
    changes: tuple[HistoryChange, ...]


class _Reader:
    """One page's translations and name look-ups (each id is looked up once)."""

    def __init__(self, session: Session, locale: str, tz: tzinfo = UTC) -> None:
        self.session = session
        self.locale = locale
        self.tz = tz  # the times it writes (readable_history's); people() writes none
        self.messages = catalogue(locale)
        self.names: dict[tuple[type[Base], int], str] = {}
        self.users: dict[int, User | None] = {}

    def read_people(self, user_ids: Iterable[int | None]) -> None:
        """Read these accounts and their units in one statement, so that :meth:`person`
        asks nothing more for them (one look-up per person and per unit before)."""
        wanted = {i for i in user_ids if i is not None and i not in self.users}
        if not wanted:
            return
        for user, unit, enterprise in auth.people_with_units(self.session, wanted):
            self.users[user.id] = user
            if unit is not None:
                self.names[(OrgUnit, unit.id)] = _display(unit)
            if enterprise is not None:
                self.names[(Enterprise, enterprise.id)] = _display(enterprise)
        for gone in wanted - self.users.keys():
            self.users[gone] = None

    def read_names(self, wanted: Iterable[tuple[type[Base], int]]) -> None:
        """Read the rows behind these ids, one statement per table, for :meth:`name_of`
        (rows the page has already read, such as the site's own grids, are not read again)."""
        by_model: dict[type[Base], set[int]] = defaultdict(set)
        for model, row_id in wanted:
            if (model, row_id) in self.names:
                continue
            row = self.session.identity_map.get(self.session.identity_key(model, row_id))
            if row is not None:
                self.names[(model, row_id)] = _display(row)
            else:
                by_model[model].add(row_id)
        for model, ids in by_model.items():
            for row in audit.rows_named_by_id(self.session, model, ids):
                self.names[(model, row.id)] = _display(row)
            for gone in ids:
                self.names.setdefault((model, gone), self.t("history.gone", id=gone))

    def t(self, key: str, **fmt: Any) -> str:
        text = translate(key, self.locale)
        return text.format(**fmt) if fmt else text

    def known(self, *keys: str) -> str | None:
        for key in keys:
            if key in self.messages:
                return self.messages[key]
        return None

    def name_of(self, model: type[Base], row_id: int) -> str:
        key = (model, row_id)
        if key not in self.names:
            row = self.session.get(model, row_id)
            self.names[key] = (
                _display(row) if row is not None else self.t("history.gone", id=row_id)
            )
        return self.names[key]

    def person(self, user_id: int | None, username: str) -> str:
        if user_id is None:
            return self.t("history.system") if username in ("", "system") else username
        user = self.users[user_id] if user_id in self.users else self.session.get(User, user_id)
        if user is None:
            return self.t("history.gone", id=user_id)
        unit = None
        if user.org_unit_id is not None:
            unit = self.name_of(OrgUnit, user.org_unit_id)
        elif user.enterprise_id is not None:
            unit = self.name_of(Enterprise, user.enterprise_id)
        return (
            self.t("history.person", name=user.display_name, unit=unit)
            if unit
            else (user.display_name)
        )


def _display(row: Base) -> str:
    for attr in ("display_name", "name"):
        value = getattr(row, attr, None)
        if isinstance(value, str) and value:
            return value
    return str(getattr(row, "id", ""))


def local_time(value: datetime, tz: tzinfo) -> str:
    """The city's time (``tz``, the ``timezone`` setting) for people; the log keeps UTC."""
    return people_time(value, tz)


def _label(reader: _Reader, entity: str, field: str) -> str:
    base = field.removesuffix("_id")
    found = reader.known(
        f"history.field.{entity}.{field}",
        f"{entity}.{field}",
        f"{entity}.{base}",
        f"{entity}s.{field}",
        f"{entity}s.{base}",
        f"history.field.{field}",
    )
    return found if found is not None else reader.t("history.field.other")


def _timestamp(text: str, tz: tzinfo) -> str | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:  # a date, or a naive value the code wrote as UTC
        return None if len(text) <= len("2026-12-07") else text.replace("T", " ")[:16]
    return local_time(parsed, tz)


def _named(reader: _Reader, entity: str, field: str, value: Any) -> str | None:
    """The name behind an id or an internal value, if the field has one."""
    model = _REFERENCES.get(field)
    if model is not None and isinstance(value, int) and not isinstance(value, bool):
        return reader.name_of(model, value)
    group = _VALUE_GROUPS.get((entity, field)) or _VALUE_GROUPS.get(field)
    return reader.known(f"{group}.{value}") if group is not None else None


def _plain(value: Any, tz: tzinfo) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str) and len(value) >= len("2026-12-07") and value[:4].isdigit():
        stamp = _timestamp(value, tz)
        if stamp is not None:
            return stamp
    return str(value)


def _value(reader: _Reader, entity: str, field: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if field in _SHOWN_AS_CHANGED or isinstance(value, dict | list):
        return reader.t("history.value.set")
    if isinstance(value, bool):
        return reader.t("history.value.yes" if value else "history.value.no")
    named = _named(reader, entity, field, value)
    return named if named is not None else _plain(value, reader.tz)


def _what(reader: _Reader, entry: AuditEntry) -> str:
    found = reader.known(
        f"history.action.{entry.entity_type}.{entry.action}", f"history.action.{entry.action}"
    )
    return found if found is not None else localize(entry.summary, reader.locale)


def _changes(reader: _Reader, entry: AuditEntry) -> tuple[HistoryChange, ...]:
    out = []
    for field, pair in (entry.changes or {}).items():
        old, new = (pair[0], pair[1]) if isinstance(pair, list) and len(pair) == 2 else (None, pair)
        out.append(
            HistoryChange(
                label=_label(reader, entry.entity_type, field),
                old=_value(reader, entry.entity_type, field, old),
                new=_value(reader, entry.entity_type, field, new),
            )
        )
    return tuple(out)


def _referenced(entries: Iterable[AuditEntry]) -> Iterator[tuple[type[Base], int]]:
    """The ``(table, id)`` of every row the entries' changes name by id."""
    for entry in entries:
        for field, pair in (entry.changes or {}).items():
            model = _REFERENCES.get(field)
            if model is None or field in _SHOWN_AS_CHANGED:
                continue
            pairs = isinstance(pair, list) and len(pair) == 2  # as ``_changes`` reads them
            for value in pair if pairs else [pair]:
                if isinstance(value, int) and not isinstance(value, bool):
                    yield model, value


def readable_history(
    session: Session, entries: Iterable[AuditEntry], *, locale: str, tz: tzinfo
) -> list[HistoryEntry]:
    """The entries of one record's change history, as a page shows them; times in ``tz``
    (the city's, from the ``timezone`` setting)."""
    entries = list(entries)
    reader = _Reader(session, locale, tz)
    reader.read_people(entry.actor_id for entry in entries)
    reader.read_names(_referenced(entries))
    return [
        HistoryEntry(
            at=local_time(entry.at, tz),
            who=reader.person(entry.actor_id, entry.actor_name),
            what=_what(reader, entry),
            changes=_changes(reader, entry),
        )
        for entry in entries
    ]


def people(
    session: Session, locale: str, user_ids: Iterable[int | None] = ()
) -> Callable[[int | None, str], str]:
    """``who(user_id, username)``: a person's name with their unit (``system`` said as the
    system), for any page that lists who did what (the case timeline). ``user_ids``, the
    people the page will name, are read at once (one statement for all of them)."""
    reader = _Reader(session, locale)
    reader.read_people(user_ids)
    return reader.person
