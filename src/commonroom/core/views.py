"""Small shared helpers for HTML views: the acting context and form parsing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from commonroom.core.exceptions import ApplicationError
from commonroom.core.request_info import RequestInfo


def info(request: HttpRequest) -> RequestInfo:
    return RequestInfo.from_request(request)


def back_with_error(request: HttpRequest, error: ApplicationError, to: str) -> HttpResponse:
    """Show a service's refusal as a message on the page the person came from."""
    messages.error(request, error.message)
    return redirect(to)


def back_with_typed(
    request: HttpRequest, error: ApplicationError, to: str, *, form: str, typed: dict[str, str]
) -> HttpResponse:
    """As :func:`back_with_error`, and what was typed into ``form`` is kept (in the session,
    for the next page only: :func:`typed_back`), so the person corrects it rather than typing
    it all again."""
    request.session[f"typed:{form}"] = {**typed, "error": error.message}
    return back_with_error(request, error, to)


def typed_back(request: HttpRequest, form: str) -> dict[str, str]:
    """What :func:`back_with_typed` kept for ``form`` (with its ``error``), once; else {}."""
    kept = request.session.pop(f"typed:{form}", None)
    return {str(k): str(v) for k, v in kept.items()} if isinstance(kept, dict) else {}


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def is_htmx(request: HttpRequest) -> bool:
    """Whether a page's script asked (htmx, the composer, a live fragment): it wants HTML to put
    in place, or a short plain-text refusal, not a whole page."""
    return request.headers.get("HX-Request") == "true"


def form_value(request: HttpRequest, name: str, default: str = "") -> str:
    value: Any = request.POST.get(name, default)
    return str(value)


if TYPE_CHECKING:
    from commonroom.accounts.models import User

    class AuthedRequest(HttpRequest):
        """A request behind ``login_required``: its user is a real person."""

        user: User
else:
    AuthedRequest = HttpRequest
