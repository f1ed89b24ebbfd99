"""Bulk data for ``bench/cases.py``: a million cases spread like a city's two years of work.

Rows are generated in Python and streamed to PostgreSQL with ``COPY … FROM STDIN`` (text
format) through ``psycopg``'s ``cursor.copy``. The case table's secondary indexes are
dropped for the load and rebuilt afterwards (one sort per index instead of a million
inserts into each), and foreign-key triggers are skipped for the load session
(``session_replication_role = replica``; the ids come from the database, so they hold).

The spread (of all cases): 72 % closed, 1 % suspended, 27 % open across the loop's states;
open cases opened in the last 45 days with their running clock due between 5 days ago and
10 days ahead (about a third overdue), reminders at 80 % of the clock. Which of those the
sweeps still have to handle is not in the rows: the sweeps work on the window since their
previous run (``CaseSweepMark``), which ``bench/cases.py`` sets per scenario.

The columns follow the migrated table (``table_columns``): one the generator does not know
is loaded as NULL and named by ``unknown_columns`` so the run says so.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dustgrid.auth.models import User
from dustgrid.cases.categories import CATEGORIES
from dustgrid.cases.states import CaseSource
from dustgrid.grids.models import GridGroup, GridGroupMember
from dustgrid.identity.roles import Role
from dustgrid.sites.models import Site

STATES = (  # (state, share of all cases, clock, level)
    ("closed", 0.72, None, None),
    ("suspended", 0.01, None, None),
    ("reported", 0.02, "dispatch", "L1"),
    ("returned", 0.005, "dispatch", "L1"),
    ("dispatched", 0.04, "acknowledge", "L2"),
    ("accepted", 0.03, "handle", "L4"),
    ("handling", 0.08, "handle", "L4"),
    ("rectifying", 0.05, "recheck", "L4"),
    ("penalizing", 0.015, "penalty", "L4"),
    ("verifying", 0.03, "verify", "L2"),
)
CLOCK_DAYS = {"dispatch": 1, "acknowledge": 1, "handle": 3, "recheck": 7, "penalty": 30,
              "verify": 2}  # fmt: skip
SOURCES = (  # (source, weight)
    (CaseSource.third_party_inspector, 45), (CaseSource.enforcement_officer, 20),
    (CaseSource.sensor, 12), (CaseSource.video_ai, 12), (CaseSource.city_brain, 5),
    (CaseSource.hotline_12319, 5), (CaseSource.higher_assignment, 1),
)  # fmt: skip
DISPOSITIONS = ("fix_on_site", "rectification", "penalty")
NULL = "\\N"
ESCALATE_TO = {"L4": "L2", "L3": "L2", "L2": "L1"}


@dataclass(frozen=True, slots=True)
class SiteRow:
    id: int
    district_id: int
    unit_id: int
    lat: float
    lon: float
    officers: tuple[int, ...]
    inspectors: tuple[int, ...]


def city_sites(session: Session) -> list[SiteRow]:
    """Sites with the officers (enforcement grid) and inspectors (inspector grid) on them."""
    members: dict[int, list[int]] = {}
    rows = session.execute(
        select(GridGroup.grid_id, GridGroupMember.user_id).join(
            GridGroupMember, GridGroupMember.group_id == GridGroup.id
        )
    )
    for grid_id, user_id in rows:
        members.setdefault(grid_id, []).append(user_id)
    out = []
    for s in session.execute(select(Site.id, Site.district_id, Site.l2_unit_id, Site.lat,
                                    Site.lon, Site.enforcement_grid_id,
                                    Site.inspector_grid_id).order_by(Site.id)):  # fmt: skip
        out.append(SiteRow(s.id, s.district_id, s.l2_unit_id, s.lat, s.lon,
                           tuple(members.get(s.enforcement_grid_id or -1, ())),
                           tuple(members.get(s.inspector_grid_id or -1, ()))))  # fmt: skip
    return out


def l2_admins(session: Session) -> dict[int, int]:
    return {u.org_unit_id: u.id for u in session.scalars(
        select(User).where(User.role == Role.district_admin).order_by(User.id))}  # fmt: skip


def _ts(dt: datetime | None) -> str:
    return NULL if dt is None else dt.isoformat()


def rows(
    n: int, sites: list[SiteRow], admins: dict[int, int], now: datetime, *, seed: int,
    columns: list[str],
) -> Iterator[str]:  # fmt: skip
    """``n`` COPY text lines of ``columns`` (tab-separated, ``\\N`` for NULL)."""
    rng = random.Random(seed)
    states = [s for s in STATES]
    weights = [s[1] for s in STATES]
    sources = [s for s, _ in SOURCES]
    source_w = [w for _, w in SOURCES]
    cats = list(CATEGORIES)
    day = timedelta(days=1)
    for i in range(1, n + 1):
        state, _share, clock, level = rng.choices(states, weights)[0]
        site = sites[rng.randrange(len(sites))]
        source = rng.choices(sources, source_w)[0]
        cat = rng.choice(cats)
        reporter = rng.choice(site.inspectors or site.officers or (None,))
        is_open = clock is not None
        if is_open:
            opened = now - timedelta(seconds=rng.uniform(0, 45 * 86400))
        else:
            opened = now - timedelta(seconds=rng.uniform(46 * 86400, 730 * 86400))
        unit = None if state == "reported" else site.unit_id
        responsible = None
        if state in ("accepted", "handling", "rectifying", "penalizing", "verifying", "closed",
                     "suspended"):  # fmt: skip
            responsible = rng.choice(site.officers or (admins.get(site.unit_id),))
        disposition = {"rectifying": "rectification", "penalizing": "penalty"}.get(state)
        if state in ("verifying", "closed"):
            disposition = rng.choice(DISPOSITIONS)
        started = due = warn = remind = None
        escalated_to = escalated_at = None
        if is_open:
            dur = CLOCK_DAYS[str(clock)] * day
            due = now + timedelta(seconds=rng.uniform(-5 * 86400, 10 * 86400))
            started = due - dur
            warn = due - dur * 0.2
            remind = warn
            if due <= now:  # for a schema that stores escalation: already done
                escalated_to = ESCALATE_TO.get(level or "")
                escalated_at = due + timedelta(minutes=1) if escalated_to else None
        dispatched = deadline = deadline_warn = None
        if state not in ("reported",):
            dispatched = opened + timedelta(hours=rng.uniform(1, 20))
            deadline = dispatched + timedelta(days=rng.choice((5, 10, 15)))
            deadline_warn = deadline - timedelta(days=1)
        closed = opened + timedelta(days=rng.uniform(1, 20)) if state == "closed" else None
        review = review_remind = None
        if state == "suspended":
            review_day = (now + timedelta(days=rng.uniform(1, 60))).date()
            review = review_day.isoformat()
            review_remind = datetime(review_day.year, review_day.month, review_day.day,
                                     tzinfo=UTC) - day  # fmt: skip
        look_back = None
        if state == "closed" and rng.random() < 0.01:
            look_back = now + timedelta(days=rng.uniform(0, 7))
        machine = source in (CaseSource.sensor, CaseSource.video_ai)
        dedup = f"{source.value}:{site.id}:{cat}" if machine else None
        row = {
            "id": str(i), "source": source.value, "state": state, "site_id": str(site.id),
            "district_id": str(site.district_id), "lat": repr(site.lat), "lon": repr(site.lon),
            "category": cat, "description": f"第{i}号案件：{CATEGORIES[cat][0]}",
            "severity": rng.choice(("low", "medium", "medium", "high")),
            "reporter_id": str(reporter) if reporter else NULL, "external_ref": NULL,
            "dedup_key": dedup or NULL, "merged_count": "0",
            "assigned_unit_id": str(unit) if unit else NULL,
            "responsible_user_id": str(responsible) if responsible else NULL,
            "disposition": disposition or NULL, "level": level or NULL, "clock": clock or NULL,
            "clock_working_time": "t", "clock_started_at": _ts(started), "due_at": _ts(due),
            "warn_at": _ts(warn), "remind_at": _ts(remind), "escalate_at": _ts(due),
            "escalated_to": escalated_to or NULL, "escalated_at": _ts(escalated_at),
            "dispatched_at": _ts(dispatched), "deadline_at": _ts(deadline),
            "deadline_warn_at": _ts(deadline_warn), "rectify_due_at": NULL,
            "penalty_case_number": "罚字1号" if state == "penalizing" else "",
            "review_date": review or NULL, "review_remind_at": _ts(review_remind),
            "rework_count": "0", "opened_at": _ts(opened), "closed_at": _ts(closed),
            "look_back_due_at": _ts(look_back), "looked_back_at": NULL,
            "policy_version": "2025.1", "created_at": _ts(opened), "updated_at": _ts(opened),
        }  # fmt: skip
        yield "\t".join([row.get(c, NULL) for c in columns]) + "\n"


KNOWN = frozenset({
    "id", "source", "state", "site_id", "district_id", "lat", "lon", "category", "description",
    "severity", "reporter_id", "external_ref", "dedup_key", "merged_count", "assigned_unit_id",
    "responsible_user_id", "disposition", "level", "clock", "clock_working_time",
    "clock_started_at", "due_at", "warn_at", "remind_at", "escalate_at", "escalated_to",
    "escalated_at", "dispatched_at", "deadline_at", "deadline_warn_at", "rectify_due_at",
    "penalty_case_number", "review_date", "review_remind_at", "rework_count", "opened_at",
    "closed_at", "look_back_due_at", "looked_back_at", "policy_version", "created_at",
    "updated_at",
})  # fmt: skip


def unknown_columns(columns: list[str]) -> list[str]:
    return [c for c in columns if c not in KNOWN]


def table_columns(conn: Any) -> list[str]:
    """The columns of ``case_record`` as migrated (the generator follows the schema)."""
    with conn.cursor() as cur:
        cur.execute("SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'case_record' ORDER BY ordinal_position")  # fmt: skip
        return [r[0] for r in cur.fetchall()]


def copy_cases(conn: Any, lines: Iterator[str], columns: list[str], *,
               chunk_rows: int = 20000) -> int:  # fmt: skip
    """Stream the lines into ``case_record`` with COPY; returns the row count."""
    cols = ", ".join(columns)
    n = 0
    with conn.cursor() as cur, cur.copy(f"COPY case_record ({cols}) FROM STDIN") as copy:
        buf: list[str] = []
        for line in lines:
            buf.append(line)
            if len(buf) >= chunk_rows:
                copy.write("".join(buf).encode("utf-8"))
                n += len(buf)
                buf.clear()
        if buf:
            copy.write("".join(buf).encode("utf-8"))
            n += len(buf)
    return n


def secondary_indexes(conn: Any, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's indexes other than the primary key."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "JOIN pg_class c ON c.relname = i.indexname "
            "JOIN pg_index x ON x.indexrelid = c.oid "
            "WHERE i.tablename = %s AND NOT x.indisprimary ORDER BY i.indexname",
            (table,),
        )
        return [(r[0], r[1]) for r in cur.fetchall()]


def load(conn: Any, lines: Iterator[str], columns: list[str]) -> tuple[int, list[str]]:
    """Drop the secondary indexes, COPY, rebuild them; returns (rows, index names)."""
    indexes = secondary_indexes(conn, "case_record")
    with conn.cursor() as cur:
        try:
            cur.execute("SET session_replication_role = replica")
        except Exception:  # not a superuser: keep the FK checks (slower, same result)
            conn.rollback()
        for name, _sql in indexes:
            cur.execute(f'DROP INDEX "{name}"')
    n = copy_cases(conn, lines, columns)
    with conn.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '256MB'")
        for _name, sql in indexes:
            cur.execute(sql)
        cur.execute("SELECT setval(pg_get_serial_sequence('case_record', 'id'), "
                    "(SELECT max(id) FROM case_record))")  # fmt: skip
        cur.execute("SET session_replication_role = origin")
    conn.commit()
    return n, [name for name, _ in indexes]
