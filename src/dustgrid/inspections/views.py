"""API shapes built from service results (labels in the caller's locale)."""

from __future__ import annotations

from dustgrid.cases.categories import category_label
from dustgrid.inspections import service
from dustgrid.inspections.checklist import ChecklistTemplate
from dustgrid.inspections.models import Inspection, InspectionPhoto
from dustgrid.inspections.schemas import (
    CaseRef,
    ChecklistItemOut,
    ChecklistOut,
    InspectionDetail,
    InspectionOut,
    ItemOut,
    PhotoOut,
)


def checklist_out(template: ChecklistTemplate, locale: str) -> ChecklistOut:
    return ChecklistOut(
        version=template.version,
        quarter=template.quarter,
        items=[
            ChecklistItemOut(
                code=i.code,
                label=service.item_label(i.code, locale),
                seasonal=i.seasonal,
                defect=i.defect,
                defect_label=category_label(i.defect, locale),
            )
            for i in template.items
        ],
    )


def inspection_out(
    row: Inspection, *, site_name: str = "", inspector_name: str = ""
) -> InspectionOut:
    return InspectionOut(
        id=row.id,
        idempotency_key=row.idempotency_key,
        site_id=row.site_id,
        site_name=site_name,
        inspector_id=row.inspector_id,
        inspector_name=inspector_name,
        group_id=row.group_id,
        mode=row.mode,
        result=row.result.value,
        template_version=row.template_version,
        checked_in_at=row.checked_in_at,
        submitted_at=row.submitted_at,
        check_in_lat=row.check_in_lat,
        check_in_lon=row.check_in_lon,
        check_in_accuracy_m=row.check_in_accuracy_m,
        check_in_distance_m=row.check_in_distance_m,
        note=row.note,
    )


def photo_out(ph: InspectionPhoto, locale: str) -> PhotoOut:
    flags = ph.flags.split() if ph.flags else []
    base = f"/api/v1/inspections/{ph.inspection_id}/photos/{ph.id}"
    return PhotoOut(
        id=ph.id,
        item_code=ph.item_code,
        flags=flags,
        flag_labels=[service.flag_label(f, locale) for f in flags],
        exif_taken_at=ph.exif_taken_at,
        exif_lat=ph.exif_lat,
        exif_lon=ph.exif_lon,
        url=base,
        original_url=f"{base}?original=true",
    )


def detail_out(v: service.Visit, locale: str) -> InspectionDetail:
    base = inspection_out(v.inspection, site_name=v.site.name, inspector_name=v.inspector_name)
    return InspectionDetail(
        **base.model_dump(),
        items=[
            ItemOut(
                item_code=i.item_code,
                label=service.item_label(i.item_code, locale),
                outcome=i.outcome,
                note=i.note,
                case_id=i.case_id,
            )
            for i in v.items
        ],
        photos=[photo_out(ph, locale) for ph in v.photos],
        cases=[
            CaseRef(
                id=c.id,
                category=c.category,
                category_label=category_label(c.category, locale),
                state=c.state.value,
            )
            for c in v.cases
        ],
    )
