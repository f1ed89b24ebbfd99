"""Open311 GeoReport v2 routes under ``/open311/v2`` (public: no login).

* ``GET services.{json|xml}`` and ``GET services/{code}.{json|xml}``: the case categories;
* ``POST requests.{json|xml}``: file a request; needs ``api_key`` (form or query);
* ``GET requests.{json|xml}`` and ``GET requests/{id}.{json|xml}``: status of requests;
* ``GET tokens/{token}.{json|xml}``: the request id for a token. A request gets its id at
  once, so its token is that id (clients that always poll tokens still work).

Suffix-less paths answer JSON. Every error, including a malformed parameter, is answered
in the spec's format (``[{"code": 400, "description": "..."}]`` or ``<errors>``) by the
route class, so civic-reporting clients parse one shape whatever went wrong; an unknown
path or method under ``/open311/v2/`` too (``spec_http_error``, installed by ``app``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Form, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from dustgrid.errors import DomainError, validation_summary
from dustgrid.identity.deps import AppSettings, DbSession
from dustgrid.intake.open311 import service as svc
from dustgrid.intake.open311 import spec as spec
from dustgrid.models import utcnow
from dustgrid.routing import Router

XML = "text/xml; charset=utf-8"


def _fmt_of(request: Request) -> str:
    return "xml" if request.url.path.endswith(".xml") else "json"


def render(fmt: str, shape: str, rows: Any, status: int = 200) -> Response:
    if fmt == "xml":
        root, item = spec.XML_SHAPES[shape]
        body = spec.to_xml(root, item, rows if isinstance(rows, list) else [rows])
        return Response(body, status_code=status, media_type=XML)
    return JSONResponse(rows, status_code=status)


class Open311Route(APIRoute):
    """Answers every failure of a route in the spec's error format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            fmt = _fmt_of(request)
            try:
                return await original(request)
            except spec.SpecError as exc:
                return render(fmt, "errors", spec.errors(exc.code, exc.description), exc.code)
            except RequestValidationError as exc:
                text = validation_summary(exc.errors(), drop=1)
                return render(fmt, "errors", spec.errors(400, text), 400)
            except DomainError as exc:
                code = exc.status_code if exc.status_code in (403, 404) else 400
                return render(fmt, "errors", spec.errors(code, exc.message), code)

        return handler


PREFIX = "/open311/v2"


class Open311Error(BaseModel):
    """One error of the GeoReport v2 format (``[{"code": 400, "description": "..."}]``)."""

    code: int
    description: str


OPEN311_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": list[Open311Error], "description": text}
    for code, text in (
        (400, "Invalid request (the description says which parameter)"),
        (403, "Invalid or revoked api_key"),
        (404, "No such service or request"),
        (413, "Request body larger than the route's limit"),
    )
}
router = Router(prefix=PREFIX, tags=["open311"], route_class=Open311Route, responses=OPEN311_ERRORS)
AcceptLanguage = Annotated[str | None, Header()]
Text = Annotated[str | None, Form()]


def _check_fmt(fmt: str) -> str:
    if fmt not in spec.FORMATS:
        raise spec.SpecError(400, f"format must be json or xml: {fmt}")
    return fmt


@router.get("/discovery.json", summary="Open311 service discovery")
def discovery(request: Request) -> Response:
    base = str(request.base_url).rstrip("/") + "/open311/v2/"
    return JSONResponse({
        "changeset": "2026-11-22T00:00:00Z",
        "contact": "12319 城建服务热线 / 12319 construction hotline",
        "key_service": "API keys are issued by the city construction bureau (L1)",
        "endpoints": [{"specification": spec.SPEC_URL, "url": base,
                       "changeset": "2026-11-22T00:00:00Z", "type": "production",
                       "formats": ["application/json", "text/xml"]}],
    })  # fmt: skip


@router.get("/services.{fmt}", summary="Service list (case categories)")
def services_fmt(fmt: str, accept_language: AcceptLanguage = None) -> Response:
    return render(_check_fmt(fmt), "services", spec.services(spec.english(accept_language)))


@router.get("/services", summary="Service list (JSON)")
def services_json(accept_language: AcceptLanguage = None) -> Response:
    return services_fmt("json", accept_language)


@router.get("/services/{code}.{fmt}", summary="Service definition")
def definition_fmt(code: str, fmt: str) -> Response:
    return render(_check_fmt(fmt), "definition", spec.definition(code))


@router.get("/services/{code}", summary="Service definition (JSON)")
def definition_json(code: str) -> Response:
    return definition_fmt(code, "json")


def spec_http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """A routing failure under ``/open311/v2/`` (unknown path, wrong method) in the spec's
    error format, JSON or XML by the path's suffix, instead of FastAPI's ``{"detail"}``."""
    if exc.status_code == 404:
        text = f"no such Open311 resource: {request.url.path}"
    elif exc.status_code == 405:
        text = f"method {request.method} is not allowed on {request.url.path}"
    else:
        text = str(exc.detail)
    response = render(_fmt_of(request), "errors", spec.errors(exc.status_code, text),
                      exc.status_code)  # fmt: skip
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value  # e.g. Allow on a 405
    return response


