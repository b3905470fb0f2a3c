"""The audit trail pages: a workspace's trail for its managers, the whole trail for admins."""

from __future__ import annotations

import csv
from datetime import date

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render

from commonroom.accounts.permissions import account_abilities
from commonroom.audit.models import Action, AuditEvent
from commonroom.audit.selectors import AuditFilter, audit_csv_rows, audit_events
from commonroom.core.exceptions import NotFound, PermissionDenied
from commonroom.core.views import AuthedRequest
from commonroom.workspaces.selectors import parse_uuid, workspace_access


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _filters(request: HttpRequest) -> AuditFilter:
    g = request.GET
    document = g.get("document", "").strip()
    return AuditFilter(
        actor_email=g.get("person", ""),
        document_id=parse_uuid(document) if document else None,
        action=g.get("action", "") if g.get("action", "") in Action.values else "",
        date_from=_date(g.get("from", "")),
        date_to=_date(g.get("to", "")),
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _render(
    request: HttpRequest, events: QuerySet[AuditEvent], context: dict[str, object], name: str
) -> HttpResponseBase:
    if request.GET.get("format") == "csv":
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in audit_csv_rows(events)),
            content_type="text/csv; charset=utf-8",
        )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
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


@login_required
def workspace_trail(request: AuthedRequest, workspace_id: str) -> HttpResponseBase:
    access = workspace_access(user=request.user, workspace_id=workspace_id)
    if not access.can("view_audit"):
        raise PermissionDenied("Only managers can see the audit trail.")
    events = audit_events(workspace_id=access.workspace.pk, filters=_filters(request))
    return _render(
        request,
        events,
        {"access": access, "workspace": access.workspace},
        f"audit-{access.workspace.pk}.csv",
    )


@login_required
def global_trail(request: AuthedRequest) -> HttpResponseBase:
    if not account_abilities(request.user)["view_global_audit"]:
        raise NotFound()
    events = audit_events(workspace_id=None, filters=_filters(request))
    return _render(request, events, {"workspace": None}, "audit.csv")
