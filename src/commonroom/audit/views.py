"""How an audit trail page is drawn, as HTML or as CSV (streamed: ``audit.export``).

Who may see which trail is decided by the app that owns the decision, in its own view: a
workspace's trail by ``workspaces.views.audit_trail`` (its managers), the whole trail by
``accounts.views.global_audit_trail`` (admins). Each then calls :func:`render_trail`. So audit,
which every app writes to, imports none of them."""

from __future__ import annotations

import uuid
from datetime import date

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render

from commonroom.audit.export import CsvResponse
from commonroom.audit.models import Action, AuditEvent
from commonroom.audit.selectors import AuditFilter, audit_csv_rows, audit_events
from commonroom.core.exceptions import NotFound


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _uuid(value: str) -> uuid.UUID:
    """A forged or malformed id is simply not found."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound() from None


def _filters(request: HttpRequest) -> AuditFilter:
    g = request.GET
    document = g.get("document", "").strip()
    return AuditFilter(
        actor_email=g.get("person", ""),
        document_id=_uuid(document) if document else None,
        action=g.get("action", "") if g.get("action", "") in Action.values else "",
        date_from=_date(g.get("from", "")),
        date_to=_date(g.get("to", "")),
    )


def render_trail(
    request: HttpRequest,
    *,
    workspace_id: uuid.UUID | None,
    context: dict[str, object],
    filename: str,
) -> HttpResponseBase:
    """The trail of one workspace (``workspace_id``), or the whole trail (None), filtered by the
    request's query. The caller has already decided that the person may see it."""
    events = audit_events(workspace_id=workspace_id, filters=_filters(request))
    return _render(request, events, context, filename)


def _render(
    request: HttpRequest, events: QuerySet[AuditEvent], context: dict[str, object], name: str
) -> HttpResponseBase:
    if request.GET.get("format") == "csv":
        return CsvResponse(audit_csv_rows(events), filename=name)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context.update(
        {
            "page": page,
            "actions": Action.choices,
            "filters": request.GET,
            "query": query.urlencode(),
        }
    )
    return render(request, "audit/trail.html", context)
