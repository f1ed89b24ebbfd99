"""Routes walked by other domains' scope tests (each domain adds its own set here)."""

from __future__ import annotations

AUTH_ROUTES = {
    ("POST", "/api/v1/auth/token"),
    ("GET", "/api/v1/auth/me"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
}


def walked_elsewhere() -> set[tuple[str, str]]:
    from tests.auth import test_auth
    from tests.grids import test_grid_api
    from tests.org import test_org_api

    routes = set(AUTH_ROUTES)
    for module in (test_auth, test_grid_api, test_org_api):
        routes |= set(getattr(module, "WALKED", set()))
    return routes
