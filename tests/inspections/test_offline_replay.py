"""A visit queued on the phone and sent later, maybe more than once: the check-in keeps the
phone's time (within ``CheckInPolicy.max_client_age``), photos and the submit are stored
once however often the queue replays them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dustgrid.cases.models import Case
from dustgrid.inspections.models import Inspection, InspectionPhoto
from dustgrid.inspections.policy import DEFAULT_CHECK_IN_POLICY
from tests.fixtures.city import City
from tests.inspections.photo_kit import jpeg
from tests.inspections.test_inspection_api import INSIDE, Api, _key, answers, check_in


def test_a_queued_check_in_keeps_the_phones_time_within_the_window(api_as: Api, city: City) -> None:
    c = api_as("insp_hp1")
    window = DEFAULT_CHECK_IN_POLICY.max_client_age
    assert window == timedelta(hours=72)
    then = datetime.now(UTC) - window + timedelta(hours=1)
    ok = check_in(c, city.sites["HP-001"], checked_in_at=then.isoformat())
    assert ok.status_code == 201, ok.text
    kept = datetime.fromisoformat(ok.json()["checked_in_at"])
    assert abs(kept - then) < timedelta(seconds=1)  # the phone's time, not the arrival's
    too_old = datetime.now(UTC) - window - timedelta(hours=1)
    old = check_in(c, city.sites["HP-002"], checked_in_at=too_old.isoformat())
    assert old.status_code == 422 and "checked_in_at" in old.text and "72" in old.text


def test_a_replayed_visit_stores_one_visit_one_photo_and_one_case(
    api_as: Api, city: City, db: Session
) -> None:
    c = api_as("insp_hp1")
    key = _key()
    shot = jpeg(taken=datetime.now(UTC), lat=INSIDE[0], lon=INSIDE[1])
    body = {"answers": answers(c, {"hoarding": "围挡破损"}), "note": ""}

    def send() -> dict:  # type: ignore[type-arg]
        visit = check_in(c, city.sites["HP-001"], idempotency_key=key).json()
        url = f"/api/v1/inspections/{visit['id']}"
        up = c.post(
            f"{url}/photos",
            data={"item_code": "hoarding"},
            files={"photo": ("IMG_0001.jpg", shot, "image/jpeg")},
        )
        assert up.status_code in (200, 201), up.text
        done = c.post(f"{url}/submit", json=body)
        assert done.status_code == 200, done.text
        return done.json()  # type: ignore[no-any-return]

    first = send()
    again = send()  # the answer was lost on the way back: the queue sends it all again
    assert again["id"] == first["id"]
    count = func.count()
    assert (
        db.scalar(
            select(count).select_from(Inspection).where(Inspection.site_id == city.sites["HP-001"])
        )
        == 1
    )
    assert (
        db.scalar(
            select(count)
            .select_from(InspectionPhoto)
            .where(InspectionPhoto.inspection_id == first["id"])
        )
        == 1
    )
    assert (
        db.scalar(select(count).select_from(Case).where(Case.site_id == city.sites["HP-001"])) == 1
    )
    # a different photo after the submit is still refused: the visit is closed
    late = c.post(
        f"/api/v1/inspections/{first['id']}/photos",
        data={"item_code": "hoarding"},
        files={"photo": ("IMG_0002.jpg", jpeg(), "image/jpeg")},
    )
    assert late.status_code == 409
