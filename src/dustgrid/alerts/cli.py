"""`dustgrid alerts`: list rule profiles and audit CSV series without a database.

Lets an inspector or a city reproduce any verdict from exported data alone.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from datetime import date
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from dustgrid.alerts.engine.profiles import (
    AREA_CLASSES,
    BUILTIN_PROFILES,
    STAGES,
    ContextError,
    EvalContext,
    Profile,
    get_profile,
    tune,
)
from dustgrid.alerts.engine.rules import WindowResult, day_verdicts, evaluate_windows
from dustgrid.alerts.engine.windows import (
    DEFAULT_TZ_NAME,
    KNOWN_FLAGS,
    Reading,
    local_day,
    parse_time,
)

app = typer.Typer(
    help="Dust alert rules: list standards profiles, evaluate them on CSV series.",
    no_args_is_help=True,
)

REQUIRED_COLUMNS = ("time", "metric", "value")
MISSING_VALUES = frozenset({"", "na", "nan", "null"})
EXIT_BAD_INPUT = 2
OUTPUT_DIGITS = 3

CHECK_HELP = "\n\n".join(
    [
        "Evaluate a profile over CSV series, no database needed.",
        "CSV: header row with columns time,metric,value and optionally flag and station. "
        "Times are ISO-8601; a time without an offset is local time in --tz. Empty or NA "
        "values are missing. Particulates are in µg/m³. Only flags N and S count; rows of "
        "other metrics are ignored. Bad rows are reported on stderr with their line number "
        "and skipped.",
        "Output (JSON lines, stdout), grouped by local day in time order: for each day, one "
        '{"type": "window", ...} line per exceeding window, then one {"type": "day", "date", '
        '"exceedances", "windows", "verdict"} line. "excess" is value - reference_used - '
        'limit; "reference" is the reference average (null for absolute rules) and '
        '"reference_used" the capped value that was subtracted. Days without any evaluable '
        "window are not printed.",
        "Exit code 2 when the input is unusable (missing file or columns, unreadable file, "
        "unknown profile, missing --area/--stage/--reference the profile needs), else 0.",
    ]
)


class InputError(Exception):
    """Input the command cannot use at all (exit code 2)."""


def _parse_value(text: str | None) -> float | None:
    raw = (text or "").strip()
    if raw.lower() in MISSING_VALUES:
        return None
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError(f"value {raw!r} is not finite")
    return value


def read_series(path: Path, tz: ZoneInfo) -> list[Reading]:
    """Parse a CSV series; bad rows go to stderr and are skipped."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        return _read_rows(path, tz)
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise InputError(f"{path}: unreadable: {exc}") from None


def _read_rows(path: Path, tz: ZoneInfo) -> list[Reading]:
    readings: list[Reading] = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip() for c in reader.fieldnames or []]
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
        reader.fieldnames = columns
        for row in reader:
            try:
                if any(row.get(c) is None for c in REQUIRED_COLUMNS):
                    raise ValueError("too few fields")
                flag = (row.get("flag") or "N").strip().upper() or "N"
                if flag not in KNOWN_FLAGS:
                    raise ValueError(f"unknown flag {flag!r}")
                readings.append(
                    Reading(
                        time=parse_time(row["time"], tz),
                        metric=row["metric"].strip().lower(),
                        value=_parse_value(row["value"]),
                        flag=flag,
                        source=(row.get("station") or "").strip(),
                    )
                )
            except ValueError as exc:
                typer.echo(f"{path}:{reader.line_num}: skipped: {exc}", err=True)
    return readings


def _num(x: float | None) -> float | None:
    return None if x is None else round(x, OUTPUT_DIGITS)


def _window_line(r: WindowResult) -> dict[str, object]:
    return {
        "type": "window",
        "start": r.start.isoformat(),
        "end": r.end.isoformat(),
        "metric": r.metric,
        "value": _num(r.value),
        "reference": _num(r.reference),
        "reference_used": _num(r.reference_used),
        "limit": _num(r.limit),
        "excess": _num(r.excess),
        "held": r.held,
    }


