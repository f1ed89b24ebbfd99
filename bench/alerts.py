"""Alert rules against the ingest path: full evaluation, and the cost per arriving reading.

Run: ``.venv/bin/python bench/alerts.py`` (``--help`` for sizes; the defaults are the issue's
10,000 devices with a day of minute data). Printed, all measured in this one run:

1. full evaluation (pure engine): every device's day of PM10 minute data judged by a
   15-minute absolute rule (DB31/964) and an hourly difference rule against a reference
   station (DB13/2934): windows, day verdicts, alert episodes;
2. the ingest baseline per reading: HJ 212 ``decode`` of real-shaped frames (ten items,
   as a dust monitor sends), ``frame_rows`` and ``write_readings`` into a migrated SQLite
   database in the listener's batch size;
3. the rules' incremental cost per arriving reading, three ways:
   a. the pure streaming API (``IncrementalEvaluator.add_reading``) per reading;
   b. per-window-close integration (what the platform does): a reading only lands in its
      window's bucket; a closing window is judged once and steps the raise/clear counters
      once (``evaluate_window`` + ``rules._scan``);
   c. the platform's evaluator itself (``alerts.tasks.LiveEvaluator`` over
      ``alerts.evaluate.evaluate_exceedances``) on the SQLite database of step 2, one
      round after every minute of ingest as the worker runs it, all rounds' time divided
      by all readings;
4. each against the ingest baseline, with the goal: rules add at most 10 %.

Every "per reading" counts every reading a frame carries (ten metrics), as the ingest
baseline does; the rules only look at the metrics they judge. Times are CPU time of this
process (``time.process_time``; SQLite runs in-process, so its work is included): on a
shared machine wall time mostly measures the neighbours.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from _common import machine_lines

from dustgrid.alerts.engine.profiles import HEBEI, SHANGHAI, EvalContext, tune
from dustgrid.alerts.engine.rules import (
    IncrementalEvaluator,
    _scan,
    _ScanState,
    alert_episodes,
    day_verdicts,
    evaluate_window,
    evaluate_windows,
)
from dustgrid.alerts.engine.windows import Reading

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 20, 0, 0, tzinfo=TZ)
GOAL = 0.10
RULES = (tune(SHANGHAI, raise_after=2, clear_after=2), HEBEI)
CODES = {  # HJ 212 code -> (metric, typical value); ten items as a dust monitor sends
    "a34001": ("tsp", 180.0),
    "a34002": ("pm10", 85.0),
    "a34004": ("pm25", 42.0),
    "a34005": ("pm1", 25.0),
    "LA": ("noise", 62.0),
    "a01001": ("temperature", 21.0),
    "a01002": ("humidity", 55.0),
    "a01006": ("pressure", 101.3),
    "a01007": ("wind_speed", 2.5),
    "a01008": ("wind_direction", 180.0),
}
OTHER_METRICS = [m for m, _ in CODES.values() if m != "pm10"]


def pm10_day(rng: random.Random, minutes: int) -> list[float]:
    """A diurnal PM10 curve with noise and, on some devices, a dusty afternoon."""
    dusty = rng.random() < 0.2
    out = []
    for i in range(minutes):
        base = 70 + 40 * math.sin((i / 1440) * 2 * math.pi - 1.2)
        if dusty and 600 <= i % 1440 < 780:
            base += 120
        out.append(round(max(1.0, base + rng.gauss(0, 12)), 1))
    return out


def series(values: list[float], metric: str = "pm10", source: str = "") -> list[Reading]:
    return [
        Reading(START + timedelta(minutes=i), metric, v, "N", source) for i, v in enumerate(values)
    ]


def full_evaluation(devices: int, minutes: int, *, batched: bool = False) -> dict[str, Any]:
    """Every device's day judged by both rules: the pure reference implementation
    (``evaluate_windows``), or ``batched`` as a live round judges (``judge.Judge``: each
    time stamp placed in its window once, the reference bucketed once). Same results."""
    from dustgrid.alerts.engine.judge import Judge
    from dustgrid.alerts.engine.values import Value

    rng = random.Random(1)
    reference = series(
        [round(60 + 20 * math.sin(i / 229), 1) for i in range(minutes)], source="REF"
    )
    context = EvalContext(tz=TZ)
    windows = episodes = 0
    elapsed = 0.0
    judges = [Judge(rule, TZ) for rule in RULES]
    refs = [j.bucket(Value(r.time, r.value, True, "N") for r in reference) for j in judges]
    for _ in range(devices):
        readings = series(pm10_day(rng, minutes))
        values = [Value(r.time, r.value, True, "N") for r in readings] if batched else []
        t0 = time.process_time()
        for rule, judge, ref in zip(RULES, judges, refs, strict=True):
            if batched:
                results = judge.windows(judge.bucket(values), ref, context)
            else:
                results = evaluate_windows(rule, readings, reference, context)
            day_verdicts(rule, results, TZ)
            episodes += len(alert_episodes(rule, results))
            windows += len(results)
        elapsed += time.process_time() - t0
    n = devices * minutes
    return {
        "seconds": elapsed,
        "readings": n,
        "windows": windows,
        "episodes": episodes,
        "us_per_reading": elapsed / n * 1e6,
    }


def _frame_readings(values: list[float]) -> list[list[Reading]]:
    """Per minute the ten readings a frame carries (PM10 from ``values``)."""
    frames = []
    for i, v in enumerate(values):
        t = START + timedelta(minutes=i)
        frames.append([Reading(t, "pm10", v)] + [Reading(t, m, 50.0) for m in OTHER_METRICS])
    return frames


def incremental_streaming(sample: int, minutes: int) -> dict[str, Any]:
    rng = random.Random(2)
    elapsed, fed, transitions = 0.0, 0, 0
    for _ in range(sample):
        frames = _frame_readings(pm10_day(rng, minutes))
        evaluators = [IncrementalEvaluator(rule, context=EvalContext(tz=TZ)) for rule in RULES]
        t0 = time.process_time()
        for frame in frames:
            for r in frame:
                for ev in evaluators:
                    transitions += len(ev.add_reading(r))
                fed += 1
        elapsed += time.process_time() - t0
    return {"us_per_reading": elapsed / fed * 1e6, "readings": fed, "transitions": transitions}


def incremental_window_close(sample: int, minutes: int) -> dict[str, Any]:
    """Per reading: one bucket append; per closed window: one judgement and one step of the
    raise/clear counters (``evaluate_window`` + ``rules._scan``), as the platform does."""
    rng = random.Random(3)
    context = EvalContext(tz=TZ)
    ref_value = [60.0]
    elapsed, fed, steps = 0.0, 0, 0
    for _ in range(sample):
        frames = _frame_readings(pm10_day(rng, minutes))
        state: list[Any] = [[rule, _ScanState(), rule.window_minutes * 60, {}] for rule in RULES]
        t0 = time.process_time()
        for frame in frames:
            epoch = int(frame[0].time.timestamp())
            for r in frame:
                fed += 1
                for slot in state:
                    rule, scan, width, buckets = slot
                    if r.metric != rule.metric:
                        continue
                    key = epoch - epoch % width  # Asia/Shanghai: a whole-hour offset
                    bucket = buckets.get(key)
                    if bucket is None:
                        for old in [k for k in buckets if k < key]:
                            start = datetime.fromtimestamp(old, UTC).astimezone(TZ)
                            result = evaluate_window(
                                rule, start, buckets.pop(old), ref_value, context
                            )
                            if result is not None:
                                slot[1], _eps = _scan(scan, [result], rule, "")
                                steps += 1
                        bucket = buckets[key] = []
                    bucket.append(r.value)
        elapsed += time.process_time() - t0
    return {"us_per_reading": elapsed / fed * 1e6, "readings": fed, "windows": steps}


def _city(session: Any, devices: int) -> list[Any]:
    """A district, its bureau, ``devices`` sites with one dust monitor each, a reference
    station, and the two rules as the city's settings. Returns the devices' ``DeviceInfo``
    (the reference station last)."""
    from dustgrid.alerts.models import AlertProfileSetting
    from dustgrid.devices.models import Device, DeviceKind, Lifecycle
    from dustgrid.ingest.hj212.devicecache import DeviceInfo
    from dustgrid.org.models import UNIT_LEVEL, District, OrgUnit, UnitKind
    from dustgrid.sites.models import Site, SiteKind, Stage

    d = District(code="999999", name="基准区", name_en="Bench", boundary=None)
    session.add(d)
    session.flush()
    unit = OrgUnit(
        name="基准区建设局",
        kind=UnitKind.district_bureau,
        level=UNIT_LEVEL[UnitKind.district_bureau],
        district_id=d.id,
    )
    session.add(unit)
    session.flush()
    for version, rule in enumerate(RULES, start=1):
        tuning = {k: getattr(rule, k) for k in rule.tuned}
        session.add(
            AlertProfileSetting(
                profile_id=rule.id,
                version=version,
                enabled=True,
                tuning=tuning,
                note="",
                active_key=rule.id,
            )
        )
    infos = []
    for i in range(devices + 1):
        site_id = None
        if i < devices:
            site = Site(
                project_code=f"B-{i:05d}",
                name=f"工地 {i}",
                kind=SiteKind.housing,
                district_id=d.id,
                l2_unit_id=unit.id,
                lat=41.8,
                lon=123.4,
                gcj_lat=41.8,
                gcj_lon=123.4,
                stage=Stage.structure,
            )
            session.add(site)
            session.flush()
            site_id = site.id
        kind = DeviceKind.dust_monitor if i < devices else DeviceKind.reference_station
        dev = Device(
            mn=f"BENCH{i:08d}",
            kind=kind,
            site_id=site_id,
            district_id=d.id,
            password="123456",
            lifecycle=Lifecycle.active,
        )
        session.add(dev)
        session.flush()
        infos.append(DeviceInfo(dev.id, dev.mn, "123456", "ug/m3", False, None, False))
    session.commit()
    return infos


def ingest_and_platform(devices: int, minutes: int, path: Path) -> dict[str, Any]:
    """Step 2 and 3c on one SQLite database: frames minute by minute through the ingest
    path; after every minute one round of the platform's evaluator, as its worker runs it
    (both rules; most rounds find nothing due; the roll-up refresh before each is the
    roll-up worker's cost, not the rules', and is not counted). A first round before any
    data creates the evaluator's state."""
    from sqlalchemy.orm import Session

    from dustgrid import migrate
    from dustgrid.alerts.evaluate import evaluate_exceedances
    from dustgrid.alerts.policy import AlertPolicy
    from dustgrid.alerts.tasks import LiveEvaluator
    from dustgrid.db import make_engine
    from dustgrid.ingest.hj212 import DataItem, build_data_frame, decode, make_qn
    from dustgrid.ingest.hj212.rows import frame_rows
    from dustgrid.telemetry.rollups import refresh_rollups
    from dustgrid.telemetry.store import write_readings

    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        infos = _city(s, devices)
    rng = random.Random(4)
    curves = [pm10_day(rng, minutes) for _ in infos[:-1]] + [[60.0] * minutes]
    local_start = START.replace(tzinfo=None)
    frames_by_minute = []
    for m in range(minutes):
        t = local_start + timedelta(minutes=m)
        frames = []
        for info, curve in zip(infos, curves, strict=True):
            items = [
                DataItem(code, "rtd", f"{curve[m] if metric == 'pm10' else base:.1f}", "N")
                for code, (metric, base) in CODES.items()
            ]
            frames.append(
                build_data_frame(
                    mn=info.mn, pw="123456", st="39", data_time=t, qn=make_qn(t), items=items
                )
            )
        frames_by_minute.append(frames)
    policy = AlertPolicy(settle=timedelta(0))
    live = LiveEvaluator(policy)  # what the worker runs every minute
    ingest_s = rules_s = 0.0
    ingested = windows = rounds = 0
    stats: Counter[str] = Counter()
    with Session(engine) as s:
        evaluate_exceedances(s, now=START.astimezone(UTC), tz=TZ, policy=policy)
        s.commit()
        for m, frames in enumerate(frames_by_minute):
            now = (START + timedelta(minutes=m)).astimezone(UTC)
            t0 = time.process_time()
            batch = []
            for raw, info in zip(frames, infos, strict=True):
                rows, _seen, _problems = frame_rows(decode(raw), info, tz=TZ, now=now, stats=stats)
                batch += rows
            for i in range(0, len(batch), 2000):
                write_readings(s.connection(), batch[i : i + 2000])
                s.commit()
            ingest_s += time.process_time() - t0
            ingested += len(batch)
            tick = now + timedelta(minutes=1)  # the worker's minute; roll-ups refreshed first
            refresh_rollups(s, now=tick, tz=TZ)
            s.commit()
            t0 = time.process_time()
            report = live.round(s, now=tick, tz=TZ)
            s.commit()
            rules_s += time.process_time() - t0
            windows += report.windows if report is not None else 0
            rounds += 1
    engine.dispose()
    return {
        "ingest_us": ingest_s / ingested * 1e6,
        "readings": ingested,
        "rules_s": rules_s,
        "rounds": rounds,
        "windows": windows,
        "platform_us": rules_s / ingested * 1e6,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=10_000, help="full evaluation: devices")
    ap.add_argument("--minutes", type=int, default=1440, help="minute data per device")
    ap.add_argument("--sample", type=int, default=200, help="devices for the per-reading costs")
    ap.add_argument("--db-devices", type=int, default=200, help="devices on the SQLite database")
    ap.add_argument("--db-minutes", type=int, default=60, help="minutes written to the database")
    args = ap.parse_args(argv)
    from dustgrid.ingest.hj212.codec import ACCELERATED

    codec = "C accelerator" if ACCELERATED else "pure Python (no accelerator built)"
    for line in machine_lines(
        [
            (
                "sizes",
                f"{args.devices} devices x {args.minutes} min; "
                f"sample {args.sample}; db {args.db_devices} x {args.db_minutes} min",
            ),
            ("hj212 codec", codec),
        ]
    ):
        print(line)
    print(f"rules: {', '.join(f'{r.id} ({r.window_minutes} min, {r.kind})' for r in RULES)}\n")

    for label, batched in (("1a. full, pure engine ", False), ("1b. full, batched     ", True)):
        full = full_evaluation(args.devices, args.minutes, batched=batched)
        print(
            f"{label}: {full['seconds']:.1f} s for {full['readings']:,} readings "
            f"({full['us_per_reading']:.2f} µs/reading, both rules); {full['windows']:,} "
            f"windows, {full['episodes']:,} alert episodes"
        )
    with tempfile.TemporaryDirectory() as tmp:
        db = ingest_and_platform(args.db_devices, args.db_minutes, Path(tmp) / "bench.db")
    base = db["ingest_us"]
    print(
        f"2. ingest baseline     : {base:.2f} µs/reading (decode + frame_rows + write_readings, "
        f"SQLite, {db['readings']:,} readings)"
    )
    streaming = incremental_streaming(args.sample, args.minutes)
    closing = incremental_window_close(args.sample, args.minutes)
    rows = [
        ("3a. pure streaming API", streaming["us_per_reading"]),
        ("3b. per-window close  ", closing["us_per_reading"]),
        ("3c. platform evaluator", db["platform_us"]),
    ]
    for name, us in rows:
        ratio = us / base if base else float("nan")
        verdict = "meets" if ratio <= GOAL else "MISSES"
        print(
            f"{name}: {us:.3f} µs/reading = {ratio:.1%} of ingest -> {verdict} the {GOAL:.0%} goal"
        )
    print(
        f"    (3c: {db['rounds']} rounds judged {db['windows']:,} windows in "
        f"{db['rules_s'] * 1000:.0f} ms; {db['rules_s'] / max(db['rounds'], 1) * 1000:.0f} ms "
        f"a round for {args.db_devices} sites)"
    )


if __name__ == "__main__":
    sys.exit(main())
