"""The account admin page: list accounts, disable/enable them, sign one out everywhere.

City admins only (``Perm.user_admin``). Forms post back here with the CSRF token and return
to the list with a one-time flash message.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dustgrid.auth import accounts, admin
from dustgrid.auth.deps import DbSession, check_csrf, require
from dustgrid.auth.service import end_all_sessions
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.web.forms import flash, pop_flash
from dustgrid.web.templating import render

router = APIRouter(include_in_schema=False)
UserAdmin = Annotated[Principal, Depends(require(Perm.user_admin))]


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: DbSession, principal: UserAdmin) -> Response:
    live = accounts.live_sessions(session, utcnow())
    users = admin.list_accounts(session, principal)
    return render(request, "users/index.html", users=users, live=live, flash=pop_flash(request))


@router.post("/users/{user_id}/sign-out")
async def users_sign_out(
    user_id: int, request: Request, session: DbSession, principal: UserAdmin
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    end_all_sessions(
        session, admin.get_account(session, principal, user_id).id, actor=principal, reason="admin"
    )
    flash(request, ok="users.flash.signed_out")
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/active")
async def users_set_active(
    user_id: int, request: Request, session: DbSession, principal: UserAdmin
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    active = str(form.get("active") or "") == "1"
    admin.set_account_active(
        session, principal, admin.get_account(session, principal, user_id), active
    )
    key = "users.flash.enabled" if active else "users.flash.disabled"
    flash(request, ok=key)
    return RedirectResponse("/users", status_code=303)
