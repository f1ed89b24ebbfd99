"""`dustgrid trajectories`: suspected unpermitted sites from truck GPS, no database needed.

An auditor or a test can reproduce every suspect from exported fixes and a list of known
places alone (docs/trajectories.md).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dustgrid.trajectories.clusters import KnownPlace, find_suspects
from dustgrid.trajectories.fixes import (
    CRS_CHOICES,
    BadRow,
    UnreadableInput,
    read_fixes,
    read_known_places,
)
from dustgrid.trajectories.policy import DEFAULT_TRAJECTORY_POLICY, TrajectoryPolicy
from dustgrid.trajectories.stays import SECONDS_PER_DAY, Fixes, detect_stays
from dustgrid.trajectories.store import BadBatchId, FixStore

if TYPE_CHECKING:
    from dustgrid.trajectories.dask_engine import DaskEngine

STORE_FOLDER = ("trajectories", "fixes")  # under the data directory (DUSTGRID_VAR_DIR)

app = typer.Typer(
    help="Muck-truck trajectories: stay points and suspected unpermitted sites.",
    no_args_is_help=True,
)

EXIT_BAD_INPUT = 2
MAX_REPORTED_ROWS = 1000  # bad rows listed one per line per file; the count is always given

SUSPECTS_HELP = "\n\n".join(
    [
        "Find suspected unpermitted sites (疑似未批先建) in GPS fixes, no database needed.",
        "Fixes: CSV or Parquet with columns terminal_id,time,lat,lon (speed, heading and "
        "others are ignored); time is ISO 8601 with an offset or epoch seconds; coordinates "
        "are WGS-84 unless --crs gcj02. Known places: CSV name,kind,lat,lon,radius_m (WGS-84).",
        "Only fixes on local days (UTC+8) from --from to --to, both included, count.",
        "Output (stdout): one JSON object per line and suspect, best score first, with lat, "
        "lon, trucks, visits, days, dwell_minutes, night_share, first_seen, last_seen, score.",
        "Bad rows are skipped and reported on stderr with their line number (CSV, header = "
        "line 1) or row number (Parquet), with a count per file. Exit code 2 when an input "
        "is unusable (missing file or column, not CSV or Parquet).",
    ]
)


def _report(bad: list[BadRow], file: Path) -> None:
    for row in bad[:MAX_REPORTED_ROWS]:
        typer.echo(str(row), err=True)
    if bad:
        more = len(bad) - MAX_REPORTED_ROWS
        tail = f" ({more} more not listed)" if more > 0 else ""
        typer.echo(f"{file}: {len(bad)} bad row(s) skipped{tail}", err=True)


def in_days(fixes: Fixes, first: date, last: date, policy: TrajectoryPolicy) -> Fixes:
    """The fixes whose local day lies in [first, last]."""
    day = (fixes.t + policy.utc_offset_seconds) // SECONDS_PER_DAY
    lo, hi = first.toordinal() - date(1970, 1, 1).toordinal(), last.toordinal()
    hi -= date(1970, 1, 1).toordinal()
    return fixes.select((day >= lo) & (day <= hi))


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_BAD_INPUT)


@app.command("suspects", help=SUSPECTS_HELP)
def suspects(
    fixes: Annotated[list[Path], typer.Option("--fixes", help="CSV or Parquet file(s) of fixes")],
    known: Annotated[Path, typer.Option("--known", help="CSV of known places")],
    first: Annotated[str, typer.Option("--from", help="first local day, YYYY-MM-DD")],
    last: Annotated[str, typer.Option("--to", help="last local day, YYYY-MM-DD")],
    crs: Annotated[str, typer.Option("--crs", help="coordinates of the fixes: wgs84 or gcj02")] = (
        "wgs84"
    ),
) -> None:
    policy = DEFAULT_TRAJECTORY_POLICY
    try:
        day_from, day_to = date.fromisoformat(first), date.fromisoformat(last)
    except ValueError:
        raise _fail("--from and --to must be dates YYYY-MM-DD") from None
    if day_to < day_from:
        raise _fail("--to is before --from")
    if crs not in CRS_CHOICES:
        raise _fail(f"--crs must be one of {', '.join(CRS_CHOICES)}")
    try:
        places, bad_places = read_known_places(known)
        _report(bad_places, known)
        parts = []
        for path in fixes:
            result = read_fixes(path, crs)
            _report(result.bad, path)
            parts.append(result.fixes)
    except UnreadableInput as exc:
        raise _fail(str(exc)) from None
    selected = in_days(Fixes.concat(parts), day_from, day_to, policy)
    for found in find_suspects(detect_stays(selected, policy), places, policy):
        typer.echo(json.dumps(found.as_json(policy), ensure_ascii=False))


def store_root(data_dir: Path | None) -> Path:
    """Where fixes are stored: ``<data dir>/trajectories/fixes``."""
    if data_dir is None:
        from dustgrid.config import get_settings

        data_dir = get_settings().var_dir
    return data_dir.joinpath(*STORE_FOLDER)


@app.command("store")
def store(
    fixes: Annotated[list[Path], typer.Option("--fixes", help="CSV or Parquet file(s) of fixes")],
    batch_id: Annotated[str, typer.Option("--batch-id", help="the batch's id (idempotent)")],
    crs: Annotated[str, typer.Option("--crs", help="coordinates of the fixes: wgs84 or gcj02")] = (
        "wgs84"
    ),
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="default: the data directory (var_dir)")
    ] = None,
) -> None:
    """Store fixes as Parquet by local day and terminal hash; the same batch id again
    replaces that batch (no duplicates). Bad rows as for `suspects`; exit code 2 when an
    input is unusable or the batch id cannot name a file."""
    if crs not in CRS_CHOICES:
        raise _fail(f"--crs must be one of {', '.join(CRS_CHOICES)}")
    try:
        parts = []
        for path in fixes:
            result = read_fixes(path, crs)
            _report(result.bad, path)
            parts.append(result.fixes)
        files = FixStore(store_root(data_dir)).write(Fixes.concat(parts), batch_id)
    except (UnreadableInput, BadBatchId) as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{sum(len(p) for p in parts)} fixes stored in {files} partition file(s)")


ENGINES = ("local", "dask")

DETECT_HELP = "\n\n".join(
    [
        "Stays of one local day and suspected unpermitted sites over the window of days "
        "ending at it (suspect_window_days, 7), from the fixes stored by `store`. No database.",
        "Stays are cached per day beside the fixes (<data dir>/trajectories/stays/) and "
        "computed again only for buckets whose fix files changed.",
        "Output: a summary, then one line per suspect; with --json one JSON object per line "
        "and suspect (as `suspects`), the summary on stderr. --engine dask --scheduler ADDRESS "
        "runs the stays on a Dask cluster, one task per (day, bucket); the workers must see "
        "the same data directory. Exit code 2 when an input is unusable.",
    ]
)


def _known_or_none(known: Path | None) -> list[KnownPlace]:
    if known is None:
        return []
    try:
        places, bad_places = read_known_places(known)
    except UnreadableInput as exc:
        raise _fail(str(exc)) from None
    _report(bad_places, known)
    return places


def _dask_engine(scheduler: str) -> DaskEngine:
    from dustgrid.trajectories.dask_engine import DaskEngine, DaskUnavailable

    try:
        return DaskEngine(scheduler)
    except DaskUnavailable as exc:
        raise _fail(str(exc)) from None


@app.command("detect", help=DETECT_HELP)
def detect(
    day: Annotated[str, typer.Option("--day", help="the local day, YYYY-MM-DD")],
    known: Annotated[
        Path | None, typer.Option("--known", help="CSV of known places name,kind,lat,lon,radius_m")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="default: the data directory (var_dir)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per suspect")] = False,
    engine: Annotated[str, typer.Option("--engine", help="local or dask")] = "local",
    scheduler: Annotated[
        str | None, typer.Option("--scheduler", help="Dask scheduler address (--engine dask)")
    ] = None,
) -> None:
    from dustgrid.trajectories.daily import detect_day

    policy = DEFAULT_TRAJECTORY_POLICY
    try:
        the_day = date.fromisoformat(day)
    except ValueError:
        raise _fail("--day must be a date YYYY-MM-DD") from None
    if engine not in ENGINES:
        raise _fail(f"--engine must be one of {', '.join(ENGINES)}")
    if engine == "dask" and not scheduler:
        raise _fail("--engine dask needs --scheduler ADDRESS (e.g. tcp://10.0.0.5:8786)")
    places = _known_or_none(known)
    runner = _dask_engine(str(scheduler)) if engine == "dask" else None
    try:
        result = detect_day(FixStore(store_root(data_dir)), the_day, places, policy,
                            engine=runner)  # fmt: skip
    finally:
        if runner is not None:
            runner.close()
    first, last = result.window or (the_day, the_day)
    summary = (
        f"{the_day.isoformat()}: {len(result.stays):,} stays; window {first.isoformat()} – "
        f"{last.isoformat()}: {result.window_stays:,} stays, {len(result.clusters):,} clusters, "
        f"{len(result.suspects):,} suspects"
    )
    typer.echo(summary, err=as_json)
    for found in result.suspects:
        if as_json:
            typer.echo(json.dumps(found.as_json(policy), ensure_ascii=False))
        else:
            o = found.as_json(policy)
            typer.echo(
                f"  score {o['score']:>5}  {o['lat']:.6f},{o['lon']:.6f}  {o['trucks']} trucks, "
                f"{o['days']} days, {o['visits']} visits, {o['dwell_minutes']} min  "
                f"{o['first_seen']} … {o['last_seen']}"
            )