def _post(session: DbSession, settings: AppSettings, fmt: str, form: dict[str, str | None],
          api_key: str | None, en: bool) -> Response:  # fmt: skip
    now = utcnow()
    c, at = svc.create_request(session, api_key=api_key, form=form, now=now, settings=settings)
    body = [{"service_request_id": str(c.id), "service_notice": svc.notice(en, at.how),
             "account_id": None}]  # fmt: skip
    return render(fmt, "requests", body, 201)


@router.post("/requests.{fmt}", status_code=201, summary="File a service request")
def post_request_fmt(
    request: Request, session: DbSession, settings: AppSettings, fmt: str,
    api_key: Text = None, service_code: Text = None, lat: Text = None, long: Text = None,
    address_string: Text = None, address_id: Text = None, description: Text = None,
    media_url: Text = None,
    email: Text = None, first_name: Text = None, last_name: Text = None, phone: Text = None,
    jurisdiction_id: Text = None, accept_language: AcceptLanguage = None,
) -> Response:  # fmt: skip
    """Form fields as the spec names them (``long``, not ``lon``)."""
    form = {"service_code": service_code, "lat": lat, "long": long,
            "address_string": address_string, "address_id": address_id,
            "description": description,
            "media_url": media_url, "email": email, "first_name": first_name,
            "last_name": last_name, "phone": phone}  # fmt: skip
    key = api_key or request.query_params.get("api_key")
    return _post(session, settings, _check_fmt(fmt), form, key, spec.english(accept_language))


@router.post("/requests", status_code=201, summary="File a service request (JSON)")
def post_request_json(
    request: Request, session: DbSession, settings: AppSettings,
    api_key: Text = None, service_code: Text = None, lat: Text = None, long: Text = None,
    address_string: Text = None, address_id: Text = None, description: Text = None,
    media_url: Text = None,
    email: Text = None, first_name: Text = None, last_name: Text = None, phone: Text = None,
    jurisdiction_id: Text = None, accept_language: AcceptLanguage = None,
) -> Response:  # fmt: skip
    return post_request_fmt(request, session, settings, "json", api_key, service_code, lat,
                            long, address_string, address_id, description, media_url, email,
                            first_name, last_name, phone, jurisdiction_id,
                            accept_language)  # fmt: skip


@router.get("/requests.{fmt}", summary="Service requests (filtered)")
def get_requests_fmt(
    session: DbSession, fmt: str, service_request_id: str | None = None,
    service_code: str | None = None, start_date: str | None = None,
    end_date: str | None = None, status: str | None = None,
    jurisdiction_id: str | None = None, accept_language: AcceptLanguage = None,
) -> Response:  # fmt: skip
    """With ``service_request_id`` (a comma list) the other filters are ignored (spec)."""
    fmt = _check_fmt(fmt)
    start = spec.parse_time("start_date", start_date)
    end = spec.parse_time("end_date", end_date)
    rows = svc.request_rows(
        session, ids=spec.parse_list(service_request_id), codes=spec.parse_list(service_code),
        start=start, end=end, statuses=spec.parse_list(status), now=utcnow(),
        en=spec.english(accept_language),
    )  # fmt: skip
    return render(fmt, "requests", rows)


@router.get("/requests", summary="Service requests (JSON)")
def get_requests_json(
    session: DbSession, service_request_id: str | None = None,
    service_code: str | None = None, start_date: str | None = None,
    end_date: str | None = None, status: str | None = None,
    jurisdiction_id: str | None = None, accept_language: AcceptLanguage = None,
) -> Response:  # fmt: skip
    return get_requests_fmt(session, "json", service_request_id, service_code, start_date,
                            end_date, status, jurisdiction_id, accept_language)  # fmt: skip


@router.get("/requests/{request_id}.{fmt}", summary="One service request")
def get_request_fmt(
    session: DbSession, request_id: str, fmt: str, accept_language: AcceptLanguage = None
) -> Response:
    fmt = _check_fmt(fmt)
    rows = []
    if request_id.isdigit():
        rows = svc.request_rows(session, ids=[request_id], codes=[], start=None, end=None,
                                statuses=[], now=utcnow(),
                                en=spec.english(accept_language))  # fmt: skip
    if not rows:
        raise spec.SpecError(404, f"service_request_id not found: {request_id}")
    return render(fmt, "requests", rows)


@router.get("/requests/{request_id}", summary="One service request (JSON)")
def get_request_json(
    session: DbSession, request_id: str, accept_language: AcceptLanguage = None
) -> Response:
    return get_request_fmt(session, request_id, "json", accept_language)


@router.get("/tokens/{token}.{fmt}", summary="Request id for a token")
def get_token_fmt(session: DbSession, token: str, fmt: str) -> Response:
    """The spec's ``GET tokens/{token}``: ``[{"service_request_id", "token"}]``."""
    fmt = _check_fmt(fmt)
    rows = []
    if token.isdigit():
        rows = svc.request_rows(session, ids=[token], codes=[], start=None, end=None,
                                statuses=[], now=utcnow(), en=False)  # fmt: skip
    if not rows:
        raise spec.SpecError(404, f"token not found: {token}")
    return render(fmt, "requests", [{"service_request_id": rows[0]["service_request_id"],
                                     "token": token}])  # fmt: skip


@router.get("/tokens/{token}", summary="Request id for a token (JSON)")
def get_token_json(session: DbSession, token: str) -> Response:
    return get_token_fmt(session, token, "json")
