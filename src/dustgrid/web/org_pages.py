"""Pages of the organisation and grids: the unit tree, the grid list and the grid page.

Forms post back here with the CSRF token; a refused change (422/409) rolls back to a
savepoint and returns to the page with the message as a one-time flash in the session,
while 403/404 show the error page like any other page.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from dustgrid.auth.deps import CurrentPrincipal, DbSession, check_csrf
from dustgrid.grids import layout
from dustgrid.grids import service as grids
from dustgrid.grids.models import GridKind
from dustgrid.grids.schemas import GridCreate, GroupCreate
from dustgrid.i18n import translate
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.org import service as org
from dustgrid.org.models import UnitKind
from dustgrid.org.schemas import UnitCreate, UnitNode
from dustgrid.pagination import PageParams, page_params
from dustgrid.reports import archives
from dustgrid.routing import Router
from dustgrid.web.forms import attempt, flash, pop_flash
from dustgrid.web.templating import render, request_locale

router = Router(include_in_schema=False)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _ints(values: list[Any]) -> list[int]:
    return [i for i in (_int(v) for v in values) if i is not None]


def _back(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


# --------------------------------------------------------------------------- organisation


def _flatten(nodes: list[UnitNode], depth: int = 0) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for n in nodes:
        rows.append({"node": n, "depth": depth})
        rows.extend(_flatten(n.children, depth + 1))
    return rows


@router.get("/org", response_class=HTMLResponse)
def org_page(request: Request, session: DbSession, principal: CurrentPrincipal) -> Response:
    can_write = principal.can(Perm.org_write)
    rows = _flatten(org.unit_tree(session, principal))
    return render(
        request,
        "org/index.html",
        rows=rows,
        districts=org.list_districts(session, principal),
        can_write=can_write,
        unit_kinds=list(UnitKind),
        flash=pop_flash(request),
        parents=[r["node"] for r in rows if r["node"].level < 3] if can_write else [],
    )


@router.post("/org/units")
async def org_unit_create(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))

    def _do() -> object:
        data = UnitCreate.model_validate(
            {
                "name": str(form.get("name") or "").strip(),
                "name_en": str(form.get("name_en") or "").strip(),
                "kind": str(form.get("kind") or ""),
                "parent_id": _int(form.get("parent_id")),
                "district_id": _int(form.get("district_id")),
            }
        )
        return org.create_unit(session, principal, data)

    if attempt(request, session, _do) is not None:
        flash(request, ok="org.flash.unit_created")
    return _back("/org")


# --------------------------------------------------------------------------- grid list


def _writable_districts(session: Session, principal: Principal) -> list[Any]:
    return [
        d
        for d in org.list_districts(session, principal)
        if grids.may_create_in(session, principal, d.id)
    ]


@router.get("/grids", response_class=HTMLResponse)
def grid_list(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    paging: Annotated[PageParams, Depends(page_params)],
    kind: str = "",
    district_id: str = "",
) -> Response:
    kind_value = GridKind(kind) if kind in GridKind.__members__ else None
    district = _int(district_id)
    page = grids.list_grids(
        session,
        principal,
        kind=kind_value,
        district_id=district,
        page=paging.page,
        size=paging.size,
    )
    query = urlencode(
        {
            k: v
            for k, v in {
                "kind": kind_value.value if kind_value else "",
                "district_id": district or "",
            }.items()
            if v
        }
    )
    return render(
        request,
        "grids/list.html",
        page=page,
        pages=max(1, -(-page.total // page.size)),
        query=query,
        kind=kind_value,
        district_id=district,
        kinds=list(GridKind),
        districts=org.list_districts(session, principal),
        coverage=layout.coverage(session, principal),
        writable_districts=_writable_districts(session, principal),
        can_write=principal.can(Perm.grid_write),
        archive_ids=archives.readable_members(
            session, principal, (m.user_id for g in page.items for m in g.members)
        ),
        flash=pop_flash(request),
    )


@router.post("/grids")
async def grid_create(
    request: Request, session: DbSession, principal: CurrentPrincipal
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))

    def _do() -> Any:
        data = GridCreate.model_validate(
            {
                "code": str(form.get("code") or "").strip(),
                "name": str(form.get("name") or "").strip(),
                "kind": str(form.get("kind") or ""),
                "district_id": _int(form.get("district_id")),
            }
        )
        return grids.create_grid(session, principal, data)

    grid = attempt(request, session, _do)
    if grid is None:
        return _back("/grids")
    flash(request, ok="grids.flash.created")
    return _back(f"/grids/{grid.id}")


# --------------------------------------------------------------------------- grid page


@router.get("/grids/{grid_id}", response_class=HTMLResponse)
def grid_page(
    request: Request, session: DbSession, principal: CurrentPrincipal, grid_id: int
) -> Response:
    detail = grids.get_grid(session, principal, grid_id)
    grid = grids.get_visible(session, principal, grid_id)
    can_write = grids.may_write_grid(session, principal, grid)
    candidates = grids.assign_candidates(session, principal, grid) if can_write else []
    return render(
        request,
        "grids/detail.html",
        grid=detail,
        can_write=can_write,
        eligible=grids.eligible_members(session, principal, grid),
        candidates=candidates,
        current_codes=grids.grid_codes(session, (c.current_grid_id for c in candidates)),
        archive_ids=archives.readable_members(
            session, principal, (m.user_id for g in detail.groups for m in g.members)
        ),
        flash=pop_flash(request),
    )


@router.post("/grids/{grid_id}/groups")
async def grid_group_add(
    request: Request, session: DbSession, principal: CurrentPrincipal, grid_id: int
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))

    def _do() -> object:
        data = GroupCreate.model_validate(
            {
                "name": str(form.get("name") or "").strip(),
                "member_ids": _ints(form.getlist("member_ids")),
            }
        )
        return grids.add_group(session, principal, grid_id, data)

    if attempt(request, session, _do) is not None:
        flash(request, ok="grids.flash.group_added")
    return _back(f"/grids/{grid_id}")


@router.post("/grids/{grid_id}/groups/{group_id}/delete")
async def grid_group_delete(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    grid_id: int,
    group_id: int,
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))

    def _do() -> bool:
        grids.delete_group(session, principal, grid_id, group_id)
        return True

    if attempt(request, session, _do):
        flash(request, ok="grids.flash.group_deleted")
    return _back(f"/grids/{grid_id}")


@router.post("/grids/{grid_id}/assign")
async def grid_assign(
    request: Request, session: DbSession, principal: CurrentPrincipal, grid_id: int
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    site_ids = _ints(form.getlist("site_ids"))
    if not site_ids:
        flash(request, error=translate("web.error.choose_a_site", request_locale(request)))
        return _back(f"/grids/{grid_id}")
    result = attempt(
        request,
        session,
        lambda: layout.assign_sites(session, principal, grid_id=grid_id, site_ids=site_ids),
    )
    if result is not None:
        flash(request, ok="grids.flash.assigned")
    return _back(f"/grids/{grid_id}")
