"""The JSON API at /api/v1/: one NinjaAPI, each app's router mounted on it, errors mapped once.

Authentication: a personal access token (``Authorization: Bearer cr_...``) or the browser session
(with its CSRF token for writes). A read-scoped token may only read.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from ninja.security import HttpBearer, SessionAuth

from commonroom.accounts.api import router as accounts_router
from commonroom.accounts.selectors import token_authenticate
from commonroom.core.exceptions import ApplicationError, PermissionDenied
from commonroom.core.request_info import client_ip
from commonroom.documents.api import router as documents_router
from commonroom.documents.uploads import UPLOAD_ERROR_ATTR
from commonroom.workspaces.api import router as workspaces_router

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class TokenAuth(HttpBearer):
    """Personal access tokens; the acting user becomes ``request.user``."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = token_authenticate(token, ip=client_ip(request))
        if found is None:
            return None
        if request.method not in SAFE_METHODS and not found.can_write:
            raise PermissionDenied("This token is read-only.", code="read_only_token")
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        return found.user


api = NinjaAPI(
    title="Commonroom API",
    version="1",
    description=(
        "Workspaces, members, invitations, folders, documents and versions. Authenticate with "
        "a personal access token: `Authorization: Bearer cr_...`."
    ),
    auth=[TokenAuth(), SessionAuth()],
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
    return api.create_response(request, {"code": "invalid", "detail": exc.errors}, status=422)


@api.exception_handler(AuthenticationError)
def on_auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(
        request,
        {"code": "unauthorized", "detail": "Sign in or send a valid API token."},
        status=401,
    )


api.add_router("/", accounts_router)
api.add_router("/workspaces", workspaces_router)
api.add_router("/workspaces", documents_router)
