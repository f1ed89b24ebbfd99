"""The onboarding steps of an application as a timeline with due dates and lights.

Pure: it reads an application's dates (anything with the attributes of
``OnboardingApplication``) and today's date, and returns plain data the device page and the
application page draw (domain.md §7: application → review → test → installation → online).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from dustgrid.devices.policy import CALENDAR, local_date
from dustgrid.workcal.calendar import WorkCalendar


class StepState(enum.StrEnum):
    done = "done"
    pending = "pending"  # the current step
    waiting = "waiting"  # not reached yet
    failed = "failed"
    skipped = "skipped"  # never reached: an earlier step failed


class Light(enum.StrEnum):
    green = "green"
    yellow = "yellow"  # due today
    red = "red"  # overdue, done late, or failed
    none = "none"  # no due date


class ApplicationLike(Protocol):
    @property
    def status(self) -> str: ...
    @property
    def submitted_at(self) -> datetime: ...
    @property
    def reviewed_at(self) -> datetime | None: ...
    @property
    def test_due_date(self) -> date | None: ...
    @property
    def tested_at(self) -> datetime | None: ...
    @property
    def install_due_date(self) -> date | None: ...
    @property
    def installed_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Step:
    key: str  # applied, review, test, install, online
    state: StepState
    light: Light
    due_date: date | None = None
    done_at: datetime | None = None
    late: bool = False


STEP_KEYS = ("applied", "review", "test", "install", "online")


def light_for(
    due: date | None, *, done_on: date | None, today: date, failed: bool = False
) -> Light:
    """Green while in time, yellow on the due day, red when overdue or done late."""
    if failed:
        return Light.red
    if due is None:
        return Light.none
    if done_on is not None:
        return Light.green if done_on <= due else Light.red
    if today < due:
        return Light.green
    return Light.yellow if today == due else Light.red


def _dated(
    key: str,
    state: StepState,
    due: date | None,
    done_at: datetime | None,
    today: date,
    calendar: WorkCalendar,
) -> Step:
    done_on = local_date(done_at, calendar) if done_at is not None else None
    failed = state is StepState.failed
    if state in (StepState.waiting, StepState.skipped):
        return Step(key, state, Light.none, due, done_at)
    light = light_for(due, done_on=done_on, today=today, failed=failed)
    late = due is not None and done_on is not None and done_on > due
    return Step(key, state, light, due, done_at, late)


def _review_state(*, rejected: bool, reviewed: bool) -> StepState:
    """The review step: failed on rejection, done once a reviewer decided."""
    if rejected:
        return StepState.failed
    return StepState.done if reviewed else StepState.pending


# Each later step's state by application status; a status not listed leaves the step waiting.
_TEST_STATES = {
    "rejected": StepState.skipped,
    "test_failed": StepState.failed,
    "tested": StepState.done,
    "completed": StepState.done,
    "approved": StepState.pending,
}
_INSTALL_STATES = {
    "rejected": StepState.skipped,
    "test_failed": StepState.skipped,
    "completed": StepState.done,
    "tested": StepState.pending,
}


def _test_state(status: str) -> StepState:
    """The acceptance-test step, from the application status alone."""
    return _TEST_STATES.get(status, StepState.waiting)


def _install_state(status: str) -> StepState:
    """The installation step, from the application status alone."""
    return _INSTALL_STATES.get(status, StepState.waiting)


def _online_state(status: str, online_seen: bool | None) -> StepState:
    """The online step: only a completed application waits on the device's first report."""
    if status in ("rejected", "test_failed"):
        return StepState.skipped
    if status != "completed":
        return StepState.waiting
    return StepState.done if online_seen else StepState.pending


def steps(
    app: ApplicationLike,
    *,
    today: date,
    online_seen: bool | None = None,
    calendar: WorkCalendar = CALENDAR,
) -> list[Step]:
    """The five steps in order. ``online_seen``: whether the device (or all devices of the
    application) has reported since installation; ``None`` when unknown."""
    status = str(getattr(app.status, "value", app.status))
    rejected = status == "rejected"
    out = [Step("applied", StepState.done, Light.none, None, app.submitted_at)]

    review = _review_state(rejected=rejected, reviewed=app.reviewed_at is not None)
    out.append(Step("review", review, Light.red if rejected else Light.none, None, app.reviewed_at))

    test = _test_state(status)
    out.append(_dated("test", test, app.test_due_date, app.tested_at, today, calendar))

    install = _install_state(status)
    out.append(_dated("install", install, app.install_due_date, app.installed_at, today, calendar))

    online = _online_state(status, online_seen)
    out.append(Step("online", online, Light.none))
    return out
