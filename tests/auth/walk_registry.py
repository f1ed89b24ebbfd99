"""Routes walked by other domains' scope tests (each domain adds its own set here)."""

from __future__ import annotations

AUTH_ROUTES = {
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/auth/me"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
}


def walked_elsewhere() -> set[tuple[str, str]]:
    from tests.alerts import test_alert_api
    from tests.assessments import test_assessment_api
    from tests.auth import test_accounts, test_auth, test_sessions
    from tests.cases import test_case_api
    from tests.devices import test_device_api, test_mandatory_job
    from tests.emergencies import test_emergency_api
    from tests.grids import test_grid_api
    from tests.ingest.http import test_http_ingest_checks
    from tests.inspections import test_inspection_api
    from tests.intake import test_intake_api
    from tests.org import test_org_api
    from tests.overview import test_overview
    from tests.patrols import test_patrol_api
    from tests.reports import test_reports_api
    from tests.telemetry import test_telemetry_api
    from tests.trajectories import test_traj_scope
    from tests.web import test_map_api, test_site_picker

    routes = set(AUTH_ROUTES)
    modules = (
        test_alert_api,
        test_assessment_api,
        test_accounts,
        test_auth,
        test_sessions,
        test_case_api,
        test_device_api,
        test_emergency_api,
        test_grid_api,
        test_http_ingest_checks,
        test_inspection_api,
        test_intake_api,
        test_org_api,
        test_overview,
        test_patrol_api,
        test_telemetry_api,
        test_map_api,
        test_site_picker,
        test_mandatory_job,
        test_traj_scope,
        test_reports_api,
    )
    for module in modules:
        routes |= set(getattr(module, "WALKED", set()))
    return routes
