"""The city's settings of its 12319 desk, changed by the city admin (L1) and audited.

``district_opens_cases`` (default off): a district admin (L2) may open a case from a
complaint they see (their district's). Off, the city opens cases from complaints and
dispatches them as before; districts may still merge a complaint into an open case.
Never commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from dustgrid.audit import service as audit
from dustgrid.errors import Forbidden
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Role
from dustgrid.intake import repository as repo
from dustgrid.intake.models import HotlineSetting
from dustgrid.models import utcnow

#: The roles ``district_opens_cases`` lets open a case from a complaint (besides L1).
DISTRICT_OPENERS = frozenset({Role.district_admin})


def current(session: Session) -> HotlineSetting | None:
    """The stored settings row (None until the city admin first changes a setting)."""
    return repo.hotline_setting(session)


def district_opens_cases(session: Session) -> bool:
    row = repo.hotline_setting(session)
    return bool(row and row.district_opens_cases)


def may_change(principal: Principal) -> bool:
    return principal.role == Role.city_admin


def set_district_opens_cases(
    session: Session, principal: Principal, allowed: bool, *, now: datetime | None = None
) -> HotlineSetting:
    """Turn the setting on or off (city admin only); a change is audited, no change is not."""
    if not may_change(principal):
        raise Forbidden("hotline.error.settings_city_only")
    row = repo.hotline_setting(session, lock=True)
    before = bool(row and row.district_opens_cases)
    if row is None:
        row = HotlineSetting(id=1, district_opens_cases=False)
        session.add(row)
    if before != allowed:
        row.district_opens_cases = allowed
        row.updated_at = now or utcnow()
        row.updated_by_id = principal.user_id
        session.flush()
        audit.record(session, actor=principal, action="hotline.settings",
                     entity_type="hotline_setting", entity_id=row.id,
                     changes={"district_opens_cases": [before, allowed]},
                     summary="区级由投诉立案：" + ("允许" if allowed else "不允许"))  # fmt: skip
    session.flush()
    return row
