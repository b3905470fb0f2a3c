"""HTTP middleware shared by every page: security headers and the HTML error boundary."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from commonroom.core.exceptions import ApplicationError
from commonroom.core.views import is_htmx

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
    "base-uri 'none'; object-src 'none'"
)


class SecurityHeadersMiddleware:
    """A strict Content-Security-Policy and no caching of private pages by shared caches."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        if not request.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response


class ApplicationErrorMiddleware:
    """The HTML boundary: an :class:`ApplicationError` from a page becomes an error page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/"):
            return None
        if isinstance(exception, ApplicationError):
            if is_htmx(request):
                # A page's script asked (a composer, a live fragment): a short message, no page.
                return HttpResponse(
                    exception.message,
                    status=exception.status,
                    content_type="text/plain; charset=utf-8",
                )
            return render(
                request,
                "error.html",
                {"error": exception, "title": error_title(exception.status)},
                status=exception.status,
            )
        return None


def error_title(status: int) -> str:
    return {
        403: "You cannot do that",
        404: "Page not found",
        409: "That clashes with a change someone else made",
        410: "This link has already been used or has expired",
        413: "That file is too large",
    }.get(status, "There is a problem")
