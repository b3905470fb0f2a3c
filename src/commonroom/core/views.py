"""Small shared helpers for HTML views: the acting context and form parsing."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from commonroom.core.exceptions import ApplicationError
from commonroom.core.metrics import exposition, may_read
from commonroom.core.request_info import RequestInfo
from commonroom.core.selectors import readiness

log = logging.getLogger(__name__)


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
    """The process is alive and answers: nothing else is asked (no database)."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    """Ready to serve: the database, its migrations, Redis, storage and a task worker's heartbeat
    (core.selectors.readiness); 200 when all hold, 503 naming those that do not."""
    state = readiness()
    response = JsonResponse(state.as_json(), status=200 if state.ready else 503)
    if not state.ready:
        failed = ", ".join(name for name, check in state.checks.items() if not check.ok)
        log.warning("not ready: %s", failed)
        # Said here, in one line naming what failed, rather than by Django as an error.
        response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def metrics(request: HttpRequest) -> HttpResponse:
    """This process's Prometheus metrics, to an allowed address only, never through the proxy
    (core.metrics.may_read); anyone else is told there is nothing here."""
    if not may_read(str(request.META.get("REMOTE_ADDR", "")), request.META):
        raise Http404()
    body, content_type = exposition()
    return HttpResponse(body, content_type=content_type)


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
