"""The account admin page: list accounts, disable/enable them, sign one out everywhere.

City admins only (``Perm.user_admin``). Forms post back here with the CSRF token and return
to the list with a one-time flash message.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select

from dustgrid.auth.deps import DbSession, check_csrf, require
from dustgrid.auth.models import AuthSession, User
from dustgrid.auth.service import end_all_sessions, set_active
from dustgrid.errors import NotFound
from dustgrid.identity.principal import Principal
from dustgrid.identity.roles import Perm
from dustgrid.models import utcnow
from dustgrid.web.templating import render

router = APIRouter(include_in_schema=False)
FLASH_KEY = "flash"
UserAdmin = Annotated[Principal, Depends(require(Perm.user_admin))]


def _user(session: DbSession, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"账号不存在：{user_id} / no such account")
    return user


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: DbSession, principal: UserAdmin) -> Response:
    live = dict(
        session.execute(
            select(AuthSession.user_id, func.count())
            .where(AuthSession.expires_at > utcnow())
            .group_by(AuthSession.user_id)
        ).all()
    )
    users = list(session.scalars(select(User).order_by(User.username)))
    flash = request.session.pop(FLASH_KEY, None) or {"ok": None, "error": None}
    return render(request, "users/index.html", users=users, live=live, flash=flash)


@router.post("/users/{user_id}/sign-out")
async def users_sign_out(
    user_id: int, request: Request, session: DbSession, principal: UserAdmin
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    end_all_sessions(session, _user(session, user_id).id, actor=principal, reason="admin")
    request.session[FLASH_KEY] = {"ok": "users.flash.signed_out", "error": None}
    return RedirectResponse("/users", status_code=303)


@router.post("/users/{user_id}/active")
async def users_set_active(
    user_id: int, request: Request, session: DbSession, principal: UserAdmin
) -> Response:
    form = await request.form()
    check_csrf(request, str(form.get("csrf_token") or ""))
    active = str(form.get("active") or "") == "1"
    set_active(session, _user(session, user_id), actor=principal, active=active)
    key = "users.flash.enabled" if active else "users.flash.disabled"
    request.session[FLASH_KEY] = {"ok": key, "error": None}
    return RedirectResponse("/users", status_code=303)
