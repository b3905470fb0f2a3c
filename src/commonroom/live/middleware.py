"""Where a workspace page's live updates continue from.

Before the view reads anything, a GET of a workspace page notes the workspace's latest event id
as ``request.live_after``; the page's socket asks for everything after it. Within a workspace,
events commit in id order, so a change the page did not show has a higher id and is replayed:
nothing falls between the page and its socket.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from commonroom.core.views import is_htmx
from commonroom.live.selectors import latest_event_id, page_noted

_WORKSPACE_PAGE = re.compile(r"^/w/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/")


class LiveAfterMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.live_after = None  # type: ignore[attr-defined]
        match = _WORKSPACE_PAGE.match(request.path)
        # Whole pages only: a fragment a script fetches (after an event) opens no socket.
        if (
            match
            and request.method == "GET"
            and request.user.is_authenticated
            and not is_htmx(request)
        ):
            latest = latest_event_id(workspace_id=match.group(1))
            request.live_after = latest  # type: ignore[attr-defined]
            # The page's kept fragments are keyed by it too (``selectors.page_revision``).
            with page_noted(workspace_id=match.group(1), latest=latest):
                return self.get_response(request)
        return self.get_response(request)
