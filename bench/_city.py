"""What the load benchmarks need in the demo city besides what `dustgrid demo` loads."""

from __future__ import annotations

from typing import Any

CATEGORIES = ("bare_soil_cover", "road_hardening", "tyre_washing", "material_cover", "hoarding")


def ensure_cases(api: Any, wanted: int = 300) -> int:
    """Open cases at the first ``wanted`` sites (as the city admin, 上级交办) unless the city
    already has that many: the demo city starts with none, and the case list, a case and its
    page are among the measured requests. ``api`` is an authenticated client (sync)."""
    have = int(api.get("/api/v1/cases", params={"page_size": 1}).json()["total"])
    page, made = 1, 0
    while have + made < wanted:
        sites = api.get("/api/v1/sites", params={"page": page, "page_size": 100}).json()["items"]
        if not sites:
            break
        for i, site in enumerate(sites):
            if have + made >= wanted:
                break
            answer = api.post(
                "/api/v1/cases",
                data={
                    "source": "higher_assignment",
                    "category": CATEGORIES[i % len(CATEGORIES)],
                    "description": "负载测试：现场扬尘防治措施落实情况核查",
                    "site_id": str(site["id"]),
                },
            )
            if answer.status_code != 201:
                raise SystemExit(f"could not open a case: {answer.status_code} {answer.text[:300]}")
            made += 1
        page += 1
    return made
