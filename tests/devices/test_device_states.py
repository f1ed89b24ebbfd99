"""The device onboarding state table, pure: no database, no app."""

from __future__ import annotations

import pytest

from dustgrid.devices.states import (
    FINAL_STATUSES,
    INITIAL_LIFECYCLE,
    INITIAL_STATUS,
    TRANSITIONS,
    ApplicationStatus,
    Lifecycle,
    Step,
    plan_step,
)
from dustgrid.errors import Conflict
from dustgrid.i18n import translate

S, L = ApplicationStatus, Lifecycle


@pytest.mark.parametrize(
    ("status", "step", "passed", "to_status", "devices_to"),
    [
        (S.submitted, Step.review, True, S.approved, L.approved),
        (S.submitted, Step.review, False, S.rejected, L.rejected),
        (S.approved, Step.test, True, S.tested, L.tested),
        (S.approved, Step.test, False, S.test_failed, L.rejected),
        (S.tested, Step.install, True, S.completed, L.active),
    ],
)
def test_each_step_moves_the_application_and_its_devices(
    status: ApplicationStatus, step: Step, passed: bool, to_status: S, devices_to: L
) -> None:
    move = plan_step(status, step, passed=passed)
    assert (move.to_status, move.devices_to) == (to_status, devices_to)


def test_the_table_is_exactly_the_procedure_of_seed_003() -> None:
    assert len(TRANSITIONS) == 5
    assert (S.submitted, L.applied) == (INITIAL_STATUS, INITIAL_LIFECYCLE)
    assert {S.rejected, S.test_failed, S.completed} == FINAL_STATUSES


WRONG_STATE = [
    (status, step)
    for step in Step
    for status in ApplicationStatus
    if status != TRANSITIONS[(step, True)].from_status
]


@pytest.mark.parametrize(("status", "step"), WRONG_STATE)
def test_a_step_from_the_wrong_state_is_a_conflict_naming_both(
    status: ApplicationStatus, step: Step
) -> None:
    needed = TRANSITIONS[(step, True)].from_status
    with pytest.raises(Conflict) as err:
        plan_step(status, step)
    said = err.value.text("en")
    assert f"The application is “{translate(f'app_status.{status.value}', 'en')}”" in said
    assert f"this step needs “{translate(f'app_status.{needed.value}', 'en')}”" in said
    assert translate(f"app_status.{needed.value}", "zh-CN") in err.value.message


@pytest.mark.parametrize("status", sorted(FINAL_STATUSES))
def test_no_step_leaves_a_final_state(status: ApplicationStatus) -> None:
    for step, passed in TRANSITIONS:
        with pytest.raises(Conflict):
            plan_step(status, step, passed=passed)


def test_installation_has_no_failing_outcome() -> None:
    with pytest.raises(ValueError, match="install"):
        plan_step(S.tested, Step.install, passed=False)
