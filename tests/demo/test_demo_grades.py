"""The demo city's grades come from the grading rule, with a visit and a history row each."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid import migrate
from dustgrid.db import make_engine
from dustgrid.demo.city import build_demo
from dustgrid.inspections.grading import service as grading
from dustgrid.inspections.grading.models import SiteGradeHistory
from dustgrid.inspections.models import Inspection
from dustgrid.sites.models import Grade, Site

TODAY_NOON = datetime(2026, 5, 20, 4, 0, tzinfo=UTC)


def test_every_demo_grade_is_what_the_rule_says(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'grades.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with Session(engine) as s:
        build_demo(s, seed=3, n_sites=120, today=TODAY_NOON.date())
        s.commit()
        sites = s.scalars(select(Site)).all()
        grades = Counter(site.grade for site in sites)
        assert set(grades) == set(Grade)  # all four grades show on the map
        visits = s.scalar(select(func.count()).select_from(Inspection))
        rows = s.scalar(select(func.count()).select_from(SiteGradeHistory))
        # one grading visit and history row per graded site, plus the week's routine
        # visits (nothing found) at fully compliant sites
        # (a routine visit may add a history row: same grade, newer reasons)
        assert rows is not None and rows >= len(sites) - grades[Grade.ungraded]
        assert visits is not None and visits > len(sites) - grades[Grade.ungraded]
        for site in sites:
            verdict = grading.verdict_for(s, site.id, now=TODAY_NOON)
            assert verdict.grade.value == site.grade.value, site.project_code
            if site.grade != Grade.ungraded:
                assert site.graded_at is not None
                assert TODAY_NOON - site.graded_at < timedelta(days=16)
            # a regrade now finds nothing to change
            assert grading.regrade_site(s, site.id, now=TODAY_NOON) is None
    engine.dispose()
