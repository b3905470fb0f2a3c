"""The JSON API at /api/v1/: one NinjaAPI, each app's router mounted on it, errors mapped once.

Authentication: a personal access token (``Authorization: Bearer cr_...``) or the browser session
(with its CSRF token for writes). A read-scoped token may only read.

Invariants:
- every error, whatever raised it (a service, ninja's validation, authentication, CSRF, a bug),
  answers JSON ``{"code": ..., "detail": ...}`` with its status, and the OpenAPI schema documents
  those statuses on every operation;
- an id in the path that does not name something the caller may see is 404, whether it is
  malformed, forged or someone else's: the answer never tells which.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, UnreadablePostError
from ninja import NinjaAPI, Router, Schema, Swagger
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.parser import Parser

from commonroom.accounts.api import router as accounts_router
from commonroom.accounts.auth import BrowserSessionAuth, TokenAuth
from commonroom.approvals.api import mine as approvals_mine_router
from commonroom.approvals.api import router as approvals_router
from commonroom.comments.api import router as comments_router
from commonroom.conversations.api import router as conversations_router
from commonroom.core.exceptions import (
    ApplicationError,
    BodyIncomplete,
    NotFound,
    PermissionDenied,
    database_unavailable_cause,
    storage_full_cause,
)
from commonroom.core.middleware import (
    database_unavailable_response,
    discard_partial_uploads,
    storage_full_response,
)
from commonroom.documents.api import router as documents_router
from commonroom.documents.uploads import UPLOAD_ERROR_ATTR
from commonroom.live.events import openapi_components as live_event_schemas
from commonroom.notifications.api import router as notifications_router
from commonroom.previews.api import router as previews_router
from commonroom.search.api import router as search_router
from commonroom.suggestions.api import router as suggestions_router
from commonroom.workspaces.api import router as workspaces_router

log = logging.getLogger(__name__)


class JsonObjectParser(Parser):
    """Every request body of this API is one JSON object. (ninja's schemas would otherwise read
    a list, a string or a number as an object with no fields, so a PATCH of ``[]`` would pass.)
    A body that is not an object is refused with 400, like one that is not JSON at all."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            raise ValueError("The request body must be a JSON object.")
        return data


class ErrorOut(Schema):
    """Every error the API answers. ``detail`` is a message for people, or for ``invalid`` the
    list of fields that did not validate."""

    code: str
    detail: str | list[dict[str, Any]]


# Statuses every operation may answer, and those only writes or uploads may.
ERROR_STATUSES: dict[int, str] = {
    400: "Refused: the request is understood but not acceptable (see `detail`).",
    401: "No valid API token or signed-in session (`token_not_allowed`: a guest's token no "
    "longer allowed).",
    403: "Not allowed: your role, a read-only token, or a session write without its CSRF token.",
    404: "Not found, or not visible to you.",
    409: "Clashes with the current state (a name already taken, the last manager).",
    413: "The upload is larger than the size limit. Nothing was kept.",
    422: "The request does not match this schema.",
    503: "Unavailable for a moment: the database (`database_unavailable`, with `Retry-After`) "
    "or the file storage (`storage_unavailable`) cannot be reached just now. Try again shortly; "
    "a write's commit may have been made before the answer failed, so look before sending it "
    "again.",
    507: "The server's storage is full (`storage_full`). Nothing was saved.",
}
READ_ERRORS: tuple[int, ...] = (401, 403, 404, 422, 503)
WRITE_ERRORS: tuple[int, ...] = (400, 401, 403, 404, 409, 422, 503, 507)
UPLOAD_ERRORS: tuple[int, ...] = (400, 401, 403, 404, 409, 413, 422, 503, 507)


class CommonroomAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        document_errors(schema)
        # The websocket is not an operation: its messages are documented as schemas alone.
        schema.setdefault("components", {}).setdefault("schemas", {}).update(live_event_schemas())
        return schema


# Every list answers a page at a time (core.pagination).
PAGE_REFUSED = (
    "`bad_limit`: `limit` is not between 1 and the maximum. `bad_cursor`: the cursor was changed, "
    "or was given out by another list (`detail` says so): start again from the first page."
)


def is_list(operation: dict[str, Any]) -> bool:
    """Whether an operation is one of the API's lists: it takes a ``cursor``."""
    return any(p.get("name") == "cursor" for p in operation.get("parameters", []))


