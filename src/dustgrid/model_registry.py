"""Imports every domain's tables so the metadata is complete (Alembic and tests use it)."""

from __future__ import annotations

from dustgrid.alerts import models as alert_models  # noqa: F401
from dustgrid.assessments import models as assessment_models  # noqa: F401
from dustgrid.audit import models as audit_models  # noqa: F401
from dustgrid.auth import models as auth_models  # noqa: F401
from dustgrid.cases import models as case_models  # noqa: F401
from dustgrid.cases.credit import models as case_credit_models  # noqa: F401
from dustgrid.devices import models as device_models  # noqa: F401
from dustgrid.emergencies import models as emergency_models  # noqa: F401
from dustgrid.grids import models as grid_models  # noqa: F401
from dustgrid.identity import models as identity_models  # noqa: F401
from dustgrid.ingest.deadletter import models as dead_letter_models  # noqa: F401
from dustgrid.inspections import models as inspection_models  # noqa: F401
from dustgrid.inspections.grading import models as grading_models  # noqa: F401
from dustgrid.intake import models as intake_models  # noqa: F401
from dustgrid.models import Base
from dustgrid.notifications import models as notification_models  # noqa: F401
from dustgrid.org import models as org_models  # noqa: F401
from dustgrid.outbox import models as outbox_models  # noqa: F401
from dustgrid.patrols import models as patrol_models  # noqa: F401
from dustgrid.reports import models as report_models  # noqa: F401
from dustgrid.sites import models as site_models  # noqa: F401
from dustgrid.telemetry import models as telemetry_models  # noqa: F401
from dustgrid.trajectories import models as trajectory_models  # noqa: F401

metadata = Base.metadata
