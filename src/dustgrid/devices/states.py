"""The device onboarding state table (pure: no database, no web; like ``cases/states.py``).

An onboarding application (seed 003) moves review → device test → installation; each
step either passes or fails, and moves the application and every device on its list
together. ``TRANSITIONS`` is the whole table: the state a step needs, the state it leaves
the application in and the lifecycle it gives the devices. ``plan_step`` looks a step up
(409 ``Conflict`` naming the state the step needs when the application is elsewhere).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from dustgrid.errors import Conflict
from dustgrid.i18n import Msg


class Lifecycle(enum.StrEnum):
    """A device's place in its life."""

    applied = "applied"  # 已申请
    approved = "approved"  # 审核通过, awaiting device test
    tested = "tested"  # 检测通过, awaiting installation
    active = "active"  # 已接入
    rejected = "rejected"
    removed = "removed"  # 已拆除


class ApplicationStatus(enum.StrEnum):
    """An onboarding application's place in the procedure."""

    submitted = "submitted"
    approved = "approved"
    rejected = "rejected"
    tested = "tested"
    test_failed = "test_failed"  # the devices failed the test: a new application is needed
    completed = "completed"


class Step(enum.StrEnum):
    """The steps an officer takes on an application."""

    review = "review"
    test = "test"
    install = "install"


# Where a new application and the devices of its list start.
INITIAL_STATUS = ApplicationStatus.submitted
INITIAL_LIFECYCLE = Lifecycle.applied


@dataclass(frozen=True)
class OnboardingMove:
    """One row of the table: ``step`` with outcome ``passed`` from ``from_status``."""

    step: Step
    passed: bool
    from_status: ApplicationStatus
    to_status: ApplicationStatus
    devices_to: Lifecycle


_S, _L = ApplicationStatus, Lifecycle

TRANSITIONS: Mapping[tuple[Step, bool], OnboardingMove] = {
    (m.step, m.passed): m
    for m in (
        OnboardingMove(Step.review, True, _S.submitted, _S.approved, _L.approved),
        OnboardingMove(Step.review, False, _S.submitted, _S.rejected, _L.rejected),
        OnboardingMove(Step.test, True, _S.approved, _S.tested, _L.tested),
        OnboardingMove(Step.test, False, _S.approved, _S.test_failed, _L.rejected),
        OnboardingMove(Step.install, True, _S.tested, _S.completed, _L.active),
    )
}

# Applications no step moves any more.
FINAL_STATUSES = frozenset(ApplicationStatus) - {m.from_status for m in TRANSITIONS.values()}


def plan_step(status: ApplicationStatus, step: Step, *, passed: bool = True) -> OnboardingMove:
    """The move ``step`` makes from ``status``; 409 when the application is not where the
    step starts (or the step has no such outcome)."""
    move = TRANSITIONS.get((step, passed))
    if move is None:
        raise ValueError(f"no {'passing' if passed else 'failing'} outcome for step {step}")
    if status != move.from_status:
        raise Conflict(
            "devices.error.application_step_needs",
            status=Msg(f"app_status.{status.value}"),
            needed=Msg(f"app_status.{move.from_status.value}"),
        )
    return move
