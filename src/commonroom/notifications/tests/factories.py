"""Helpers for notification tests: comments written straight to the table (the comments app's
own services are tested there), and notifications as the hooks make them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from commonroom.notifications import services
from commonroom.notifications.models import Kind, Notification


def write_comment(doc: Any, author: Any, body: str = "Paragraph 2?", thread: Any = None) -> Any:
    from commonroom.comments.models import Comment

    return Comment.objects.create(
        document=doc,
        version=doc.versions.get(number=doc.current_version_number),
        author=author,
        body=body,
        thread=thread,
    )


def post_comment(
    doc: Any, author: Any, body: str = "Paragraph 2?", *, thread: Any = None, mentioned: Any = ()
) -> Any:
    """A comment and its notifications, in one transaction as the comments service will."""
    with transaction.atomic():
        comment = write_comment(doc, author, body, thread)
        services.comment_posted(comment=comment, mentioned=list(mentioned))
    return comment


def make_notification(
    recipient: Any,
    doc: Any,
    *,
    kind: str = Kind.MENTION,
    summary: str = "Priya Shah mentioned you on minutes.txt",
    key: str = "",
    created_at: datetime | None = None,
    target_url: str | None = None,
) -> Notification:
    return Notification.objects.create(
        recipient=recipient,
        workspace_id=doc.workspace_id,
        kind=kind,
        document=doc,
        target_url=target_url or reverse("document_detail", args=[doc.workspace_id, doc.pk]),
        summary=summary,
        excerpt="Can you check the agency figure?",
        dedupe_key=key or f"test:{Notification.objects.count()}:{recipient.pk}",
        created_at=created_at or timezone.now(),
    )
