"""Reading comments as a person who can see the document sees them."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch

from commonroom.comments.models import Comment
from commonroom.comments.permissions import comment_abilities
from commonroom.core.exceptions import NotFound
from commonroom.documents.selectors import DocumentAccess
from commonroom.workspaces.selectors import parse_uuid


def _threads(doc_access: DocumentAccess) -> Any:
    replies = (
        Comment.objects.select_related("author", "version")
        .prefetch_related("mentioned")
        .order_by("created_at")
    )
    return (
        Comment.objects.filter(document=doc_access.document, thread__isnull=True)
        .select_related("author", "version", "resolved_by")
        .prefetch_related(
            "mentioned", Prefetch("replies", queryset=replies, to_attr="thread_replies")
        )
        .order_by("created_at")
    )


def document_threads(*, doc_access: DocumentAccess) -> list[Comment]:
    """Every thread on the document, on any version, oldest first, each with its replies (as
    ``thread_replies``): five queries however many there are."""
    return list(_threads(doc_access))


def thread_get(*, doc_access: DocumentAccess, comment_id: Any) -> Comment:
    """The thread that ``comment_id`` starts (or, for a reply, belongs to), with its replies."""
    pk = parse_uuid(comment_id)
    root_id = (
        Comment.objects.filter(pk=pk, document=doc_access.document)
        .values_list("thread_id", flat=True)
        .first()
    )
    if root_id is None and not Comment.objects.filter(pk=pk, document=doc_access.document).exists():
        raise NotFound()
    thread = _threads(doc_access).filter(pk=root_id or pk).first()
    if thread is None:
        raise NotFound()
    return thread


def with_abilities(
    threads: list[Comment], *, doc_access: DocumentAccess, user: Any
) -> list[Comment]:
    """Each comment of ``threads`` (and of their replies) with what ``user`` may do to it, as
    ``can`` (a dict of :func:`comment_abilities`)."""
    for root in threads:
        for comment in [root, *getattr(root, "thread_replies", [])]:
            comment.can = comment_abilities(doc_access, comment, user)
    return threads


def comment_get(*, doc_access: DocumentAccess, comment_id: Any) -> Comment:
    comment = (
        Comment.objects.select_related("version", "author")
        .filter(pk=parse_uuid(comment_id), document=doc_access.document)
        .first()
    )
    if comment is None:
        raise NotFound()
    return comment


def anchored_blocks(*, doc_access: DocumentAccess, version_id: Any) -> dict[str, list[str]]:
    """The open threads started on ``version_id`` at a passage of its preview, by block id
    (``"p-12"``): each block's thread ids, oldest first. One query."""
    rows = (
        Comment.objects.filter(
            document=doc_access.document,
            version_id=version_id,
            thread__isnull=True,
            deleted_at__isnull=True,
            resolved_at__isnull=True,
            anchor_position__isnull=False,
        )
        .order_by("created_at")
        .values_list("pk", "anchor_position")
    )
    blocks: dict[str, list[str]] = {}
    for pk, position in rows:
        block = position.get("block") if isinstance(position, dict) else None
        if isinstance(block, str):
            blocks.setdefault(block, []).append(str(pk))
    return blocks
