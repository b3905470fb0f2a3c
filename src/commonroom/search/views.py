"""The search page: the box, its filters, and the results (the whole page, or only the results
when htmx asks as someone types). Thin: parse, ask the selector, render."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from commonroom.core.exceptions import ApplicationError
from commonroom.core.views import AuthedRequest, is_htmx
from commonroom.search.selectors import (
    KIND_LABELS,
    Params,
    parse_params,
    search,
    searchable_people,
    searchable_workspaces,
)

PAGE_SIZE = 20
SUGGESTIONS = 5
MAX_PAGE = 50


def _page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), MAX_PAGE))
    except ValueError:
        return 1


@login_required
@require_GET
def search_page(request: AuthedRequest) -> HttpResponse:
    error = ""
    try:
        params = parse_params(request.GET)
    except ApplicationError as exc:
        params, error = Params(q=str(request.GET.get("q") or "")[:2000]), exc.message
    if request.GET.get("suggest") == "1" and is_htmx(request):
        # The header's box, as someone types: the first few results, and a way to all of them.
        quick = search(user=request.user, **params.as_kwargs(), limit=SUGGESTIONS, counted=False)
        return render(request, "search/_suggestions.html", {"params": params, "results": quick})
    page = _page_number(request.GET.get("page"))
    results = search(
        user=request.user, **params.as_kwargs(), limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    query = request.GET.copy()
    query.pop("page", None)
    context: dict[str, Any] = {
        "params": params,
        "results": results,
        "error": error,
        "page": page,
        "has_previous": page > 1,
        "has_next": page < MAX_PAGE and results.total_estimate > page * PAGE_SIZE,
        "query_string": query.urlencode(),
        "filtered": any([params.workspace, params.kind, params.person, params.since, params.until]),
    }
    partial = is_htmx(request) and not request.headers.get("HX-History-Restore-Request")
    if partial:
        return render(request, "search/_results.html", context)
    context.update(
        {
            "workspaces": searchable_workspaces(request.user),
            "people": searchable_people(request.user),
            "kinds": list(KIND_LABELS.items()),
        }
    )
    return render(request, "search/search.html", context)