def document_errors(schema: OpenAPISchema) -> None:
    """Add the error responses and the auth schemes' descriptions to the generated schema."""
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["ErrorOut"] = ErrorOut.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    ref = {"$ref": "#/components/schemas/ErrorOut"}
    for path_item in schema.get("paths", {}).values():
        for method, operation in path_item.items():
            if method == "get":
                statuses = READ_ERRORS
            elif "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
                statuses = UPLOAD_ERRORS
            else:
                statuses = WRITE_ERRORS
            # ninja keys its own responses by int, ``openapi_extra`` by str: both would be
            # written as the same JSON key. The explicit (str) one wins.
            responses = operation.setdefault("responses", {})
            for status in [key for key in responses if not isinstance(key, str)]:
                explicit = responses.pop(status)
                responses.setdefault(str(status), explicit)
            if method == "get" and is_list(operation):
                responses.setdefault(
                    "400",
                    {
                        "description": PAGE_REFUSED,
                        "content": {"application/json": {"schema": ref}},
                    },
                )
            for status in statuses:
                responses.setdefault(
                    str(status),
                    {
                        "description": ERROR_STATUSES[status],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    schemes = components.get("securitySchemes", {})
    if "TokenAuth" in schemes:
        schemes["TokenAuth"]["bearerFormat"] = "personal access token"
        schemes["TokenAuth"]["description"] = (
            "A personal access token, created under Account > API tokens or with "
            "`commonroom token create EMAIL NAME`: `Authorization: Bearer cr_...`. "
            "A read-scoped token may only use GET."
        )
    if "BrowserSessionAuth" in schemes:
        schemes["BrowserSessionAuth"]["description"] = (
            "The browser session of a signed-in person; writes also need the `X-CSRFToken` header."
        )


api = CommonroomAPI(
    title="Commonroom API",
    version="1",
    description=(
        "Workspaces, members, invitations, folders, documents and versions. Authenticate with "
        "a personal access token: `Authorization: Bearer cr_...`. Every error is JSON "
        '`{"code": "...", "detail": "..."}`.\n\n'
        "Live updates: a websocket per workspace, `/ws/w/{workspace_id}/?after={last event id}`, "
        "authenticated the same way, sends each change as a `LiveEvent` (see the schemas: its "
        "`kind` says which data it has), in order and once each; ids and facts only, so fetch "
        "what you show by id. Reconnecting with `after=` replays what was missed. Close codes: "
        "4403, no access to the workspace; 4401, the token (or browser session) it was opened "
        "with was revoked, at once (do not reconnect with it); 1013, try again later."
    ),
    auth=[TokenAuth(), BrowserSessionAuth()],
    # Swagger UI from ninja's own static files (so "ninja" must be in INSTALLED_APPS; without it
    # ninja serves a page that loads Swagger UI from a CDN with an inline script, which neither
    # works offline nor passes the Content-Security-Policy). No call to an outside validator.
    docs=Swagger(settings={"validatorUrl": None}),
    parser=JsonObjectParser(),
    urls_namespace="api",
)


def error_response(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    return api.create_response(
        request, {"code": error.code, "detail": error.message}, status=error.status
    )


@api.exception_handler(ApplicationError)
def on_application_error(request: HttpRequest, exc: ApplicationError) -> HttpResponse:
    return error_response(request, exc)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # A streaming upload refused mid-way leaves the file field empty: report the real cause.
    upload_error = getattr(request, UPLOAD_ERROR_ATTR, None)
    if upload_error is not None:
        return error_response(request, upload_error)
    # A malformed id in the path names nothing: the same 404 as a forged or foreign one.
    if exc.errors and all(error.get("loc", ("",))[0] == "path" for error in exc.errors):
        return error_response(request, NotFound())
    return api.create_response(request, {"code": "invalid", "detail": exc.errors}, status=422)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return error_response(
        request,
        ApplicationError("Sign in or send a valid API token.", code="unauthorized", status=401),
    )


HTTP_ERROR_CODES = {400: "bad_request", 403: "permission_denied", 429: "throttled"}


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = HTTP_ERROR_CODES.get(exc.status_code, "error")
    detail = exc.message
    if exc.status_code == 400 and detail.startswith("Cannot parse request body"):
        detail = "The request body must be one JSON object."
    return error_response(request, ApplicationError(detail, code=code, status=exc.status_code))


@api.exception_handler(Http404)
def on_http404(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, NotFound())


@api.exception_handler(SuspiciousOperation)
def on_suspicious_request(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    # Too many form fields, a body over Django's size limits, a malformed multipart body.
    return error_response(
        request, ApplicationError("The request could not be read.", code="bad_request", status=400)
    )


@api.exception_handler(UnreadablePostError)
def on_body_incomplete(request: HttpRequest, exc: UnreadablePostError) -> HttpResponse:
    # The client went (or was cut off) before its upload arrived whole (core.asgi_body): the
    # answer is never sent, and the file begun for it is freed. Not a fault to log.
    discard_partial_uploads(request)
    response = error_response(request, BodyIncomplete())
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@api.exception_handler(DjangoPermissionDenied)
def on_django_permission_denied(request: HttpRequest, exc: DjangoPermissionDenied) -> HttpResponse:
    return error_response(request, PermissionDenied("You cannot do that."))


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    if storage_full_cause(exc) is not None:
        # A full disk (or database) is not a bug: one line in the log, 507, nothing saved.
        return storage_full_response(request, exc)
    if database_unavailable_cause(exc) is not None:
        # PostgreSQL restarted or out of reach: an outage, not a bug. 503, try again later.
        return database_unavailable_response(request, exc)
    log.exception("API error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(
        request,
        ApplicationError("Something went wrong on our side.", code="server_error", status=500),
    )


api.add_router("/", accounts_router)
api.add_router("/workspaces", workspaces_router)
api.add_router("/workspaces", documents_router)
api.add_router("/workspaces", comments_router)
api.add_router("/workspaces", suggestions_router)
api.add_router("/workspaces", approvals_router)
api.add_router("/workspaces", conversations_router)
api.add_router("/workspaces", previews_router)
api.add_router("/", notifications_router)
api.add_router("/", approvals_mine_router)
api.add_router("/", search_router)

# Mounted last, so it only sees paths no operation matched: the JSON 404, not the HTML page.
unmatched = Router(auth=None)


@unmatched.api_operation(
    ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    "/{path:rest}",
    include_in_schema=False,
)
def no_such_operation(request: HttpRequest, rest: str) -> HttpResponse:
    return error_response(request, NotFound("There is no such API operation."))


api.add_router("/", unmatched)
