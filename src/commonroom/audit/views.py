"""How an audit trail page is drawn, as HTML or as CSV (streamed: ``audit.export``).

Who may see which trail is decided by the app that owns the decision, in its own view: a
workspace's trail by ``workspaces.views.audit_trail`` (its managers), the whole trail by
``accounts.views.global_audit_trail`` (admins). Each then calls :func:`render_trail`. So audit,
which every app writes to, imports none of them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.dates import MONTHS_3

from commonroom.audit.export import CsvResponse
from commonroom.audit.models import Action, AuditEvent
from commonroom.audit.selectors import (
    AuditFilter,
    audit_csv_rows,
    audit_events,
    audit_trail_page,
    trail_cursor,
)
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


@dataclass(frozen=True)
class TrailRow:
    """One event as the trail's table shows it, its words and times made once here rather than
    by template filters, cell by cell (a page of 100 rows spent more on those than on finding
    its rows)."""

    seq: int
    when_iso: str  # the <time> element's machine-readable value (the ``date:"c"`` filter's)
    when: str  # "5 Dec 2026, 14:03:09" (the ``date:"j M Y, H:i:s"`` filter's)
    who: str
    what: str
    source: str


def month_names() -> dict[int, str]:
    """The months as the ``date`` filter's ``M`` writes them, in the active language: looked
    up once a page, not once a row."""
    return {number: str(name).title() for number, name in MONTHS_3.items()}


def trail_row(event: AuditEvent, months: dict[int, str]) -> TrailRow:
    at = timezone.localtime(event.created_at)
    what = event.action_label
    if event.target_label:
        what += f": {event.target_label}"
    if version := event.data.get("version") if isinstance(event.data, dict) else None:
        what += f" (version {version})"
    return TrailRow(
        seq=event.seq,
        when_iso=at.isoformat(),
        when=f"{at.day} {months[at.month]} {at.year}, {at:%H:%M:%S}",
        who=event.actor_email or "system",
        what=what,
        source=event.ip or "\N{EN DASH}",
    )


def _render(
    request: HttpRequest, events: QuerySet[AuditEvent], context: dict[str, object], name: str
) -> HttpResponseBase:
    if request.GET.get("format") == "csv":
        return CsvResponse(audit_csv_rows(events), filename=name)
    page = audit_trail_page(
        events,
        older_than=trail_cursor(request.GET.get("older", "")),
        newer_than=trail_cursor(request.GET.get("newer", "")),
    )
    months = month_names()
    query = request.GET.copy()
    for cursor in ("older", "newer", "page"):  # "page": the page numbers links once carried
        query.pop(cursor, None)
    context.update(
        {
            "page": page,
            "rows": [trail_row(event, months) for event in page],
            "actions": Action.choices,
            "filters": request.GET,
            "query": query.urlencode(),
        }
    )
    return render(request, "audit/trail.html", context)
