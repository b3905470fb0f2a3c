"""The notifications part of the JSON API (mounted on /api/v1/ by commonroom/api.py): the
caller's own notifications and email settings, and following documents."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from ninja import Query, Router, Schema, Status
from pydantic import Field

from commonroom.core.pagination import Keyset, PageIn, page_for, page_schema
from commonroom.core.views import AuthedRequest
from commonroom.documents.selectors import document_access
from commonroom.notifications import services
from commonroom.notifications.selectors import notification_rows, unread_count

router = Router(tags=["notifications"])


class NotificationOut(Schema):
    id: uuid.UUID
    kind: str
    workspace_id: uuid.UUID
    document_id: uuid.UUID | None
    actor_email: str | None
    summary: str
    excerpt: str
    target_url: str
    created_at: datetime
    read_at: datetime | None


NotificationListOut = page_schema(
    NotificationOut,
    "NotificationListOut",
    unread=(int, Field(description="How many of your notifications are unread, in all.")),
)
NEWEST_NOTIFICATION_FIRST = Keyset(("-created_at", "-pk"))


def _notification_out(row: Mapping[str, Any]) -> dict[str, object]:
    """A notification as the API shows it, from a row of ``selectors.NOTIFICATION_COLUMNS``."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "workspace_id": row["workspace_id"],
        "document_id": row["document_id"],
        "actor_email": row["actor__email"],
        "summary": row["summary"],
        "excerpt": row["excerpt"],
        "target_url": row["target_url"],
        "created_at": row["created_at"],
        "read_at": row["read_at"],
    }


class SettingsOut(Schema):
    email: Literal["immediate", "digest", "none"]
    last_digest_at: datetime | None


class SettingsIn(Schema):
    email: Literal["immediate", "digest", "none"]


@router.get("/notifications", response=NotificationListOut)
def notifications(request: AuthedRequest, page: Query[PageIn], unread: bool = False) -> object:
    """Your notifications, newest first (``unread=true``: only those not read yet), a page at a
    time, with how many are unread in all."""
    window = page_for(
        page,
        keyset=NEWEST_NOTIFICATION_FIRST,
        scope=f"notifications:{request.user.pk}:{'unread' if unread else 'all'}",
    )
    rows = window.window(notification_rows(user=request.user, unread_only=unread))
    return window.respond(request, rows, _notification_out, unread=unread_count(request.user))


@router.post("/notifications/read", response={204: None})
def notifications_read_all(request: AuthedRequest) -> object:
    """Mark all your notifications read."""
    services.mark_all_read(user=request.user)
    return Status(204, None)


@router.post("/notifications/{notification_id}/read", response={204: None})
def notification_read(request: AuthedRequest, notification_id: uuid.UUID) -> object:
    services.mark_read(user=request.user, notification_id=notification_id)
    return Status(204, None)


def _settings_out(request: AuthedRequest) -> dict[str, object]:
    prefs = services.settings_for(request.user)
    return {"email": prefs.email, "last_digest_at": prefs.last_digest_at}


@router.get("/account/notification-settings", response=SettingsOut)
def settings_get(request: AuthedRequest) -> object:
    return _settings_out(request)


@router.put("/account/notification-settings", response=SettingsOut)
def settings_put(request: AuthedRequest, payload: SettingsIn) -> object:
    """When to email you: ``immediate`` (each notification), ``digest`` (once a day) or
    ``none`` (mentions still come in the daily digest)."""
    services.settings_update(user=request.user, email=payload.email)
    return _settings_out(request)


@router.put("/workspaces/{workspace_id}/documents/{document_id}/follow", response={204: None})
def follow(request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID) -> object:
    """Follow a document: its new comments and versions notify you."""
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    services.follow(user=request.user, doc_access=doc_access)
    return Status(204, None)


@router.delete("/workspaces/{workspace_id}/documents/{document_id}/follow", response={204: None})
def unfollow(request: AuthedRequest, workspace_id: uuid.UUID, document_id: uuid.UUID) -> object:
    doc_access = document_access(
        user=request.user, workspace_id=workspace_id, document_id=document_id
    )
    services.unfollow(user=request.user, doc_access=doc_access)
    return Status(204, None)
