"""Reading comments as a person who can see the document sees them."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch

from commonroom.comments.models import Comment
from commonroom.core.exceptions import NotFound
from commonroom.documents.selectors import DocumentAccess
from commonroom.workspaces.selectors import parse_uuid


def document_threads(*, doc_access: DocumentAccess) -> list[Comment]:
    """Every thread on the document, on any version, oldest first, each with its replies (as
    ``thread_replies``): three queries however many there are."""
    replies = Comment.objects.select_related("author", "version").order_by("created_at")
    return list(
        Comment.objects.filter(document=doc_access.document, thread__isnull=True)
        .select_related("author", "version", "resolved_by")
        .prefetch_related(Prefetch("replies", queryset=replies, to_attr="thread_replies"))
        .order_by("created_at")
    )


def comment_get(*, doc_access: DocumentAccess, comment_id: Any) -> Comment:
    comment = (
        Comment.objects.select_related("version", "author")
        .filter(pk=parse_uuid(comment_id), document=doc_access.document)
        .first()
    )
    if comment is None:
        raise NotFound()
    return comment