@app.command("profiles")
def profiles_command(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List built-in profiles (id, version, title)."""
    for p in BUILTIN_PROFILES.values():
        if as_json:
            typer.echo(json.dumps(p.describe(), ensure_ascii=False))
        else:
            typer.echo(f"{p.id}\t{p.version}\t{p.title_zh} / {p.title_en}")


def _load_profile(name: str, limit: float | None, min_valid_count: int | None) -> Profile:
    try:
        profile = get_profile(name)
    except KeyError as exc:
        raise InputError(str(exc.args[0])) from None
    changes: dict[str, object] = {}
    if limit is not None:
        if profile.limit_basis != "fixed":
            raise InputError(f"--limit only applies to fixed-limit profiles, not {profile.id}")
        changes["limit"] = limit
    if min_valid_count is not None:
        changes["min_valid_count"] = min_valid_count
    try:
        return tune(profile, **changes) if changes else profile
    except ValueError as exc:
        raise InputError(str(exc)) from None


@app.command("check", help=CHECK_HELP)
def check_command(
    profile: Annotated[str, typer.Option(help="Profile id, or absolute:METRIC:MINUTES:LIMIT.")],
    site: Annotated[Path, typer.Option(help="Site series CSV.")],
    reference: Annotated[
        Path | None, typer.Option(help="Reference stations' series CSV (difference rules).")
    ] = None,
    tz: Annotated[str, typer.Option(help="City time zone for windows and days.")] = (
        DEFAULT_TZ_NAME
    ),
    area: Annotated[
        str | None, typer.Option(help=f"Area class: {', '.join(AREA_CLASSES)}.")
    ] = None,
    stage: Annotated[
        str | None, typer.Option(help=f"Construction stage: {', '.join(STAGES)}.")
    ] = None,
    limit: Annotated[float | None, typer.Option(help="Override a fixed limit (tuning).")] = None,
    min_valid_count: Annotated[
        int | None, typer.Option(help="Valid values a window needs (default 1).")
    ] = None,
) -> None:
    try:
        try:
            zone = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise InputError(f"unknown time zone {tz!r}") from None
        prof = _load_profile(profile, limit, min_valid_count)
        context = EvalContext(tz=zone, area=area, stage=stage)
        prof.check_context(context)
        if prof.kind == "difference" and reference is None:
            raise InputError(f"profile {prof.id} subtracts a reference: pass --reference")
        site_series = read_series(site, zone)
        ref_series = read_series(reference, zone) if reference is not None else None
    except (InputError, ContextError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None

    results = evaluate_windows(prof, site_series, ref_series, context)
    by_day: dict[date, list[WindowResult]] = {}
    for r in results:
        if r.exceeded:
            by_day.setdefault(local_day(r.start, zone), []).append(r)
    for verdict in day_verdicts(prof, results, zone):
        for r in by_day.get(verdict.date, []):
            typer.echo(json.dumps(_window_line(r)))
        line = {"type": "day", **dataclasses.asdict(verdict), "date": verdict.date.isoformat()}
        typer.echo(json.dumps(line))


# --- commands on the platform's database (added with the live alert engine) -------------

REPLAY_HELP = "\n\n".join(
    [
        "Re-evaluate stored history with a profile, read-only (dry runs and audits).",
        "Judges every site's stored readings (or --site's) over the local days --from … --to "
        "with the pure engine, as the live evaluator would with no history before --from. "
        "Live alerts, windows and cases are not touched. Output: JSON lines as `alerts check` "
        'prints them, each with "site" (the project code): "window" lines for exceeding '
        'windows and a "day" line per day, then one "alert" line per alert episode.',
    ]
)


def _tz(name: str | None) -> ZoneInfo:
    from dustgrid.config import get_settings

    try:
        return ZoneInfo(name or get_settings().timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        typer.echo(f"error: unknown time zone {name!r}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@app.command("replay", help=REPLAY_HELP)
def replay_command(
    profile: Annotated[str, typer.Option(help="Profile id, or absolute:METRIC:MINUTES:LIMIT.")],
    from_: Annotated[str, typer.Option("--from", help="First local day (YYYY-MM-DD).")],
    to: Annotated[str, typer.Option("--to", help="Last local day (YYYY-MM-DD).")],
    site: Annotated[list[str] | None, typer.Option(help="Project code (repeatable).")] = None,
    tuning: Annotated[str, typer.Option(help='City tuning as JSON, e.g. {"limit": 90}.')] = "{}",
    tz: Annotated[str | None, typer.Option(help="City time zone (default: settings).")] = None,
) -> None:
    from dustgrid.alerts import replay as rp
    from dustgrid.alerts.repository import sources
    from dustgrid.alerts.rulesets import effective_profile
    from dustgrid.db import session_scope
    from dustgrid.errors import DomainError

    zone = _tz(tz)
    try:
        start, end = date.fromisoformat(from_), date.fromisoformat(to)
        prof = effective_profile(profile, json.loads(tuning), None)
    except (ValueError, DomainError) as exc:
        typer.echo(f"error: {getattr(exc, 'message', exc)}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    with session_scope() as session:
        site_ids = None
        if site:
            found = sources.site_ids_by_code(session, site)
            unknown = sorted(set(site) - set(found))
            if unknown:
                typer.echo(f"error: unknown site(s) {', '.join(unknown)}", err=True)
                raise typer.Exit(EXIT_BAD_INPUT)
            site_ids = list(found.values())
        try:
            for item in rp.replay(session, prof, start=start, end=end, tz=zone, site_ids=site_ids):
                for line in rp.json_lines(item, zone):
                    typer.echo(json.dumps(line, ensure_ascii=False))
        except DomainError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        finally:
            session.rollback()  # read-only: nothing of a replay is ever kept


@app.command("import-reference")
def import_reference_command(
    file: Annotated[Path, typer.Argument(help="Hourly CSV in the PRSA layout.")],
    device: Annotated[str, typer.Option(help="MN of the reference station device.")],
    from_: Annotated[str | None, typer.Option("--from", help="First day to import.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last day to import.")] = None,
    shift_days: Annotated[int, typer.Option(help="Move every row by this many days.")] = 0,
    tz: Annotated[
        str | None, typer.Option(help="Time zone of the CSV (default: settings).")
    ] = None,
) -> None:
    """Import a reference station's hourly CSV (year,month,day,hour,PM2.5,PM10,…; NA =
    missing) as hour averages at their data time; difference rules re-judge the span."""
    from datetime import timedelta

    from dustgrid.alerts import reference as ref
    from dustgrid.alerts.evaluate import rewind
    from dustgrid.alerts.policy import DEFAULT_ALERT_POLICY
    from dustgrid.db import session_scope
    from dustgrid.errors import DomainError
    from dustgrid.models import utcnow

    zone = _tz(tz)
    if not file.is_file():
        typer.echo(f"error: {file}: no such file", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        first = date.fromisoformat(from_) if from_ else None
        last = date.fromisoformat(to) if to else None
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    with session_scope() as session:
        try:
            report = ref.import_prsa(session, file, mn=device, tz=zone, start=first, end=last,
                                     shift=timedelta(days=shift_days))  # fmt: skip
        except DomainError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None
        rewound = 0
        if report.first is not None:
            horizon = utcnow() - DEFAULT_ALERT_POLICY.late_horizon
            rewound = rewind(session, since=max(report.first, horizon))
        session.commit()
    for problem in report.problems[:20]:
        typer.echo(problem, err=True)
    span = f"{report.first} … {report.last}" if report.first else "no rows"
    typer.echo(f"{report.rows} readings ({report.new} new, {report.skipped} missing values "
               f"skipped), {span}; {rewound} site × rule states re-judged")  # fmt: skip


@app.command("evaluate")
def evaluate_command(
    tz: Annotated[str | None, typer.Option(help="City time zone (default: settings).")] = None,
) -> None:
    """Run one round of the alert worker now (exceedances, offline, stale keys, quality)."""
    from dustgrid.alerts.tasks import run_round
    from dustgrid.db import get_sessionmaker

    report = run_round(get_sessionmaker(), tz=_tz(tz))
    for name, part in report.parts.items():
        typer.echo(f"{name}: {part}")
    if report.failed:
        typer.echo(f"failed: {', '.join(report.failed)}", err=True)
        raise typer.Exit(1)
