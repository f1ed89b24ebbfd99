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
    test_failed = status == "test_failed"
    out = [Step("applied", StepState.done, Light.none, None, app.submitted_at)]

    if rejected:
        review = StepState.failed
    elif app.reviewed_at is not None:
        review = StepState.done
    else:
        review = StepState.pending
    out.append(Step("review", review, Light.red if rejected else Light.none, None, app.reviewed_at))

    if rejected:
        test = StepState.skipped
    elif test_failed:
        test = StepState.failed
    elif status in ("tested", "completed"):
        test = StepState.done
    elif status == "approved":
        test = StepState.pending
    else:
        test = StepState.waiting
    out.append(_dated("test", test, app.test_due_date, app.tested_at, today, calendar))

    if rejected or test_failed:
        install = StepState.skipped
    elif status == "completed":
        install = StepState.done
    elif status == "tested":
        install = StepState.pending
    else:
        install = StepState.waiting
    out.append(_dated("install", install, app.install_due_date, app.installed_at, today, calendar))

    if rejected or test_failed:
        online = StepState.skipped
    elif status != "completed":
        online = StepState.waiting
    else:
        online = StepState.done if online_seen else StepState.pending
    out.append(Step("online", online, Light.none))
    return out
